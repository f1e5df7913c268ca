"""HalfSplitDataset: the §4.2 weight/arch halves of one training set."""
import pytest
from mmengine.runner import Runner

from attnas_mmseg.datasets import HalfSplitDataset
from mmseg.registry import DATASETS

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]


def inner(root) -> dict:
    return dict(
        type='CityscapesDataset',
        data_root=str(root),
        data_prefix=dict(
            img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
        pipeline=PIPELINE)


def split(root, part: str, **kwargs) -> HalfSplitDataset:
    return DATASETS.build(
        dict(type='HalfSplitDataset', dataset=inner(root), part=part, **kwargs))


def img_paths(dataset) -> list:
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


@pytest.mark.parametrize('ratio,sizes', [(0.5, (4, 4)), (0.3, (3, 5))])
def test_parts_partition_the_set(tiny_cityscapes, ratio, sizes):
    weight = split(tiny_cityscapes, 'weight', ratio=ratio)
    arch = split(tiny_cityscapes, 'arch', ratio=ratio)
    assert (len(weight), len(arch)) == sizes
    everything = img_paths(DATASETS.build(inner(tiny_cityscapes)))
    assert len(everything) == 8
    assert set(img_paths(weight)).isdisjoint(img_paths(arch))
    assert sorted(img_paths(weight) + img_paths(arch)) == sorted(everything)


def test_split_is_seeded(tiny_cityscapes):
    first = img_paths(split(tiny_cityscapes, 'weight', seed=0))
    assert img_paths(split(tiny_cityscapes, 'weight', seed=0)) == first
    assert img_paths(split(tiny_cityscapes, 'weight', seed=1)) != first


def test_real_camvid_halves(real_camvid_root):
    cfg = dict(
        type='CamVidDataset',
        data_root=str(real_camvid_root),
        data_prefix=dict(img_path='train', seg_map_path='trainannot'))
    weight = HalfSplitDataset(cfg, part='weight')
    arch = HalfSplitDataset(cfg, part='arch')
    assert (len(weight), len(arch)) == (184, 183)
    assert set(img_paths(weight)).isdisjoint(img_paths(arch))


def test_wrapper_behaves_like_the_dataset(tiny_cityscapes):
    dataset = split(tiny_cityscapes, 'arch', lazy_init=True)
    assert not dataset._fully_initialized
    assert dataset.metainfo['classes'][13] == 'car'
    assert len(dataset) == 4
    sample = dataset[0]
    assert sample['inputs'].shape == (3, 64, 128)
    assert sample['data_samples'].img_path == img_paths(dataset)[0]


def test_runner_dataloader(tiny_cityscapes):
    loader = Runner.build_dataloader(
        dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(
                type='HalfSplitDataset',
                dataset=inner(tiny_cityscapes),
                part='weight')))
    batches = list(loader)
    assert [len(b['inputs']) for b in batches] == [2, 2]
    loaded = [s.img_path for b in batches for s in b['data_samples']]
    assert loaded == img_paths(loader.dataset)


@pytest.mark.parametrize('kwargs,field', [
    (dict(part='val'), 'part'),
    (dict(part='weight', ratio=0.0), 'ratio'),
    (dict(part='arch', ratio=1.5), 'ratio'),
])
def test_bad_arguments(tiny_cityscapes, kwargs, field):
    with pytest.raises(ValueError, match=field):
        HalfSplitDataset(inner(tiny_cityscapes), **kwargs)
