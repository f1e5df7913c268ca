"""Loading transforms whose errors name the corrupt file (issue 11).

MMSeg's ``LoadImageFromFile`` (mmcv's) and ``LoadAnnotations`` fail on an
empty or truncated file with the decoder's words and no file name: cv2's
``(-215:Assertion failed) !buf.empty()``, mmcv's ``failed to load image``
assertion, PIL's ``cannot identify image file <_io.BytesIO ...>`` or ``image
file is truncated``. In a 3000-image dataset read by dataloader workers that
leaves the user searching.

:class:`CheckedLoadImageFromFile` and :class:`CheckedLoadAnnotations` are the
stock transforms unchanged on every file they can read (same arrays, same
keys, same arguments). Only when loading fails do they read the file again
and, if the file itself is the problem, raise a ``ValueError`` naming it and
saying what is wrong: empty, truncated (a PNG without its ``IEND`` chunk, a
JPEG without its end-of-image marker), not an image at all, or corrupt. A
missing file keeps fileio's ``FileNotFoundError`` (it names the path), and a
failure the file is not to blame for is re-raised as it was.

They are registered in MMSeg's transform registry under the stock names, so
every config that says ``dict(type='LoadImageFromFile')`` or
``dict(type='LoadAnnotations')`` in MMSeg's scope (all of ours, and MMSeg's own
dataset configs such as ``mmseg::_base_/datasets/cityscapes.py``) gets them
once ``attnas_mmseg`` is imported, without a config change. ``LoadImageFromFile``
lives in mmcv's parent registry, so the MMSeg-scope entry shadows it without
replacing anything; MMSeg's own ``LoadAnnotations`` entry is replaced
(``force=True``) by its subclass. Outside MMSeg's scope nothing changes.
"""
import io
from typing import Optional

from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS
from PIL import Image

#: Leading bytes of the formats a segmentation dataset stores.
SIGNATURES = (
    (b'\x89PNG\r\n\x1a\n', 'PNG'),
    (b'\xff\xd8\xff', 'JPEG'),
    (b'BM', 'BMP'),
    (b'GIF8', 'GIF'),
    (b'II*\x00', 'TIFF'),
    (b'MM\x00*', 'TIFF'),
    (b'RIFF', 'WebP'),
)
HINT = 'replace the file or remove it from the dataset'


def image_file_problem(data: bytes) -> Optional[str]:
    """What is wrong with the bytes of an image file, or None if nothing is
    (PIL decodes it completely)."""
    if not data:
        return 'is empty (0 bytes)'
    fmt = next((name for sig, name in SIGNATURES if data.startswith(sig)),
               None)
    if fmt is None:
        names = ', '.join(dict.fromkeys(name for _, name in SIGNATURES))
        return (f'is not an image: its {len(data)} bytes start with '
                f'{data[:8]!r}, not a {names} signature')
    if fmt == 'PNG' and b'IEND' not in data[-64:]:
        return (f'is truncated: {len(data)} bytes, the PNG ends before its '
                'IEND chunk')
    if fmt == 'JPEG' and not data.rstrip(b'\x00').endswith(b'\xff\xd9'):
        return (f'is truncated: {len(data)} bytes, the JPEG ends before its '
                'end-of-image marker')
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except Exception as err:  # PIL raises OSError, SyntaxError, ValueError..
        return f'is a corrupt {fmt} file ({len(data)} bytes; PIL: {err})'
    return None


def check_image_file(path: str, kind: str,
                     backend_args: Optional[dict] = None) -> None:
    """Raise a ValueError naming ``path`` (a ``kind`` file) if the file is
    empty, truncated, not an image or corrupt; return if it reads fine or
    cannot be read at all (the caller's own error then stands)."""
    try:
        data = fileio.get(path, backend_args=backend_args)
    except Exception:
        return
    problem = image_file_problem(data)
    if problem is not None:
        raise ValueError(f'{kind} {path} {problem}; {HINT}')


@TRANSFORMS.register_module(name='LoadImageFromFile')
class CheckedLoadImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile``; a corrupt image file is named in the
    error (module docstring). Arguments are mmcv's."""

    def transform(self, results: dict) -> Optional[dict]:
        try:
            return super().transform(results)
        except Exception as err:  # includes mmcv's `assert img is not None`
            try:
                check_image_file(results['img_path'], 'image (img_path)',
                                 self.backend_args)
            except ValueError as named:
                raise named from err
            raise


@TRANSFORMS.register_module(name='LoadAnnotations', force=True)
class CheckedLoadAnnotations(LoadAnnotations):
    """MMSeg's ``LoadAnnotations``; a corrupt label map is named in the error
    (module docstring). Arguments are MMSeg's."""

    def _load_seg_map(self, results: dict) -> None:
        try:
            super()._load_seg_map(results)
        except Exception as err:
            try:
                check_image_file(results['seg_map_path'],
                                 'label map (seg_map_path)',
                                 self.backend_args)
            except ValueError as named:
                raise named from err
            raise
