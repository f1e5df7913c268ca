"""Candidates beyond the paper's tables, brought by the user (issue 16).

A user candidate is a registry config, ``dict(type='MyOp', **kwargs)``, whose
``type`` is registered in MMSeg's ``MODELS`` (``@MODELS.register_module()``;
the module imported through the config's ``custom_imports``). Given to
``SearchableMobileNetV2(extra_ops=[...])`` it is one more op of *every*
backbone block; given to ``AttNASHead(extra_attentions=[...])`` one more
attention candidate of every layer. Ids continue the paper's: ops 7, 8, ...
after Figure 1's six, attentions Att14, Att15, ... after Table 1's thirteen.

:class:`ExtraCandidates` is the record of a space's user candidates: the
searchable modules hold it, :class:`~.arch_spec.ArchSpec` carries it (so an
``arch.json`` names what op 7 is and the retrain config builds it), and the
candidate counts (``alpha.shape[1]``, ``beta.shape[1]``) follow from it.
How to write one: README, "Bring your own candidate"; the call contract is
:func:`build_extra_op` / :func:`build_extra_attention`.
"""
import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

import torch.nn as nn
from mmseg.registry import MODELS

from .candidates import NUM_ATTENTIONS, NUM_OPS, backbone_ops, get_attention

#: The ``kind`` of a user attention in plots (Table 1's are 'local spatial',
#: 'global spatial' and 'channel').
USER_KIND = 'user'
#: The keyword arguments a user op is built with, besides its config's own.
OP_ARGS = ('in_channels', 'out_channels', 'stride', 'dilation', 'conv_cfg',
           'norm_cfg', 'act_cfg')
#: The keyword arguments a user attention is built with, besides its own.
ATTENTION_ARGS = ('channels', 'conv_cfg', 'norm_cfg', 'act_cfg',
                  'align_corners')


def check_extra(cfgs: Any, field: str) -> Tuple[Dict[str, Any], ...]:
    """``cfgs`` (a list of registry configs) as a tuple of plain dicts.

    Each must be a dict whose ``type`` is a registered name (a string: the
    record goes to ``arch.json``) and whose values are JSON-serialisable;
    ``field`` names the argument in messages. Registration itself is checked
    when a candidate is built (an ``arch.json`` loads without the module).
    """
    if cfgs is None:
        return ()
    if isinstance(cfgs, (str, bytes, Mapping)) or \
            not isinstance(cfgs, Sequence):
        raise TypeError(f'{field}: expected a list of candidate configs '
                        f'(dict(type=...)), got {type(cfgs).__name__}')
    out = []
    for i, cfg in enumerate(cfgs):
        if not isinstance(cfg, Mapping):
            raise TypeError(f'{field}[{i}]: expected a dict(type=...), got '
                            f'{type(cfg).__name__}')
        cfg = _plain(cfg)
        if not isinstance(cfg.get('type'), str) or not cfg['type']:
            raise ValueError(f'{field}[{i}]: needs a "type", the name it is '
                             'registered under in MMSeg\'s MODELS, got '
                             f'{cfg.get("type")!r}')
        try:
            json.dumps(cfg)
        except (TypeError, ValueError) as err:
            raise ValueError(f'{field}[{i}]: its values must be JSON-'
                             f'serialisable (it is recorded in arch.json): '
                             f'{err}') from None
        out.append(cfg)
    return tuple(out)


def _plain(value: Any) -> Any:
    """A ConfigDict/tuple tree as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return copy.deepcopy(value)


@dataclass(frozen=True)
class ExtraCandidates:
    """The user candidates of a search space (module doc).

    Attributes:
        ops: Configs of backbone ops 7, 8, ... (every block has them).
        attentions: Configs of attentions Att14, Att15, ... (every layer).
    """
    ops: Tuple[Dict[str, Any], ...] = ()
    attentions: Tuple[Dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, 'ops', check_extra(self.ops, 'extra_ops'))
        object.__setattr__(self, 'attentions',
                           check_extra(self.attentions, 'extra_attentions'))

    def __bool__(self) -> bool:
        return bool(self.ops or self.attentions)

    def __hash__(self) -> int:   # dicts are not hashable; their JSON is
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    @property
    def num_ops(self) -> int:
        """Ops of each block: the paper's six and the user's."""
        return NUM_OPS + len(self.ops)

    @property
    def num_attentions(self) -> int:
        """Attention candidates of each layer: Table 1's and the user's."""
        return NUM_ATTENTIONS + len(self.attentions)

    def op_cfg(self, op: int) -> Optional[Dict[str, Any]]:
        """The config of op ``op`` (1-based), None for the paper's 1-6."""
        return None if op <= NUM_OPS else self.ops[op - NUM_OPS - 1]

    def attention_cfg(self, att_id: int) -> Optional[Dict[str, Any]]:
        """The config of Att``att_id``, None for Table 1's Att1-Att13."""
        return None if att_id <= NUM_ATTENTIONS else \
            self.attentions[att_id - NUM_ATTENTIONS - 1]

    def to_dict(self) -> Dict[str, Any]:
        """The ``extra`` entry of an ``arch.json`` (only what is there)."""
        out: Dict[str, Any] = {}
        if self.ops:
            out['ops'] = [copy.deepcopy(c) for c in self.ops]
        if self.attentions:
            out['attentions'] = [copy.deepcopy(c) for c in self.attentions]
        return out

    @classmethod
    def from_dict(cls, data: Any) -> 'ExtraCandidates':
        """The record :meth:`to_dict` writes (None: no user candidates)."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise TypeError('extra: expected a dict with "ops" and/or '
                            f'"attentions", got {type(data).__name__}')
        unknown = sorted(map(str, set(data) - {'ops', 'attentions'}))
        if unknown:
            raise ValueError(f'extra: unknown keys {unknown}; allowed: '
                             '"ops", "attentions"')
        return cls(data.get('ops', ()), data.get('attentions', ()))

    @classmethod
    def from_model_cfg(cls, model: Mapping) -> 'ExtraCandidates':
        """The user candidates a segmentor config declares
        (``backbone.extra_ops``, ``decode_head.extra_attentions``)."""
        backbone = model.get('backbone') or {}
        head = model.get('decode_head') or {}
        return cls(backbone.get('extra_ops') or (),
                   head.get('extra_attentions') or ())


def _registered(cfg: Dict[str, Any], field: str) -> type:
    cls = MODELS.get(cfg['type'])
    if cls is None:
        raise ValueError(f'{field}: type {cfg["type"]!r} is not registered in '
                         "MMSeg's MODELS; register it with "
                         '@MODELS.register_module() and import its module '
                         "(the config's custom_imports)")
    return cls


def build_extra_op(cfg: Dict[str, Any], in_channels: int, out_channels: int,
                   stride: int, dilation: int, **layer_cfg) -> nn.Module:
    """A user op for one backbone block.

    The registered class is called with the config's keys and
    ``in_channels``, ``out_channels``, ``stride``, ``dilation`` and the
    backbone's ``conv_cfg``/``norm_cfg``/``act_cfg`` (:data:`OP_ARGS`); it
    must map ``(B, in_channels, H, W)`` to the block's output,
    ``(B, out_channels, ceil(H / stride), ceil(W / stride))``.
    """
    kwargs = {k: v for k, v in cfg.items() if k != 'type'}
    return _registered(cfg, 'extra_ops')(
        **kwargs, in_channels=in_channels, out_channels=out_channels,
        stride=stride, dilation=dilation, **layer_cfg)


def build_extra_attention(cfg: Dict[str, Any], channels: int,
                          **layer_cfg) -> nn.Module:
    """A user attention candidate: the registered class called with the
    config's keys, ``channels`` and the head's ``conv_cfg``/``norm_cfg``/
    ``act_cfg``/``align_corners`` (:data:`ATTENTION_ARGS`); it must map
    ``(B, channels, H, W)`` to the same shape."""
    kwargs = {k: v for k, v in cfg.items() if k != 'type'}
    return _registered(cfg, 'extra_attentions')(
        **kwargs, channels=channels, **layer_cfg)


def describe_op(op: int, extra: ExtraCandidates, op_order: str) -> str:
    """A short label of op ``op``: ``'3x3, e6'`` or the user op's type."""
    cfg = extra.op_cfg(op)
    if cfg is not None:
        return cfg['type']
    kernel, expansion = backbone_ops(op_order)[op - 1]
    return f'{kernel}x{kernel}, e{expansion}'


def describe_attention(att_id: int,
                       extra: ExtraCandidates) -> Tuple[str, str, str]:
    """(``'Att<id>'``, name, kind) of Att``att_id``: Table 1's row, or the
    user attention's type and :data:`USER_KIND`."""
    cfg = extra.attention_cfg(att_id)
    if cfg is not None:
        return f'Att{att_id}', cfg['type'], USER_KIND
    cand = get_attention(att_id)
    return cand.short_name, cand.name, cand.kind
