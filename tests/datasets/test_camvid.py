"""CamVidDataset on the real SegNet copy of CamVid, and on the synthetic layout."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from PIL import Image

from attnas_mmseg.datasets import CamVidDataset
from mmseg.evaluation import IoUMetric
from mmseg.registry import DATASETS
from mmseg.structures import SegDataSample

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]


def build(root: Path, split: str = 'train', **kwargs) -> CamVidDataset:
    return DATASETS.build(
        dict(
            type='CamVidDataset',
            data_root=str(root),
            data_prefix=dict(img_path=split, seg_map_path=f'{split}annot'),
            pipeline=PIPELINE,
            **kwargs))


def raw_label(seg_map_path: str) -> np.ndarray:
    return np.array(Image.open(seg_map_path))


def test_metainfo():
    meta = CamVidDataset.METAINFO
    assert meta['classes'] == ('Sky', 'Building', 'Pole', 'Road', 'Pavement',
                               'Tree', 'SignSymbol', 'Fence', 'Car',
                               'Pedestrian', 'Bicyclist')
    assert len(meta['palette']) == 11
    assert meta['palette'][3] == [128, 64, 128]
    assert CamVidDataset.get_label_map() == {11: 255}


@pytest.mark.parametrize('split,num', [('train', 367), ('val', 101)])
def test_real_split_sizes(real_camvid_root, split, num):
    dataset = build(real_camvid_root, split)
    assert len(dataset) == num
    assert dataset.metainfo['label_map'] == {11: 255}


def test_real_void_becomes_ignore(real_camvid_root):
    dataset = build(real_camvid_root)
    raw = raw_label(dataset.get_data_info(0)['seg_map_path'])
    assert (raw == 11).any(), 'first real annotation should contain void'

    sample = dataset[0]
    gt = sample['data_samples'].gt_sem_seg.data.squeeze(0).numpy()
    assert sample['inputs'].shape == (3, 360, 480)
    assert gt.shape == raw.shape == (360, 480)
    np.testing.assert_array_equal(gt == 255, raw == 11)
    np.testing.assert_array_equal(gt[raw != 11], raw[raw != 11])
    assert gt[raw != 11].max() <= 10


def test_real_pair_list_matches_folder(real_camvid_root):
    listed = build(real_camvid_root, ann_file='train.txt')
    scanned = build(real_camvid_root)
    paths = {listed.get_data_info(i)['img_path'] for i in range(len(listed))}
    assert paths == {
        scanned.get_data_info(i)['img_path']
        for i in range(len(scanned))
    }
    info = listed.get_data_info(0)
    assert Path(info['seg_map_path']).name == Path(info['img_path']).name


def test_void_is_ignored_by_iou_metric(tiny_camvid):
    """A prediction right everywhere except on void scores 100 mIoU."""
    dataset = build(tiny_camvid)
    metric = IoUMetric(ignore_index=255)
    metric.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        gt = dataset[i]['data_samples'].gt_sem_seg.data
        assert (gt == 255).any()
        pred = torch.where(gt == 255, torch.zeros_like(gt), gt)
        sample = SegDataSample(
            gt_sem_seg=PixelData(data=gt), pred_sem_seg=PixelData(data=pred))
        metric.process({}, [sample.to_dict()])
    assert metric.compute_metrics(metric.results)['mIoU'] == 100.0


def test_class_subset_keeps_void_ignored(tiny_camvid):
    dataset = build(tiny_camvid, metainfo=dict(classes=('Sky', 'Road', 'Car')))
    label_map = dataset.label_map
    assert label_map[0] == 0 and label_map[3] == 1 and label_map[8] == 2
    assert label_map[11] == 255 and label_map[1] == 255
    assert len(dataset.metainfo['palette']) == 3

    raw = raw_label(dataset.get_data_info(0)['seg_map_path'])
    gt = dataset[0]['data_samples'].gt_sem_seg.data.squeeze(0).numpy()
    np.testing.assert_array_equal(gt == 1, raw == 3)
    assert set(np.unique(gt)) <= {0, 1, 2, 255}


def test_mixed_ann_file_raises(tiny_camvid, tmp_path):
    ann = tmp_path / 'mixed.txt'
    ann.write_text('train/train_0000.png trainannot/train_0000.png\n'
                   'train_0001\n')
    with pytest.raises(ValueError, match='ann_file'):
        build(tiny_camvid, ann_file=str(ann))
