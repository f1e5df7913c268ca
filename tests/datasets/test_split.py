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


def test_halves_of_two_seeds_are_refused_naming_both(tiny_cityscapes):
    """Issue 19: part='weight' with seed 0 and part='arch' with seed 1 share
    3 of the 8 images; a search refuses them (ArchUpdateHook.before_train)."""
    from attnas_mmseg.datasets.split import check_disjoint_halves
    weight = split(tiny_cityscapes, 'weight', seed=0)
    arch = split(tiny_cityscapes, 'arch', seed=1)
    shared = set(img_paths(weight)) & set(img_paths(arch))
    assert len(shared) == 3
    with pytest.raises(ValueError) as error:
        check_disjoint_halves(weight, arch, 'train_dataloader.dataset',
                              'arch_dataloader.dataset')
    message = str(error.value)
    assert 'share 3 image(s)' in message
    assert 'train_dataloader.dataset.seed=0' in message
    assert 'arch_dataloader.dataset.seed=1' in message
    # one seed: the two parts of one split, nothing shared
    check_disjoint_halves(weight, split(tiny_cityscapes, 'arch', seed=0),
                          'train_dataloader.dataset', 'arch_dataloader.dataset')


def test_the_whole_set_as_arch_data_is_refused(tiny_cityscapes):
    from mmengine.dataset import RepeatDataset

    from attnas_mmseg.datasets.split import check_disjoint_halves
    everything = RepeatDataset(DATASETS.build(inner(tiny_cityscapes)),
                               times=50)
    with pytest.raises(ValueError, match=r'share 4 image\(s\)'):
        check_disjoint_halves(split(tiny_cityscapes, 'weight'), everything,
                              'train_dataloader.dataset',
                              'arch_dataloader.dataset')
