"""The synthetic generator: deterministic, idempotent, loadable by MMSeg's datasets."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from attnas_mmseg.datasets.synthetic import (LAYOUT_LABELS, MANIFEST,
                                             generate, main)
from mmseg.registry import DATASETS

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
ARGS = dict(num_train=3, num_val=1, height=48, width=64)


def files(root: Path) -> dict:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob('*')) if p.is_file()
    }


@pytest.mark.parametrize('layout', sorted(LAYOUT_LABELS))
def test_same_seed_same_bytes(tmp_path, layout):
    a = files(generate(layout, tmp_path / 'a', seed=3, **ARGS))
    b = files(generate(layout, tmp_path / 'b', seed=3, **ARGS))
    c = files(generate(layout, tmp_path / 'c', seed=4, **ARGS))
    assert a == b
    assert a.keys() == c.keys() and a != c


def test_existing_set_is_kept_or_refused(tmp_path):
    out = generate('camvid', tmp_path / 'set', seed=0, **ARGS)
    before = {p: p.stat().st_mtime_ns for p in out.rglob('*')}
    assert generate('camvid', out, seed=0, **ARGS) == out
    assert {p: p.stat().st_mtime_ns for p in out.rglob('*')} == before

    with pytest.raises(FileExistsError, match='seed'):
        generate('camvid', out, seed=1, **ARGS)
    generate('camvid', out, seed=1, overwrite=True, **ARGS)
    assert json.loads((out / MANIFEST).read_text())['seed'] == 1


def test_foreign_folder_is_never_replaced(tmp_path):
    (tmp_path / 'mine.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match=MANIFEST):
        generate('voc', tmp_path, seed=0, overwrite=True, **ARGS)
    assert (tmp_path / 'mine.txt').read_text() == 'keep me'


@pytest.mark.parametrize('field,value', [
    ('layout', 'ade20k'),
    ('num_train', 0),
    ('num_val', -1),
    ('height', 8),
    ('width', 2.5),
    ('seed', -1),
])
def test_bad_arguments(tmp_path, field, value):
    kwargs = dict(layout='cityscapes', out_dir=tmp_path / 'x', seed=0, **ARGS)
    kwargs[field] = value
    with pytest.raises(ValueError, match=field):
        generate(**kwargs)
    assert not (tmp_path / 'x').exists()


def test_cli(tmp_path):
    main(['--layout', 'voc', '--out', str(tmp_path / 'voc'), '--num-train',
          '2', '--num-val', '1', '--height', '32', '--width', '48'])
    manifest = json.loads((tmp_path / 'voc' / MANIFEST).read_text())
    assert manifest['num_train'] == 2 and manifest['layout'] == 'voc'


def labels_of(dataset) -> set:
    seen = set()
    for i in range(len(dataset)):
        gt = dataset[i]['data_samples'].gt_sem_seg.data
        seen |= set(gt.unique().tolist())
    return seen


@pytest.mark.parametrize('split,num', [('train', 8), ('val', 4)])
def test_cityscapes_layout(tiny_cityscapes, split, num):
    dataset = DATASETS.build(
        dict(
            type='CityscapesDataset',
            data_root=str(tiny_cityscapes),
            data_prefix=dict(
                img_path=f'leftImg8bit/{split}',
                seg_map_path=f'gtFine/{split}'),
            pipeline=PIPELINE))
    assert len(dataset) == num
    assert dataset[0]['inputs'].shape == (3, 64, 128)
    if split == 'train':
        assert labels_of(dataset) == {0, 1, 2, 8, 10, 11, 13, 255}


@pytest.mark.parametrize('split,num', [('train', 8), ('val', 4)])
def test_camvid_layout(tiny_camvid, split, num):
    dataset = DATASETS.build(
        dict(
            type='CamVidDataset',
            data_root=str(tiny_camvid),
            ann_file=f'{split}.txt',
            data_prefix=dict(img_path=split, seg_map_path=f'{split}annot'),
            pipeline=PIPELINE))
    assert len(dataset) == num
    if split == 'train':
        # void (11 on disk) arrives as 255
        assert labels_of(dataset) == {0, 1, 3, 4, 5, 8, 9, 255}


@pytest.mark.parametrize('split,num', [('train', 8), ('val', 4)])
def test_voc_layout(tiny_voc, split, num):
    dataset = DATASETS.build(
        dict(
            type='PascalVOCDataset',
            data_root=str(tiny_voc),
            ann_file=f'ImageSets/Segmentation/{split}.txt',
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClass'),
            pipeline=PIPELINE))
    assert len(dataset) == num
    if split == 'train':
        assert labels_of(dataset) == {0, 7, 15, 16, 255}


def test_classes_need_context(tiny_cityscapes):
    """No class owns a colour: per-class colour ranges overlap."""
    root = tiny_cityscapes
    colours = {}
    for gt_path in sorted((root / 'gtFine/train').rglob('*.png')):
        img_path = str(gt_path).replace('gtFine', 'leftImg8bit', 1).replace(
            '_gtFine_labelTrainIds', '_leftImg8bit')
        img = np.asarray(Image.open(img_path), np.float32).mean(-1)
        gt = np.asarray(Image.open(gt_path))
        for cls in (0, 1, 2, 10):
            colours.setdefault(cls, []).append(img[gt == cls])
    ranges = {
        cls: np.percentile(np.concatenate(v), [5, 95])
        for cls, v in colours.items()
    }
    # building grey overlaps road, sidewalk and sky grey
    for cls in (0, 1, 10):
        lo, hi = ranges[cls]
        assert lo < ranges[2][1] and ranges[2][0] < hi
