"""Every config under configs/ (but _base_/) builds, loads data and runs.

Per config: the model is built (pretrained weights are never loaded, so
nothing downloads) and run once in eval mode on a tiny image; each dataset of
the config is built on a tiny synthetic copy in that dataset's real on-disk
layout and one sample is loaded through the config's own pipeline. The list is a glob, so a new config
is tested without touching this file.
"""
import copy
from pathlib import Path
from typing import Iterator, Tuple

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.model import revert_sync_batchnorm

from attnas_mmseg.search.space.arch_spec import ArchSpec
from mmseg.registry import DATASETS, MODELS

CONFIG_ROOT = Path(__file__).resolve().parents[1] / 'configs'
CONFIGS = sorted(p for p in CONFIG_ROOT.rglob('*.py')
                 if '_base_' not in p.relative_to(CONFIG_ROOT).parts)
# dataset type -> conftest fixture holding a tiny copy in its layout
TINY_DATA = dict(CityscapesDataset='tiny_cityscapes',
                 CamVidDataset='tiny_camvid', PascalVOCDataset='tiny_voc')
LOADERS = ('train_dataloader', 'arch_dataloader', 'val_dataloader')
TINY_INPUT = (64, 128)


@pytest.fixture(scope='module', autouse=True)
def one_thread() -> Iterator[None]:
    # tiny convs gain nothing from threads, and on a busy machine OpenMP
    # barriers between two threads make a forward 10-50x slower
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def config_id(path: Path) -> str:
    return str(path.relative_to(CONFIG_ROOT))


def test_configs_are_collected():
    # a glob that silently finds nothing would make every test below vacuous
    assert len(CONFIGS) > 10, CONFIGS


def test_paper_archs_are_table2():
    archs = Config.fromfile(CONFIG_ROOT / '_base_' / 'archs.py').paper_archs
    assert set(archs) == {'s_mv2_att1', 'attnas_s', 'attnas_l', 's_mv2_att3'}
    num_layers = dict(s_mv2_att1=1, attnas_s=2, attnas_l=2, s_mv2_att3=3)
    for name, code in archs.items():
        spec = ArchSpec.parse(code.attention, code.backbone)
        assert str(spec) == f'{code.backbone} {code.attention}'
        assert spec.num_layers == num_layers[name]
        assert sum(map(len, spec.attention)) == 4  # top-4 (§3.3.3)


def innermost(dataset: ConfigDict) -> ConfigDict:
    """The dataset a wrapper (HalfSplitDataset, ...) holds."""
    while 'dataset' in dataset:
        dataset = dataset.dataset
    return dataset


def datasets(cfg: Config) -> Iterator[Tuple[str, ConfigDict]]:
    for key in LOADERS:
        loader = cfg.get(key)
        if loader is not None:
            yield key, loader.dataset


@pytest.mark.parametrize('path', CONFIGS, ids=config_id)
def test_config(path: Path, request: pytest.FixtureRequest):
    cfg = Config.fromfile(path)
    # one seed for every run: the same command gives the same network
    assert isinstance(cfg.get('randomness', {}).get('seed'), int)
    hooks = {h.type: h for h in cfg.get('custom_hooks', None) or []}
    if 'ArchUpdateHook' in hooks:
        # a search resumes exactly and honours its target by default
        assert 'RandomStateHook' in hooks
        hook = hooks['ArchUpdateHook']
        assert hook.get('flops_loss_mode', 'abs') == 'abs'
        assert hook.get('flops_pricing', 'derived') == 'derived'
        # a search without a cost term (the planted-signal ones) has no
        # target to fit: it derives the plain argmax
        assert cfg.derive.get('target_window') == (
            0.1 if hook.get('flops_weight', 0.1) > 0 else None)

    found = list(datasets(cfg))
    assert found and found[0][0] == 'train_dataloader'
    num_classes = cfg.model.decode_head.num_classes
    if cfg.train_cfg.type == 'EpochBasedTrainLoop':
        # an infinite sampler never ends an epoch
        assert cfg.train_dataloader.sampler.type != 'InfiniteSampler'
    for key, dataset_cfg in found:
        dataset_cfg = copy.deepcopy(dataset_cfg)
        leaf = innermost(dataset_cfg)
        assert leaf.type in TINY_DATA, f'{key}: no tiny data for {leaf.type}'
        leaf.data_root = str(request.getfixturevalue(TINY_DATA[leaf.type]))
        dataset = DATASETS.build(dataset_cfg)
        assert len(dataset) > 0, key
        # a transfer config must resize the classifier to its dataset
        assert len(dataset.metainfo['classes']) == num_classes, key
        sample = dataset[0]
        image, label = sample['inputs'], sample['data_samples'].gt_sem_seg
        assert image.ndim == 3 and image.shape[0] == 3
        if key == 'val_dataloader':
            # evaluation resizes the image only; labels stay as on disk
            assert tuple(label.shape) == sample['data_samples'].ori_shape
        else:
            assert label.shape == image.shape[-2:]
            # cropped to at most the size the preprocessor pads batches to
            crop = cfg.model.data_preprocessor.size
            assert all(s <= c for s, c in zip(image.shape[-2:], crop))

    model_cfg = copy.deepcopy(cfg.model)
    # building never loads weights (init_weights would); drop the URL anyway
    model_cfg.pop('pretrained', None)
    model = revert_sync_batchnorm(MODELS.build(model_cfg)).eval()
    with torch.no_grad():
        logits = model(torch.rand(1, 3, *TINY_INPUT) * 255, mode='tensor')
    assert logits.shape[:2] == (1, num_classes)
    assert torch.isfinite(logits).all()
