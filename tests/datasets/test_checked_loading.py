"""Corrupt image and label files are named in the error (issue 11)."""
import copy
import io
import re
from pathlib import Path

import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile as MmcvLoadImageFromFile
from mmengine.config import Config
from mmseg.datasets.transforms import LoadAnnotations as MmsegLoadAnnotations
from mmseg.registry import DATASETS, TRANSFORMS
from PIL import Image

from attnas_mmseg.datasets import (CheckedLoadAnnotations,
                                   CheckedLoadImageFromFile)
from attnas_mmseg.datasets.synthetic import generate

REPO = Path(__file__).resolve().parents[2]
SEARCH_DATA = REPO / 'configs/_base_/datasets/cityscapes_search_224x448.py'


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format='PNG')
    return buffer.getvalue()


RGB = np.random.RandomState(0).randint(0, 256, (24, 32, 3), np.uint8)
LABELS = np.random.RandomState(1).randint(0, 19, (24, 32), np.uint8)


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(RGB).save(buffer, format='JPEG')
    return buffer.getvalue()


# (file content, what the error says); every content is a real file on disk
CORRUPT = {
    'empty': (b'', 'is empty (0 bytes)'),
    'truncated PNG': (png_bytes(RGB)[:300], 'is truncated'),
    'PNG without its last chunk': (png_bytes(RGB)[:-12], 'is truncated'),
    'PNG signature only': (png_bytes(RGB)[:8], 'is truncated'),
    'truncated JPEG': (jpeg_bytes()[:400], 'is truncated'),
    'text': (b'not an image at all', 'is not an image'),
    'PNG with a corrupt body': (
        png_bytes(RGB)[:40] + b'\x00' * 200 + png_bytes(RGB)[-12:],
        'is a corrupt PNG file'),
}


def test_stock_names_resolve_to_the_checked_transforms():
    assert TRANSFORMS.get('LoadImageFromFile') is CheckedLoadImageFromFile
    assert TRANSFORMS.get('LoadAnnotations') is CheckedLoadAnnotations
    assert issubclass(CheckedLoadImageFromFile, MmcvLoadImageFromFile)
    assert issubclass(CheckedLoadAnnotations, MmsegLoadAnnotations)


def load_results(img_path: Path, seg_path: Path) -> dict:
    return dict(img_path=str(img_path), seg_map_path=str(seg_path),
                reduce_zero_label=False, seg_fields=[],
                label_map={3: 255})


def test_valid_files_load_exactly_as_the_stock_transforms(tmp_path):
    img, seg = tmp_path / 'a.png', tmp_path / 'a_labels.png'
    img.write_bytes(png_bytes(RGB))
    seg.write_bytes(png_bytes(LABELS))
    for ours, stock in ((TRANSFORMS.build(dict(type='LoadImageFromFile')),
                         MmcvLoadImageFromFile()),
                        (TRANSFORMS.build(dict(type='LoadAnnotations')),
                         MmsegLoadAnnotations())):
        a = ours(load_results(img, seg))
        b = stock(load_results(img, seg))
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], np.ndarray):
                assert a[key].dtype == b[key].dtype
                assert np.array_equal(a[key], b[key])
            else:
                assert a[key] == b[key]


@pytest.mark.parametrize('case', sorted(CORRUPT))
@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_corrupt_image_is_named(tmp_path, case, backend):
    content, fragment = CORRUPT[case]
    if case == 'PNG without its last chunk' and backend == 'pillow':
        pytest.skip('PIL reads it: its pixels are complete')
    bad = tmp_path / 'frame_0001.png'
    bad.write_bytes(content)
    load = TRANSFORMS.build(dict(type='LoadImageFromFile',
                                 imdecode_backend=backend))
    with pytest.raises(ValueError, match=re.escape(fragment)) as err:
        load(load_results(bad, bad))
    assert f'image (img_path) {bad}' in str(err.value)
    assert bad.read_bytes() == content


@pytest.mark.parametrize('case', sorted(CORRUPT))
def test_corrupt_label_map_is_named(tmp_path, case):
    content, fragment = CORRUPT[case]
    if case == 'PNG without its last chunk':
        pytest.skip('PIL, MMSeg\'s label decoder, reads it: pixels complete')
    bad = tmp_path / 'frame_0001_labelIds.png'
    bad.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(fragment)) as err:
        TRANSFORMS.build(dict(type='LoadAnnotations'))(
            load_results(bad, bad))
    assert f'label map (seg_map_path) {bad}' in str(err.value)


def test_missing_file_keeps_the_error_that_names_it(tmp_path):
    missing = tmp_path / 'missing.png'
    for cfg in (dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')):
        with pytest.raises(FileNotFoundError, match='missing.png'):
            TRANSFORMS.build(cfg)(load_results(missing, missing))


def test_ignore_empty_still_skips(tmp_path):
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    load = TRANSFORMS.build(dict(type='LoadImageFromFile', ignore_empty=True))
    assert load(load_results(empty, empty)) is None


def test_failure_not_caused_by_the_file_is_left_alone(tmp_path):
    img = tmp_path / 'a.png'
    img.write_bytes(png_bytes(RGB))
    load = TRANSFORMS.build(dict(type='LoadAnnotations'))
    results = load_results(img, img)
    del results['seg_fields']  # MMSeg's own KeyError, not the file's fault
    with pytest.raises(KeyError, match='seg_fields'):
        load(results)


@pytest.fixture
def cityscapes_copy(tmp_path) -> Path:
    return generate('cityscapes', tmp_path / 'cityscapes', num_train=2,
                    num_val=1, height=32, width=64, seed=0)


@pytest.mark.parametrize('target,kind', [('img_path', 'image'),
                                         ('seg_map_path', 'label map')])
@pytest.mark.parametrize('corruption', ['empty', 'truncated PNG'])
def test_shipped_cityscapes_config_names_the_corrupt_file(
        cityscapes_copy, target, kind, corruption):
    """The search config's CityscapesDataset with its stock pipeline."""
    cfg = copy.deepcopy(Config.fromfile(str(SEARCH_DATA)).train_set)
    cfg.data_root = str(cityscapes_copy)
    dataset = DATASETS.build(cfg)
    assert dataset[0]['inputs'].shape[0] == 3  # loads while intact
    bad = Path(dataset.get_data_info(0)[target])
    bad.write_bytes(CORRUPT[corruption][0])
    with pytest.raises(ValueError, match=f'{kind} .*{bad.name}'):
        dataset[0]
