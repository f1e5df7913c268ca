"""Changing a search's length moves every value tied to it."""
from pathlib import Path

import pytest
from mmengine.config import Config, DictAction

from attnas_mmseg.utils.search_schedule import search_schedule_options

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
DEMO = CONFIGS / 'demo' / 'attnas-search_demo_synthetic-cityscapes-64x128.py'


def applied(config, opts):
    """``config`` with ``opts`` parsed as tools/train.py's --cfg-options."""
    cfg = Config.fromfile(config)
    namespace = type('Namespace', (), {})()
    DictAction(option_strings=[], dest='options')(None, namespace, opts)
    cfg.merge_from_dict(namespace.options)
    return cfg


@pytest.mark.parametrize('epochs,warmup', [(14, None), (6, 1)])
def test_demo_search_schedule_moves_together(epochs, warmup):
    cfg = applied(DEMO, search_schedule_options(str(DEMO), epochs, warmup))
    warm = 4 if warmup is None else warmup
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.custom_hooks[0].warmup_epochs == warm
    assert cfg.param_scheduler.weight[0].end == epochs
    arch = cfg.param_scheduler.arch[0]
    assert (arch.begin, arch.end, arch.T_max) == (warm, epochs, epochs - warm)


def test_bad_lengths_and_configs_are_named():
    with pytest.raises(ValueError, match='epochs'):
        search_schedule_options(str(DEMO), 4)       # warm-up is 4
    retrain = CONFIGS / 'attnas_s_cityscapes.py'
    with pytest.raises(ValueError, match='ArchUpdateHook'):
        search_schedule_options(str(retrain), 10)
