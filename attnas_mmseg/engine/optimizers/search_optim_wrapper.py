"""Two optimisers that never share a parameter: SGD on w, Adam on (alpha, beta).

§3.3.2 / §4.2 alternate SGD steps on the network weights with Adam steps on the
architecture parameters. :class:`AttNASOptimWrapperConstructor` builds both with
mmengine's own machinery:

* ``weight``: mmengine's ``DefaultOptimWrapperConstructor`` (so ``paramwise_cfg``
  works as usual), with alpha and beta removed before the optimiser is made, so
  they get neither updates nor weight decay from it;
* ``arch``: an optimiser over alpha and beta only.

They are returned as a :class:`SearchOptimWrapperDict`, an ``OptimWrapperDict``
(so the runner checkpoints both, and ``param_scheduler`` keyed by ``weight`` /
``arch`` reaches each) whose ``update_params`` / ``optim_context`` are the
weight wrapper's: an unmodified ``EncoderDecoder.train_step`` makes the weight
step, and :class:`~attnas_mmseg.engine.hooks.ArchUpdateHook` the arch step.

A ``search_mode='uniform'`` search (SPOS) has no arch step: its config gives
only ``weight``, and the constructor returns that one ``OptimWrapper``, still
without alpha/beta (:func:`~attnas_mmseg.search.space.search_modes.check_arch_step`
refuses the other combinations).
"""
from contextlib import contextmanager
from typing import Dict, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.optim import (DefaultOptimWrapperConstructor, OptimWrapper,
                            OptimWrapperDict)
from mmseg.registry import (OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                            OPTIMIZERS)

from ...search.space.arch_params import arch_parameters, is_arch_param
from ...search.space.search_modes import check_arch_step, searched_modes

WEIGHT, ARCH = 'weight', 'arch'


@OPTIM_WRAPPERS.register_module()
class SearchOptimWrapperDict(OptimWrapperDict):
    """``OptimWrapperDict(weight=..., arch=...)`` usable by ``train_step``.

    ``update_params`` runs the weight step and then clears the gradients that
    its backward left on alpha/beta, so nothing leaks into the arch step.
    """

    def __init__(self, **optim_wrappers: OptimWrapper) -> None:
        if set(optim_wrappers) != {WEIGHT, ARCH}:
            raise ValueError(f'optim wrappers must be exactly {WEIGHT!r} and '
                             f'{ARCH!r}, got {sorted(optim_wrappers)}')
        super().__init__(**optim_wrappers)

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[Dict]
                      = None, zero_kwargs: Optional[Dict] = None) -> None:
        self[WEIGHT].update_params(loss, step_kwargs=step_kwargs,
                                   zero_kwargs=zero_kwargs)
        self[ARCH].zero_grad()

    @contextmanager
    def optim_context(self, model: nn.Module):
        with self[WEIGHT].optim_context(model):
            yield


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class AttNASOptimWrapperConstructor:
    """Build :class:`SearchOptimWrapperDict` from a config such as::

        optim_wrapper = dict(
            constructor='AttNASOptimWrapperConstructor',
            weight=dict(type='OptimWrapper', optimizer=dict(
                type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4)),
            arch=dict(type='OptimWrapper', optimizer=dict(
                type='Adam', lr=3e-4, betas=(0.5, 0.999),
                weight_decay=1e-3)))

    ``weight`` may carry a ``paramwise_cfg``; it never sees alpha/beta. A
    ``search_mode='uniform'`` search gives ``weight`` alone and gets its
    ``OptimWrapper``.
    """

    def __init__(self, optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        missing = {WEIGHT} - set(optim_wrapper_cfg)
        extra = set(optim_wrapper_cfg) - {WEIGHT, ARCH}
        if missing or extra:
            raise ValueError(
                f'optim_wrapper: needs the keys {WEIGHT!r} and {ARCH!r} '
                f"({WEIGHT!r} alone for search_mode='uniform'); missing "
                f'{sorted(missing)}, unexpected {sorted(extra)}')
        if paramwise_cfg:
            raise ValueError('optim_wrapper: put paramwise_cfg inside '
                             f'optim_wrapper.{WEIGHT}')
        for name in [n for n in (WEIGHT, ARCH) if n in optim_wrapper_cfg]:
            wrapper = optim_wrapper_cfg[name]
            if not isinstance(wrapper, dict) or \
                    not isinstance(wrapper.get('optimizer'), dict):
                raise ValueError(
                    f'optim_wrapper.{name}.optimizer: each wrapper needs its '
                    'optimiser config, e.g. ' + (
                        "dict(type='OptimWrapper', optimizer=dict(type='SGD', "
                        "lr=0.01, momentum=0.9, weight_decay=5e-4))"
                        if name == WEIGHT else
                        "dict(type='OptimWrapper', optimizer=dict(type='Adam', "
                        'lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3))')
                    + f'; got {wrapper!r}')
        self.weight_cfg = dict(optim_wrapper_cfg[WEIGHT])
        self.arch_cfg = optim_wrapper_cfg.get(ARCH)

    def __call__(self, model: nn.Module
                 ) -> Union[SearchOptimWrapperDict, OptimWrapper]:
        if is_model_wrapper(model):
            model = model.module
        arch = arch_parameters(model)
        if not arch:
            raise ValueError('model: has no architecture parameters (alpha/'
                             'beta); build the backbone or head in search '
                             'mode (arch=None) to use this constructor')
        modes = searched_modes(model)
        if not check_arch_step(modes, self.arch_cfg is not None,
                               f'optim_wrapper.{ARCH}'):
            return self._build_weight(model)
        if self.arch_cfg is None:
            raise ValueError(
                f'optim_wrapper.{ARCH}: missing; a search in {modes} makes '
                'arch steps (ArchUpdateHook) with this optimiser, e.g. '
                "dict(type='OptimWrapper', optimizer=dict(type='Adam', "
                'lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3))')
        return SearchOptimWrapperDict(**{
            WEIGHT: self._build_weight(model),
            ARCH: self._build_arch(arch)
        })

    def _build_weight(self, model: nn.Module) -> OptimWrapper:
        cfg = dict(self.weight_cfg)
        paramwise_cfg = cfg.pop('paramwise_cfg', None) or {}
        default = DefaultOptimWrapperConstructor(cfg, paramwise_cfg)
        groups = []
        default.add_params(groups, model)
        arch_ids = {id(p) for n, p in model.named_parameters()
                    if is_arch_param(n)}
        groups = [g for g in groups if id(g['params'][0]) not in arch_ids]
        optimizer = OPTIMIZERS.build(dict(default.optimizer_cfg,
                                          params=groups))
        return OPTIM_WRAPPERS.build(default.optim_wrapper_cfg,
                                    default_args=dict(optimizer=optimizer))

    def _build_arch(self, params) -> OptimWrapper:
        cfg = dict(self.arch_cfg)
        if 'paramwise_cfg' in cfg:
            raise ValueError(f'optim_wrapper.{ARCH}: paramwise_cfg is not '
                             'supported for the architecture parameters')
        optimizer = OPTIMIZERS.build(dict(cfg.pop('optimizer'),
                                          params=params))
        cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(cfg, default_args=dict(
            optimizer=optimizer))


def check_param_scheduler(scheduler_cfg) -> None:
    """A search's ``param_scheduler`` must be keyed by optimiser name.

    mmengine would apply an unkeyed scheduler to both optimisers (decaying the
    arch lr too) and fails with a bare ``KeyError`` when a key is missing, so
    ``tools/train.py`` calls this before the runner and the hook again at
    ``before_train``.
    """
    if not scheduler_cfg:
        return
    keyed = isinstance(scheduler_cfg, dict) and 'type' not in scheduler_cfg
    if not keyed or set(scheduler_cfg) != {WEIGHT, ARCH}:
        raise ValueError(
            f'param_scheduler: key it by optimiser name, one key per '
            f'optimiser ({WEIGHT!r}, {ARCH!r}), e.g. '
            'dict(weight=[dict(type="PolyLR", ...)], arch=[]); an unkeyed '
            'scheduler would also decay the arch optimiser; got '
            + (f'keys {sorted(scheduler_cfg)}' if keyed else
               repr(scheduler_cfg)))
