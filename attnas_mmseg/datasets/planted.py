"""Planted-signal tasks: data whose right architecture is known (issue 16).

Both write the demo's street scenes (:func:`.synthetic.render_scene`) in the
Cityscapes layout, seeded, small enough for a CPU search:

* ``harmful``: the demo's data as it is (:func:`.synthetic.generate`;
  trainIds road 0, sidewalk 1, building 2, vegetation 8, sky 10, person 11,
  car 13). What is known is
  in the candidates: the noise candidates (``attnas_mmseg/ops/noise.py``)
  are never right, so a search must rank them last.
* ``needed``: plain scenes whose only difficulty is a global cue every
  label depends on. Light grey shapes (1-3 ellipses and rectangles) on a
  dark grey textured ground: which pixels are shape and which ground is
  plain from the pixel's neighbourhood. A few small red and blue squares
  are scattered over the image, one colour outnumbering the other by
  :data:`MAJORITY_MARGIN`; under a red majority ground and shape take
  trainIds 0 and 1, under a blue one 2 and 3 (:data:`NEEDED_LABELS`). No
  window smaller than the image decides the majority (it sees only some of
  the squares), a global average does: :data:`NEEDED_ATTENTION`, Table 1's
  Att13 (SE: global pooling, two FCs, a channel gate), sees it from the
  head's feature and keeps each pixel's own feature; Att1 (the pooled
  vector broadcast) carries it but replaces the local feature unless a
  local attention is beside it. The squares' pixels are ignored (255).
  (Version 1 drew the cue on the demo's street scenes with 7 classes a
  colour: standalone networks reached 13-24 mIoU with or without Att13 at
  the premise's budget, the scene itself being the hard part, so the cue's
  gap was lost in it; version 2 makes the scene trivial. With the head on
  MobileNetV2's last stage, whose receptive field (~460 px) covers the
  64x128 image 3.6 times over, convolutions alone read the cue (79.1 / 42.9
  mIoU without Att13, 57.2 / 33.3 with), so ``configs/planted/``'s needed
  task puts the head on stage 3 (receptive field 59 px): there Att13 is
  needed, 60.4 / 95.3 mIoU with it against 35.3 / 38.5 without, seeds
  0 / 1, ``docs/results/planted/``.)

The premise (a network with the needed attention beats the same one without
it; one holding a noise candidate loses to the same one without it) is
measured, not assumed: ``benchmarks/planted_signal.py --stages premise``.

CLI::

    python -m attnas_mmseg.datasets.planted --task needed \\
        --out data/planted_needed --num-train 96 --num-val 32 \\
        --height 64 --width 128 --seed 0
"""
import argparse
import os
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from .synthetic import (IGNORE, WRITERS, smooth_noise, check_args, generate,
                        write_dataset)

TASKS = ('harmful', 'needed')
#: The attention (Table 1 id) the ``needed`` task's labels cannot do without.
NEEDED_ATTENTION = 13
#: Table 1's candidates that average the whole feature map and so can carry
#: the cue: Att1 (the pooled vector, broadcast) and Att13; the premise
#: measures each beside Att6.
GLOBAL_ATTENTIONS = (1, 13)
#: How many more squares the majority colour has than the other.
MAJORITY_MARGIN = 2
#: Squares of the majority colour: drawn uniformly from this range.
MAJORITY_COUNTS = (3, 5)
#: RGB of the two cue colours, saturated (scene colours rarely are).
CUE_COLOURS: Dict[str, Tuple[int, int, int]] = {
    'red': (235, 25, 25), 'blue': (25, 25, 235)}
#: The ``needed`` scenes' classes.
SCENE_CLASSES = ('ground', 'shape')
#: Cityscapes trainIds of the scene classes under each majority colour.
NEEDED_LABELS: Dict[str, Tuple[int, ...]] = {'red': (0, 1), 'blue': (2, 3)}


def _lut(ids: Sequence[int]) -> np.ndarray:
    lut = np.full(256, IGNORE, np.uint8)
    lut[:len(ids)] = ids
    return lut


def _place(rng: np.random.Generator, count: int, size: int, h: int,
           w: int) -> list:
    """``count`` top-left corners of ``size`` squares that do not touch."""
    corners: list = []
    for _ in range(1000 * count):
        if len(corners) == count:
            break
        y, x = int(rng.integers(0, h - size)), int(rng.integers(0, w - size))
        if all(abs(y - a) > size or abs(x - b) > size for a, b in corners):
            corners.append((y, x))
    if len(corners) < count:
        raise ValueError(f'height/width: {h}x{w} has no room for {count} '
                         f'squares of {size} pixels')
    return corners


def render_shapes(rng: np.random.Generator, h: int,
                  w: int) -> Tuple[np.ndarray, np.ndarray]:
    """Light grey shapes on dark grey ground: (RGB image (h, w, 3) uint8,
    scene classes (h, w) uint8, indices into :data:`SCENE_CLASSES`)."""
    ground = 70 + 15 * smooth_noise(rng, h, w, max(4, w // 8))
    img = np.repeat(ground[..., None], 3, axis=2)
    scene = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
        ry = int(h * rng.uniform(0.12, 0.3))
        rx = int(ry * rng.uniform(0.7, 2.0))
        if rng.random() < 0.5:
            cv2.ellipse(scene, (cx, cy), (rx, ry), 0, 0, 360, 1, -1)
        else:
            cv2.rectangle(scene, (cx - rx, cy - ry), (cx + rx, cy + ry), 1,
                          -1)
    img[scene == 1] = rng.uniform(170, 200)
    img += rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), scene


def draw_needed(rng: np.random.Generator, h: int,
                w: int) -> Tuple[np.ndarray, np.ndarray, str]:
    """One ``needed`` image: (RGB image, Cityscapes trainIds, majority
    colour)."""
    img, scene = render_shapes(rng, h, w)
    majority = 'red' if rng.random() < 0.5 else 'blue'
    minority = 'blue' if majority == 'red' else 'red'
    n_major = int(rng.integers(MAJORITY_COUNTS[0], MAJORITY_COUNTS[1] + 1))
    colours = [majority] * n_major + [minority] * (n_major - MAJORITY_MARGIN)
    label = _lut(NEEDED_LABELS[majority])[scene]
    size = max(3, round(h / 16))
    for colour, (y, x) in zip(colours,
                              _place(rng, len(colours), size, h, w)):
        img[y:y + size, x:x + size] = CUE_COLOURS[colour]
        label[y:y + size, x:x + size] = IGNORE
    return img, label, majority


def generate_planted(task: str,
                     out_dir: str | os.PathLike,
                     num_train: int = 96,
                     num_val: int = 32,
                     height: int = 64,
                     width: int = 128,
                     seed: int = 0,
                     overwrite: bool = False) -> Path:
    """Write the ``task`` set (module doc) to ``out_dir`` in the Cityscapes
    layout; return its path. Same arguments, byte-identical files; the
    folder rules of :func:`.synthetic.generate` (a manifest records the
    arguments).

    Raises:
        ValueError: ``task`` not in :data:`TASKS`, counts or sizes out of
            range.
        FileExistsError: ``out_dir`` holds something else.
    """
    if task not in TASKS:
        raise ValueError(f'task must be one of {TASKS}, got {task!r}')
    if task == 'harmful':
        return generate('cityscapes', out_dir, num_train, num_val, height,
                        width, seed, overwrite)
    check_args('cityscapes', num_train, num_val, height, width, seed)
    manifest = dict(
        generator='attnas_mmseg.datasets.planted', version=2, task=task,
        layout='cityscapes', num_train=int(num_train), num_val=int(num_val),
        height=int(height), width=int(width), seed=int(seed),
        classes={colour: dict(zip(SCENE_CLASSES, labels))
                 for colour, labels in NEEDED_LABELS.items()},
        ignore_index=IGNORE, needed_attention=NEEDED_ATTENTION,
        majority_margin=MAJORITY_MARGIN,
        majority_counts=list(MAJORITY_COUNTS))
    return write_dataset(out_dir, manifest, WRITERS['cityscapes'],
                         lambda rng: draw_needed(rng, height, width)[:2],
                         overwrite)


def quadrant_batch(batch: int = 2, size: Tuple[int, int] = (32, 64),
                   num_classes: int = 4,
                   seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """An in-memory learnable batch: every pixel's class is its image
    quadrant's, drawn per image, and the image is that class's colour plus
    noise. Returns images (B, 3, H, W) and labels (B, H, W)."""
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    labels = torch.empty(batch, h, w, dtype=torch.long)
    palette = torch.randn(num_classes, 3, generator=gen)
    for b in range(batch):
        classes = torch.randint(num_classes, (2, 2), generator=gen)
        labels[b] = classes.repeat_interleave(h // 2, 0).repeat_interleave(
            w // 2, 1)
    images = palette[labels].permute(0, 3, 1, 2) + 0.5 * torch.randn(
        batch, 3, h, w, generator=gen)
    return images, labels


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--task', choices=TASKS, required=True)
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--num-train', type=int, default=96)
    parser.add_argument('--num-val', type=int, default=32)
    parser.add_argument('--height', type=int, default=64)
    parser.add_argument('--width', type=int, default=128)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a set made with other arguments')
    args = parser.parse_args(argv)
    out = generate_planted(args.task, args.out, args.num_train, args.num_val,
                           args.height, args.width, args.seed,
                           args.overwrite)
    print(f'planted {args.task} dataset in {out}')


if __name__ == '__main__':
    main()
