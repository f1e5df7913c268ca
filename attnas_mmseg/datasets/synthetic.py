"""A small, learnable street-scene segmentation set written in real on-disk layouts.

Every image is a seeded street scene: sky on top, a skyline of buildings and trees,
a road converging to a vanishing point, sidewalks beside it, cars on the road,
people on the sidewalks and the ego vehicle's bonnet (ignored) at the bottom. Classes
carry textures (windows, tiles, lane marks, foliage) and every image gets its own
colour jitter and noise: an overcast sky is as grey as a facade and cars come in any
colour, so a single pixel's colour does not give its class away, while position and
context do. Measured on 48/16 images of 128x256 (seed 0, two CPU cores): a per-pixel
colour MLP plateaus at 0.48 val mIoU, a 70k-parameter five-layer CNN reaches 0.87
after two minutes of training.

Layouts (``generate(layout=...)``), each loadable by the matching MMSeg dataset:

* ``cityscapes``: ``leftImg8bit/{train,val}/<city>/<city>_000000_NNNNNN_leftImg8bit.png``
  and ``gtFine/.../<city>_000000_NNNNNN_gtFine_labelTrainIds.png`` (trainIds road 0,
  sidewalk 1, building 2, vegetation 8, sky 10, person 11, car 13; 255 ignore) for
  ``CityscapesDataset``.
* ``camvid``: SegNet's ``train/``, ``trainannot/``, ``val/``, ``valannot/``,
  ``train.txt``, ``val.txt`` (labels 0-10, 11 void) for :class:`CamVidDataset`.
* ``voc``: ``JPEGImages/*.jpg``, palette-PNG ``SegmentationClass/*.png`` with 255
  object boundaries, ``ImageSets/Segmentation/{train,val}.txt`` for
  ``PascalVOCDataset`` (background 0, car 7, person 15, pottedplant 16 for trees).

CLI::

    python -m attnas_mmseg.datasets.synthetic --layout cityscapes \\
        --out data/synthetic_cityscapes --num-train 48 --num-val 16 \\
        --height 128 --width 256 --seed 0
"""
import argparse
import functools
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

# Scene classes, in drawing terms; each layout maps them to its own label ids.
CLASSES = ('road', 'sidewalk', 'building', 'vegetation', 'sky', 'person', 'car')
ROAD, SIDEWALK, BUILDING, VEGETATION, SKY, PERSON, CAR = range(len(CLASSES))
IGNORE = 255

# layout -> (label id of each scene class, label id of ignored pixels)
LAYOUT_LABELS: Dict[str, Tuple[Tuple[int, ...], int]] = {
    'cityscapes': ((0, 1, 2, 8, 10, 11, 13), 255),
    'camvid': ((3, 4, 1, 5, 0, 9, 8), 11),
    'voc': ((0, 0, 0, 16, 0, 15, 7), 255),
}
LAYOUTS = tuple(LAYOUT_LABELS)
SPLITS = ('train', 'val')
CITIES = {'train': ('aachen', 'bremen'), 'val': ('frankfurt', )}
MANIFEST = 'manifest.json'
MIN_SIZE = 32


def smooth_noise(rng: np.random.Generator, h: int, w: int,
                  cell: int) -> np.ndarray:
    """Noise in [-1, 1] that varies over about ``cell`` pixels: (h, w)."""
    coarse = rng.uniform(-1, 1, (h // cell + 2, w // cell + 2))
    return cv2.resize(
        coarse.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)


def render_scene(rng: np.random.Generator, h: int,
                  w: int) -> Tuple[np.ndarray, np.ndarray]:
    """Draw one scene.

    Returns:
        tuple: RGB image (h, w, 3) uint8 and scene-class labels (h, w) uint8
        (indices into :data:`CLASSES`, :data:`IGNORE` on the ego vehicle).
    """
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    label = np.full((h, w), SKY, np.uint8)
    horizon = int(h * rng.uniform(0.38, 0.5))

    # Sky: blue or overcast (overcast is facade-grey: only its place tells it apart).
    sky = (rng.uniform([110, 150, 200], [150, 190, 245])
           if rng.random() < 0.6 else rng.uniform(170, 215, 3))
    img[:] = sky * (1 + 0.25 * yy / h)[..., None]
    img += 12 * smooth_noise(rng, h, w, max(4, w // 8))[..., None]

    # Skyline: building columns reaching down to the bottom (the ground covers them).
    x0 = 0
    while x0 < w:
        x1 = min(w, x0 + int(rng.integers(w // 10, w // 4 + 1)))
        top = int(horizon * rng.uniform(0.1, 0.85))
        label[top:, x0:x1] = BUILDING
        facade = rng.uniform(70, 170) + rng.uniform(-25, 25, 3)
        px, py = int(rng.integers(5, 10)), int(rng.integers(6, 11))
        window = (((xx[top:, x0:x1] - x0) % px < px * 0.5)
                  & ((yy[top:, x0:x1] - top) % py < py * 0.5))
        img[top:, x0:x1] = facade
        img[top:, x0:x1][window] = facade * 0.45 + [10, 15, 25]
        x0 = x1

    # Trees: crowns of foliage on trunks standing on the horizon.
    for _ in range(int(rng.integers(1, 4))):
        cx = int(rng.uniform(0, w))
        r = int(horizon * rng.uniform(0.2, 0.45)) + 2
        cy = horizon - int(r * rng.uniform(0.8, 1.5))
        cv2.ellipse(label, (cx, cy), (r, int(r * 0.9)), 0, 0, 360,
                    VEGETATION, -1)
        cv2.rectangle(label, (cx - max(1, r // 6), cy),
                      (cx + max(1, r // 6), horizon), VEGETATION, -1)
    foliage = rng.uniform([40, 80, 20], [90, 140, 60])
    leaves = (1 + 0.3 * smooth_noise(rng, h, w, 2) +
              0.2 * smooth_noise(rng, h, w, 6))[..., None]
    tree = label == VEGETATION
    img[tree] = (foliage * leaves)[tree]

    # Ground: sidewalks in a wide trapezoid, the road in a narrower one inside it.
    vx = w * rng.uniform(0.35, 0.65)
    half = w * rng.uniform(0.3, 0.5)
    shift = w * rng.uniform(-0.15, 0.15)
    for cls, scale in ((SIDEWALK, 1.9), (ROAD, 1.0)):
        poly = np.array([[vx - 1, horizon], [vx + 1, horizon],
                         [vx + shift + scale * half, h],
                         [vx + shift - scale * half, h]], np.int32)
        cv2.fillPoly(label, [poly], cls)
    depth = np.clip((yy - horizon) / (h - horizon), 0, 1)
    walk = label == SIDEWALK
    pave = rng.uniform(120, 175) + rng.uniform([0, -10, -20], [20, 5, 0])
    tiles = ((xx % 9 < 1) | (yy % 5 < 1))[..., None]
    img[walk] = (pave - 30 * tiles)[walk]
    road = label == ROAD
    asphalt = rng.uniform(60, 105) + rng.uniform(-8, 8, 3)
    centre = vx + shift * depth
    dash = (np.abs(xx - centre) < 0.5 + 2 * depth) & (
        np.floor(np.log1p(np.maximum(yy - horizon, 0)) * 5) % 2 == 0)
    img[road] = asphalt + 8 * smooth_noise(rng, h, w, 3)[road, None]
    img[road & dash] = rng.uniform(200, 240)

    # Cars on the road, far ones first so near ones occlude them.
    feet = sorted(rng.uniform(0.25, 0.95, int(rng.integers(1, 4))))
    for d in feet:
        yb = horizon + d * (h - horizon)
        cw = max(6.0, 0.9 * d * half)
        ch = 0.65 * cw
        lo, hi = vx + shift * d - d * half, vx + shift * d + d * half
        cx = rng.uniform(lo + cw / 2, max(lo + cw / 2, hi - cw / 2) + 1)
        paint = rng.uniform(0, 255, 3)
        body = np.array([[cx - cw / 2, yb], [cx + cw / 2, yb],
                         [cx + cw / 2, yb - 0.55 * ch],
                         [cx - cw / 2, yb - 0.55 * ch]], np.int32)
        cabin = np.array([[cx - 0.45 * cw, yb - 0.55 * ch],
                          [cx + 0.45 * cw, yb - 0.55 * ch],
                          [cx + 0.3 * cw, yb - ch], [cx - 0.3 * cw, yb - ch]],
                         np.int32)
        glass = np.array([[cx - 0.38 * cw, yb - 0.6 * ch],
                          [cx + 0.38 * cw, yb - 0.6 * ch],
                          [cx + 0.26 * cw, yb - 0.92 * ch],
                          [cx - 0.26 * cw, yb - 0.92 * ch]], np.int32)
        cv2.fillPoly(label, [body, cabin], CAR)
        cv2.fillPoly(img, [body, cabin], paint.tolist())
        cv2.fillPoly(img, [glass], (40, 50, 70))
        for wx in (cx - 0.3 * cw, cx + 0.3 * cw):
            cv2.circle(img, (int(wx), int(yb)), max(1, int(0.12 * cw)),
                       (15, 15, 15), -1)
            cv2.circle(label, (int(wx), int(yb)), max(1, int(0.12 * cw)),
                       CAR, -1)

    # People standing on sidewalk pixels, far ones first.
    ys, xs = np.nonzero((label == SIDEWALK) & (yy > horizon + 2))
    if len(ys):
        picks = rng.choice(len(ys), int(rng.integers(1, 5)))
        for k in sorted(picks, key=lambda k: ys[k]):
            d = (ys[k] - horizon) / (h - horizon)
            ph = max(6.0, 0.7 * d * (h - horizon))
            pw = 0.32 * ph
            fx, fy = float(xs[k]), float(ys[k])
            parts = (((fx - pw / 2, fy - 0.45 * ph, fx + pw / 2, fy),
                      rng.uniform(0, 255, 3)),
                     ((fx - pw / 2, fy - 0.8 * ph, fx + pw / 2,
                       fy - 0.45 * ph), rng.uniform(0, 255, 3)))
            for (a, b, c, e), colour in parts:
                cv2.rectangle(img, (int(a), int(b)), (int(c), int(e)),
                              colour.tolist(), -1)
                cv2.rectangle(label, (int(a), int(b)), (int(c), int(e)),
                              PERSON, -1)
            head = (int(fx), int(fy - 0.9 * ph))
            radius = max(1, int(0.12 * ph))
            cv2.circle(img, head, radius,
                       rng.uniform([150, 100, 80], [230, 180, 150]).tolist(),
                       -1)
            cv2.circle(label, head, radius, PERSON, -1)

    # The ego vehicle's bonnet: ignored, as in Cityscapes and CamVid.
    ego = max(2, round(0.04 * h))
    label[h - ego:] = IGNORE
    img[h - ego:] = rng.uniform(20, 50)

    # Per-image colour jitter and sensor noise.
    img = img * rng.uniform(0.75, 1.25) * rng.uniform(0.9, 1.1, 3)
    img += rng.normal(0, rng.uniform(4, 12), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), label


@functools.lru_cache(maxsize=1)
def _voc_palette() -> Tuple[int, ...]:
    """The PASCAL VOC colour map: 256 RGB triplets, flattened."""
    ids = np.arange(256)
    palette = np.zeros((256, 3), np.int64)
    for bit in range(8):
        for channel in range(3):
            palette[:, channel] |= ((ids >> (3 * bit + channel)) & 1) << (7 - bit)
    return tuple(palette.flatten().tolist())


def _write_cityscapes(root: Path, split: str, i: int, img: np.ndarray,
                      label: np.ndarray) -> None:
    city = CITIES[split][i % len(CITIES[split])]
    stem = f'{city}_000000_{i:06d}'
    for sub, name, array in (
            ('leftImg8bit', f'{stem}_leftImg8bit.png', img[..., ::-1]),
            ('gtFine', f'{stem}_gtFine_labelTrainIds.png', label)):
        folder = root / sub / split / city
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / name), array)


def _write_camvid(root: Path, split: str, i: int, img: np.ndarray,
                  label: np.ndarray) -> None:
    name = f'{split}_{i:04d}.png'
    for sub, array in ((split, img[..., ::-1]), (f'{split}annot', label)):
        (root / sub).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / sub / name), array)
    with open(root / f'{split}.txt', 'a') as f:
        f.write(f'{split}/{name} {split}annot/{name}\n')


def _write_voc(root: Path, split: str, i: int, img: np.ndarray,
               label: np.ndarray) -> None:
    stem = f'synth_{split}_{i:04d}'
    # VOC outlines every object with a band of 255.
    objects = (label != 0) & (label != IGNORE)
    kernel = np.ones((3, 3), np.uint8)
    edge = cv2.dilate(label, kernel) != cv2.erode(label, kernel)
    label = np.where(edge & cv2.dilate(objects.astype(np.uint8), kernel)
                     .astype(bool), IGNORE, label).astype(np.uint8)
    for sub in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        (root / sub).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(
        str(root / 'JPEGImages' / f'{stem}.jpg'), img[..., ::-1],
        [cv2.IMWRITE_JPEG_QUALITY, 95])
    png = Image.fromarray(label, mode='P')
    png.putpalette(list(_voc_palette()))
    png.save(root / 'SegmentationClass' / f'{stem}.png')
    with open(root / 'ImageSets/Segmentation' / f'{split}.txt', 'a') as f:
        f.write(f'{stem}\n')


WRITERS: Dict[str, Callable] = {
    'cityscapes': _write_cityscapes,
    'camvid': _write_camvid,
    'voc': _write_voc,
}


def check_args(layout: str, num_train: int, num_val: int, height: int,
               width: int, seed: int) -> None:
    """:func:`generate`'s argument checks (ValueError)."""
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    for field, value, low in (('num_train', num_train, 1),
                              ('num_val', num_val, 0),
                              ('height', height, MIN_SIZE),
                              ('width', width, MIN_SIZE), ('seed', seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f'{field} must be an int, got {value!r}')
        if value < low:
            raise ValueError(f'{field} must be >= {low}, got {value}')


def generate(layout: str,
             out_dir: str | os.PathLike,
             num_train: int,
             num_val: int,
             height: int,
             width: int,
             seed: int,
             overwrite: bool = False) -> Path:
    """Write the synthetic set to ``out_dir`` in ``layout``; return its path.

    Image ``i`` of a split depends only on ``(seed, split, i, height, width)``, so the
    same arguments give byte-identical files. ``out_dir/manifest.json`` records the
    arguments: a folder holding the same manifest is left as it is; one holding a
    different manifest, or anything else, raises ``FileExistsError`` unless
    ``overwrite`` is set, which replaces a folder this function wrote (or an empty one)
    but never deletes a foreign, non-empty folder.

    Raises:
        ValueError: ``layout`` not in :data:`LAYOUTS`, counts or sizes out of range.
        FileExistsError: ``out_dir`` holds something else.
    """
    check_args(layout, num_train, num_val, height, width, seed)
    manifest = dict(
        generator='attnas_mmseg.datasets.synthetic',
        version=1,
        layout=layout,
        num_train=int(num_train),
        num_val=int(num_val),
        height=int(height),
        width=int(width),
        seed=int(seed),
        classes=dict(zip(CLASSES, LAYOUT_LABELS[layout][0])),
        ignore_index=LAYOUT_LABELS[layout][1])
    ids, ignore = LAYOUT_LABELS[layout]
    lut = np.full(256, ignore, np.uint8)
    lut[:len(ids)] = ids

    def draw(rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
        img, label = render_scene(rng, height, width)
        return img, lut[label]

    return write_dataset(out_dir, manifest, WRITERS[layout], draw, overwrite)


def write_dataset(out_dir: str | os.PathLike, manifest: dict,
                  writer: Callable, draw: Callable[[np.random.Generator],
                                                   Tuple[np.ndarray,
                                                         np.ndarray]],
                  overwrite: bool = False) -> Path:
    """The images ``draw(rng)`` makes (RGB, label ids; ``rng`` seeded by
    ``(manifest['seed'], split, i)``), written by ``writer`` (of
    :data:`WRITERS`) under :func:`generate`'s rules for ``out_dir``."""
    out = Path(out_dir)
    existing = _read_manifest(out)
    if existing == manifest:
        return out
    if out.exists() and any(out.iterdir()):
        if existing is None:
            raise FileExistsError(
                f'{out} is not empty and has no {MANIFEST}: refusing to write '
                'a synthetic dataset into it')
        if not overwrite:
            changed = sorted(k for k in manifest
                             if existing.get(k) != manifest[k])
            raise FileExistsError(
                f'{out} holds a synthetic dataset made with other arguments '
                f'(changed: {", ".join(changed)}); pass overwrite=True '
                '(--overwrite) to replace it')

    # Build next to the target and swap in, so an interrupted run leaves no half set.
    tmp = out.with_name(f'.{out.name}.tmp{os.getpid()}')
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    counts = (manifest['num_train'], manifest['num_val'])
    for split_id, (split, num) in enumerate(zip(SPLITS, counts)):
        for i in range(num):
            rng = np.random.default_rng([manifest['seed'], split_id, i])
            img, label = draw(rng)
            writer(tmp, split, i, img, label)
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + '\n')
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def _read_manifest(out: Path) -> Optional[dict]:
    try:
        return json.loads((out / MANIFEST).read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--layout', choices=LAYOUTS, required=True)
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--num-train', type=int, default=48)
    parser.add_argument('--num-val', type=int, default=16)
    parser.add_argument('--height', type=int, default=128)
    parser.add_argument('--width', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace a synthetic set made with other arguments')
    args = parser.parse_args(argv)
    out = generate(args.layout, args.out, args.num_train, args.num_val,
                   args.height, args.width, args.seed, args.overwrite)
    print(f'synthetic {args.layout} dataset in {out}')


if __name__ == '__main__':
    main()
