"""Changing a search config's length from the command line, consistently.

A search config ties several values to its epoch count: the train loop's
``max_epochs``, the end of the weight scheduler, the hook's warm-up and the
arch-lr schedulers of the search phase (e.g. the demos' cosine decay, which
starts after the warm-up). :func:`search_schedule_options` gives the
``--cfg-options`` that move all of them, for ``tools/demo.py`` and the
benchmarks.
"""
from typing import List, Optional

from mmengine.config import Config


def search_schedule_options(config: str, epochs: int,
                            warmup: Optional[int] = None) -> List[str]:
    """``--cfg-options`` for a search of ``epochs`` epochs, ``warmup`` of them
    weights only (None: the config's warm-up)."""
    cfg = Config.fromfile(config)
    hooks = cfg.get('custom_hooks', None) or []
    index = next((i for i, h in enumerate(hooks)
                  if h.get('type') == 'ArchUpdateHook'), None)
    if index is None:
        raise ValueError(f'config: {config} has no ArchUpdateHook in '
                         'custom_hooks (not a search config)')
    if warmup is None:
        warmup = int(hooks[index].get('warmup_epochs', 0))
    if not 0 <= warmup < epochs:
        raise ValueError(f'epochs: need more epochs ({epochs}) than warm-up '
                         f'epochs ({warmup})')
    opts = [f'train_cfg.max_epochs={epochs}',
            f'custom_hooks.{index}.warmup_epochs={warmup}']
    schedulers = cfg.get('param_scheduler', None) or {}
    for i, _ in enumerate(schedulers.get('weight', [])):
        opts.append(f'param_scheduler.weight.{i}.end={epochs}')
    for i, sched in enumerate(schedulers.get('arch', [])):
        opts += [f'param_scheduler.arch.{i}.begin={warmup}',
                 f'param_scheduler.arch.{i}.end={epochs}']
        if 'T_max' in sched:
            opts.append(f'param_scheduler.arch.{i}.T_max={epochs - warmup}')
    return opts
