"""Config checks our tools run before the Runner: every shipped config passes
the model checks; a missing, mis-laid or unconverted dataset, a head whose
``num_classes`` disagrees with the dataset, and a head ``in_index`` beyond the
backbone's ``out_indices`` each raise one error naming the fields and values."""
import shutil
from pathlib import Path

import pytest
from mmengine.config import Config

from attnas_mmseg.engine.config_checks import (ConfigCheckError,
                                              DatasetNotFoundError,
                                              check_config, check_data,
                                              check_in_index,
                                              check_num_classes)
from mmseg.datasets import CityscapesDataset

from .._builders import segmentor_cfg
from ..engine.search_cfg import search_cfg

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p for p in (REPO / 'configs').rglob('*.py')
                 if '_base_' not in p.parts)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_shipped_configs_pass_the_model_checks(path):
    cfg = Config.fromfile(str(path))
    check_in_index(cfg)
    check_num_classes(cfg, 'train')
    check_num_classes(cfg, 'test')


def test_configs_are_collected():
    assert len(CONFIGS) >= 20


# ----------------------------------------------------------------- num_classes
def cityscapes_cfg(root, num_classes=19, **dataset):
    cfg = search_cfg(root, root / 'work')
    cfg['model']['decode_head']['num_classes'] = num_classes
    cfg['train_dataloader']['dataset']['dataset'].update(dataset)
    return Config(cfg)


@pytest.mark.parametrize('num_classes', [5, 20])
def test_num_classes_other_than_the_dataset_is_an_error(tiny_cityscapes,
                                                        num_classes):
    with pytest.raises(ConfigCheckError) as error:
        check_num_classes(cityscapes_cfg(tiny_cityscapes, num_classes), 'train')
    message = str(error.value)
    assert f'model.decode_head.num_classes={num_classes}' in message
    assert 'CityscapesDataset (train_dataloader.dataset.dataset) has 19 classes' \
        in message
    assert 'Set model.decode_head.num_classes=19' in message
    assert ('fail in the loss' in message) == (num_classes < 19)


def test_num_classes_follows_a_metainfo_subset(tiny_cityscapes):
    subset = dict(metainfo=dict(classes=CityscapesDataset.METAINFO['classes'][:4]))
    check_num_classes(cityscapes_cfg(tiny_cityscapes, 4, **subset), 'train')
    with pytest.raises(ConfigCheckError, match='has 4 classes'):
        check_num_classes(cityscapes_cfg(tiny_cityscapes, 19, **subset), 'train')


def test_auxiliary_heads_are_checked(tiny_cityscapes):
    cfg = cityscapes_cfg(tiny_cityscapes)
    cfg.model.auxiliary_head = [dict(type='FCNHead', in_channels=320, channels=8,
                                     num_classes=19),
                                dict(type='FCNHead', in_channels=320, channels=8,
                                     num_classes=11)]
    with pytest.raises(ConfigCheckError,
                       match=r'model\.auxiliary_head\[1\]\.num_classes=11'):
        check_num_classes(cfg, 'train')


def test_test_mode_compares_with_the_test_dataset(tiny_camvid):
    cfg = Config(dict(
        model=segmentor_cfg(num_classes=19),
        test_dataloader=dict(dataset=dict(type='CamVidDataset',
                                          data_root=str(tiny_camvid)))))
    with pytest.raises(ConfigCheckError, match=r'CamVidDataset \(test_dataloader'
                       r'\.dataset\) has 11 classes'):
        check_num_classes(cfg, 'test')
    check_num_classes(cfg, 'train')  # no train dataloader: nothing to compare


# -------------------------------------------------------------------- in_index
def model_cfg(in_index, out_indices=(6, ), **extra):
    model = segmentor_cfg()
    model['backbone']['out_indices'] = out_indices
    model['decode_head']['in_index'] = in_index
    model.update(extra)
    return Config(dict(model=model))


@pytest.mark.parametrize('in_index', [0, -1, [0], 3, -4])
def test_in_index_within_out_indices(in_index):
    check_in_index(model_cfg(in_index, out_indices=(1, 2, 4, 6)))


@pytest.mark.parametrize('in_index', [1, -2, [0, 1], 3])
def test_in_index_beyond_out_indices_is_an_error(in_index):
    with pytest.raises(ConfigCheckError) as error:
        check_in_index(model_cfg(in_index))
    message = str(error.value)
    assert f'model.decode_head.in_index={in_index!r}' in message
    assert 'model.backbone.out_indices=(6,) gives 1 feature map(s)' in message
    assert '[-1, 0]' in message


def test_in_index_uses_the_backbone_class_default():
    cfg = Config(dict(model=dict(
        type='EncoderDecoder', backbone=dict(type='MobileNetV2'),  # (1, 2, 4, 6)
        decode_head=dict(type='ASPPHead', in_channels=320, channels=8,
                         num_classes=19, in_index=4))))
    with pytest.raises(ConfigCheckError, match=r'out_indices=\(1, 2, 4, 6\)'):
        check_in_index(cfg)


def test_in_index_is_not_checked_through_a_neck():
    check_in_index(model_cfg(3, neck=dict(type='FPN', in_channels=[320],
                                          out_channels=8, num_outs=4)))


# -------------------------------------------------------------------- datasets
def test_the_tiny_search_data_passes(tiny_cityscapes):
    check_config(Config(search_cfg(tiny_cityscapes, tiny_cityscapes / 'w')), 'train')


def search_with(root, **parts):
    """A search config whose train / arch datasets have other data_roots."""
    cfg = search_cfg(root, root / 'w')
    for part, data_root in parts.items():
        loader = cfg['train_dataloader'] if part == 'weight' else \
            cfg['custom_hooks'][0]['arch_dataloader']
        loader['dataset']['dataset']['data_root'] = str(data_root)
    return Config(cfg)


def missing(cfg, mode='train'):
    with pytest.raises(DatasetNotFoundError) as error:
        check_data(cfg, mode)
    message = str(error.value)
    assert '\n' not in message
    assert 'scripts/demo.sh' in message
    return message


def test_missing_data_root(tiny_cityscapes, tmp_path):
    message = missing(search_with(tiny_cityscapes, weight=tmp_path / 'nowhere'))
    assert message.startswith('dataset CityscapesDataset (train_dataloader.'
                              'dataset.dataset): no folder')
    assert str(tmp_path / 'nowhere') in message
    assert 'leftImg8bit/{train,val}/<city>/*_leftImg8bit.png' in message
    assert 'dataset_converters/cityscapes.py' in message


def test_the_arch_half_of_a_hook_is_walked(tiny_cityscapes, tmp_path):
    message = missing(search_with(tiny_cityscapes, arch=tmp_path / 'nowhere'))
    assert '(custom_hooks[0].arch_dataloader.dataset.dataset)' in message


def test_mislaid_root_names_the_missing_folder(tiny_cityscapes):
    message = missing(search_with(tiny_cityscapes, weight=tiny_cityscapes.parent))
    assert f"no folder '{tiny_cityscapes.parent}/leftImg8bit/train' " \
        '(data_prefix.img_path)' in message


def test_unconverted_cityscapes_labels(tiny_cityscapes, tmp_path):
    root = shutil.copytree(tiny_cityscapes, tmp_path / 'cityscapes')
    for label in root.rglob('*_gtFine_labelTrainIds.png'):
        label.rename(str(label).replace('labelTrainIds', 'labelIds'))
    message = missing(search_with(tiny_cityscapes, weight=root))
    assert 'has no label map' in message
    assert '_gtFine_labelTrainIds.png' in message


def test_empty_image_folder(tmp_path):
    root = tmp_path / 'cityscapes'
    for sub in ('leftImg8bit/train', 'gtFine/train'):
        (root / sub).mkdir(parents=True)
    message = missing(search_with(tmp_path, weight=root))
    assert "no *_leftImg8bit.png image under" in message


def test_val_loader_only_when_validating(tiny_cityscapes, tmp_path):
    cfg = search_with(tiny_cityscapes)
    cfg.val_dataloader = dict(dataset=dict(type='CityscapesDataset',
                                           data_root=str(tmp_path / 'none')))
    check_data(cfg, 'train')
    cfg.val_cfg = dict(type='ValLoop')
    assert '(val_dataloader.dataset)' in missing(cfg)


def test_synthetic_root_says_how_to_generate_it(tmp_path):
    root = tmp_path / 'synthetic_cityscapes'
    message = missing(search_with(tmp_path, weight=root))
    assert '`python -m attnas_mmseg.datasets.synthetic --layout cityscapes ' \
        f'--out {root}`' in message


def voc_cfg(root, ann_file='ImageSets/Segmentation/train.txt'):
    return Config(dict(test_dataloader=dict(dataset=dict(
        type='PascalVOCDataset', data_root=str(root),
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file=ann_file))))


def test_voc_ann_file(tiny_voc, tmp_path):
    check_data(voc_cfg(tiny_voc), 'test')
    message = missing(voc_cfg(tiny_voc, 'ImageSets/Segmentation/trainaug.txt'),
                      'test')
    assert 'trainaug.txt' in message and '(ann_file)' in message
    assert 'voc_aug.py' in message
    bad = tmp_path / 'list.txt'
    bad.write_text('not_an_image\n')
    assert "lists 'not_an_image'" in missing(voc_cfg(tiny_voc, str(bad)), 'test')


def test_camvid_layout(tiny_camvid):
    cfg = Config(dict(test_dataloader=dict(dataset=dict(
        type='CamVidDataset', data_root=str(tiny_camvid),
        data_prefix=dict(img_path='val', seg_map_path='valannot')))))
    check_data(cfg, 'test')
    cfg.test_dataloader.dataset.data_prefix.seg_map_path = 'testannot'
    message = missing(cfg, 'test')
    assert 'testannot' in message and 'SegNet' in message


# ------------------------------------- a Runner built without our tools (19)
def _head(**kwargs):
    return lambda cfg: cfg['model']['decode_head'].update(kwargs)


def _arch_half(**kwargs):
    return lambda cfg: cfg['custom_hooks'][0]['arch_dataloader'][
        'dataset'].update(kwargs)


@pytest.mark.parametrize('change,error,fragment', [
    (_head(num_classes=4), ConfigCheckError,
     'model.decode_head.num_classes=4 but CityscapesDataset'),
    (_head(num_classes=30), ConfigCheckError,
     'model.decode_head.num_classes=30 but CityscapesDataset'),
    (lambda cfg: (_head(in_index=3)(cfg), cfg['model']['backbone'].update(
        out_indices=(6, ))), ConfigCheckError,
     'model.decode_head.in_index=3 is beyond the backbone\'s outputs: '
     'model.backbone.out_indices=(6,)'),
    (lambda cfg: cfg.update(param_scheduler=[dict(
        type='PolyLR', power=0.9, begin=0, end=1)]), ConfigCheckError,
     "param_scheduler: key it by optimiser name, one key per optimiser "
     "('weight', 'arch')"),
    (_head(num_classes=0), ValueError,
     'num_classes must be an int >= 1 (the classes of the dataset), got 0'),
    (_head(num_classes=-1), ValueError,
     'num_classes must be an int >= 1 (the classes of the dataset), got -1'),
    (lambda cfg: cfg['model']['backbone'].update(widen_factor=-1),
     ValueError, 'widen_factor must be a finite number > 0, got -1'),
    (lambda cfg: cfg['custom_hooks'][0].update(flops_input_size=(0, 0)),
     ValueError, 'flops_input_size[0] must be an int >= 1, got 0'),
    (lambda cfg: cfg['optim_wrapper']['arch'].pop('optimizer'), ValueError,
     'optim_wrapper.arch.optimizer: each wrapper needs its optimiser config'),
    (_arch_half(seed=1), ConfigCheckError,
     'the seeds differ (train_dataloader.dataset.seed=0, '
     'arch_dataloader.dataset.seed=1)'),
    (_arch_half(ratio=0.3), ConfigCheckError, 'share 1 image(s)'),
], ids=['num_classes_4', 'num_classes_30', 'in_index', 'unkeyed_scheduler',
        'head_classes_0', 'head_classes_-1', 'widen_factor', 'flops_size_0',
        'arch_without_optimizer', 'halves_seeds', 'halves_ratios'])
def test_runner_from_cfg_refuses_before_the_first_iteration(
        tiny_cityscapes, tmp_path, change, error, fragment):
    """Issue 19: through ``Runner.from_cfg(cfg).train()``, as MMSeg's
    tools/train.py, ``mim train`` or a script build it, not our
    tools/train.py: each refused with the field named, nothing trained."""
    from mmengine.runner import Runner
    cfg = search_cfg(tiny_cityscapes, tmp_path, max_epochs=1,
                     warmup_epochs=0)
    cfg['experiment_name'] = f'config_checks_{tmp_path.name}'
    change(cfg)
    runner = None
    with pytest.raises(error) as raised:
        runner = Runner.from_cfg(Config(cfg))
        runner.train()
    assert fragment in str(raised.value)
    assert runner is None or runner.iter == 0


def test_a_scheduler_missing_a_key_stops_in_mmengine(tiny_cityscapes,
                                                     tmp_path):
    """The one case no hook can name: mmengine builds the schedulers (and
    raises ``KeyError: 'arch'``) before it calls any hook, and the optimiser
    constructor never sees ``param_scheduler``. Our tools/train.py names it
    (``check_config``); a Runner built otherwise still stops before the first
    iteration."""
    from mmengine.runner import Runner
    cfg = search_cfg(tiny_cityscapes, tmp_path, max_epochs=1,
                     warmup_epochs=0)
    cfg['experiment_name'] = f'config_checks_{tmp_path.name}'
    cfg['param_scheduler'] = dict(weight=[dict(type='PolyLR', power=0.9,
                                               begin=0, end=1)])
    with pytest.raises(ConfigCheckError, match="param_scheduler.*'arch'"):
        check_config(Config(cfg), 'train')
    runner = Runner.from_cfg(Config(cfg))
    with pytest.raises(KeyError, match='arch'):
        runner.train()
    assert runner.iter == 0
