"""A tiny search config file and a search checkpoint for the subnet tests."""
from pathlib import Path
from typing import Tuple

import torch
from mmengine.config import Config

from ..engine.search_cfg import search_cfg
from ..export.test_subnet import randomize

#: A subnet of the tests' space, and another one.
SPEC_A = ('mv2(1,2,3,4,5,6,1,2,3,4,5,6,6,5,4,3,2) '
          'AttSet1(2,5)+AttSet2(1,7)')
SPEC_B = 'mv2(' + ','.join(['6'] * 17) + ') AttSet1(3,4,8,12)'
#: MMSeg's test pipeline order: the label is loaded after the resize, at
#: the original size (64x128 here: the resize changes nothing).
TEST_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 64), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]


def val_dataloader(root: Path) -> dict:
    return dict(
        batch_size=2, num_workers=0, persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(type='CityscapesDataset', data_root=str(root),
                     data_prefix=dict(img_path='leftImg8bit/val',
                                      seg_map_path='gtFine/val'),
                     pipeline=TEST_PIPELINE))


def write_search(root: Path, out: Path, augment: bool = False,
                 seed: int = 0) -> Tuple[Path, Path]:
    """(config file, checkpoint): the tests' search config on the tiny
    Cityscapes set with a ``val_dataloader``, and a darts supernet's weights
    with BN statistics and affine parameters away from their initial
    values and a classifier of unit-scale weights. ``augment``: random flips and photometric distortion in the
    search halves' pipeline."""
    out.mkdir(parents=True, exist_ok=True)
    cfg = Config(dict(search_cfg(root, out / 'work', augment=augment),
                      val_dataloader=val_dataloader(root),
                      val_evaluator=dict(type='IoUMetric',
                                         iou_metrics=['mIoU'])))
    path = out / 'search.py'
    cfg.dump(str(path))
    from attnas_mmseg.models import build_segmentor
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        supernet = randomize(build_segmentor(cfg), seed)
        # unit-scale classifier weights: the predicted class varies from
        # pixel to pixel, so the metrics see every change of the network
        # (MMSeg's std 0.01 gives one class everywhere, often absent)
        with torch.no_grad():
            supernet.decode_head.conv_seg.weight.normal_()
    ckpt = out / 'search.pth'
    torch.save({'state_dict': supernet.state_dict()}, ckpt)
    return path, ckpt
