"""A subnet of a trained supernet with the weights it inherits (issue 17).

:func:`extract_subnet` builds the fixed (derived) network of a spec from the
search config's model and fills every weight and BN buffer from the supernet:
block i's op ``j`` is the supernet's ``MixedOp`` entry ``j - 1``, an attention
``Att{id}`` of layer l is the supernet's ``layers[l].att{id}`` (the same key
in both forms), and everything outside the searched choices (stem, head
convs, ``cls_seg``) is copied as it is. Nothing depends on the search mode:
alpha and beta are simply not part of the fixed network.
"""
from dataclasses import replace
from typing import Dict, Iterable, List, Tuple, Union

import torch
import torch.nn as nn

from ..models.builder import (ConfigLike, build_segmentor, extra_candidates,
                              model_config)
from ..search.space.arch_spec import ArchSpec
from ..search.space.candidates import NUM_BLOCKS


def extract_subnet(supernet: nn.Module, spec: Union[ArchSpec, str],
                   model_cfg: ConfigLike) -> nn.Module:
    """The fixed network ``spec`` picks, holding ``supernet``'s weights.

    Args:
        supernet: A search-mode ``EncoderDecoder`` (an ``AttNASHead`` with
            ``arch=None``; its backbone a searching ``SearchableMobileNetV2``
            or any backbone that is not searched), in any search mode.
        spec: The architecture: an :class:`ArchSpec`, its notation (read in
            the supernet's space, user candidates included) or an arch.json
            path. Trailing layers the notation leaves out are empty.
        model_cfg: The search config's model (a path, a ``Config`` or a model
            dict): the fixed network is ``build_segmentor(model_cfg,
            arch=spec)``.

    Returns:
        A new ``EncoderDecoder`` in eval mode on the supernet's device, every
        parameter and buffer a copy (the supernet is left untouched).

    Raises:
        ValueError: ``spec`` does not fit the supernet's space (backbone code
            given or missing, more attention layers than it has, other user
            candidates or op order), or ``model_cfg`` is not the supernet's
            model (a weight missing or of another shape).
    """
    spec = _fit_spec(supernet, spec)
    device = next(supernet.parameters()).device
    with torch.random.fork_rng(devices=[]):
        # the weights are overwritten below; keep the caller's RNG untouched
        subnet = build_segmentor(model_config(model_cfg), arch=spec,
                                 device=device, init_weights=False)
    target = subnet.state_dict()
    state = supernet.state_dict()
    sources = inherited_keys(supernet, spec, target)
    missing = sorted(k for k, src in sources.items() if src not in state)
    if missing:
        raise ValueError(
            'model_cfg: the fixed network of this config is not a subnet of '
            'the supernet (is it the search config the supernet was built '
            'from?): ' + _few('the supernet has no weight for', missing))
    for key, src in sources.items():
        if target[key].shape != state[src].shape:
            raise ValueError(
                f'model_cfg: {key} has shape {tuple(target[key].shape)} in '
                f'the fixed network but the supernet\'s {src} has '
                f'{tuple(state[src].shape)} (is it the search config the '
                'supernet was built from?)')
    # load_state_dict copies into the subnet's own tensors
    subnet.load_state_dict({key: state[src] for key, src in sources.items()},
                           strict=True)
    return subnet.eval()


def inherited_keys(supernet: nn.Module, spec: ArchSpec,
                   fixed_keys: Iterable[str]) -> Dict[str, str]:
    """For every state key of ``spec``'s fixed network, the supernet key its
    value comes from. Only backbone blocks are renamed (the op's index is
    inserted); attentions and unsearched parts keep their keys."""
    renames = _backbone_renames(supernet, spec)
    sources = {}
    for key in fixed_keys:
        sources[key] = key
        for fixed, searched in renames:
            if key.startswith(fixed):
                sources[key] = searched + key[len(fixed):]
                break
    return sources


def _backbone_renames(supernet: nn.Module,
                      spec: ArchSpec) -> List[Tuple[str, str]]:
    """(fixed prefix, supernet prefix) of each searched backbone block:
    ``backbone.layer{s}.{b}.`` <- ``backbone.layer{s}.{b}.{op - 1}.``."""
    if spec.backbone is None:
        return []
    backbone = supernet.backbone
    renames = []
    block = 0
    for name in backbone.layers:
        for b in range(len(getattr(backbone, name))):
            prefix = f'backbone.{name}.{b}.'
            renames.append((prefix,
                            f'{prefix}{spec.backbone[block] - 1}.'))
            block += 1
    return renames


def _fit_spec(supernet: nn.Module, spec: Union[ArchSpec, str]) -> ArchSpec:
    """``spec`` in the supernet's space, its layers padded to the supernet's
    number; a ValueError naming what does not fit."""
    head = getattr(supernet, 'decode_head', None)
    if not getattr(head, 'searching', False) or \
            not hasattr(head, 'attention'):
        raise ValueError('supernet: its decode_head must be a searching '
                         'AttNASHead (arch=None), got '
                         f'{type(head).__name__}')
    extra = extra_candidates(supernet)
    spec = ArchSpec.coerce(spec, extra)
    if spec.extra != extra:
        if spec.extra:
            raise ValueError(
                'spec: its user candidates (extra_ops '
                f'{list(spec.extra.ops)}, extra_attentions '
                f'{list(spec.extra.attentions)}) are not the supernet\'s '
                f'(extra_ops {list(extra.ops)}, extra_attentions '
                f'{list(extra.attentions)})')
        # a paper-space spec names the same candidates in the user's space
        spec = replace(spec, extra=extra)
    backbone = supernet.backbone
    searched = bool(getattr(backbone, 'searching', False))
    if searched and spec.backbone is None:
        raise ValueError(
            'spec: has no backbone code, but the supernet searches its '
            f'backbone ({NUM_BLOCKS} blocks of {backbone.num_ops} ops): give '
            'mv2(...)')
    if not searched and spec.backbone is not None:
        raise ValueError(
            'spec: has a backbone code, but the supernet\'s backbone '
            f'({type(backbone).__name__}) is not searched: give the '
            'attention code alone')
    if searched:
        blocks = [len(op) for name in backbone.layers
                  for op in getattr(backbone, name)]
        if blocks != [backbone.num_ops] * NUM_BLOCKS:
            raise ValueError(
                f'supernet: expected {NUM_BLOCKS} blocks of '
                f'{backbone.num_ops} ops, got {blocks}')
        order = spec.meta.get('op_order', backbone.op_order)
        if order != backbone.op_order:
            raise ValueError(
                f'spec: meta.op_order {order!r} is not the supernet\'s '
                f'op_order {backbone.op_order!r} (op indices would name '
                'other ops)')
    layers = head.attention.num_layers
    if spec.num_layers > layers:
        raise ValueError(
            f'spec: has {spec.num_layers} attention layers, the supernet '
            f'{layers}: AttSet1..AttSet{layers} only')
    if spec.num_layers < layers:
        spec = replace(spec, attention=spec.attention +
                       ((), ) * (layers - spec.num_layers))
    return spec


def _few(what: str, keys: List[str], shown: int = 5) -> str:
    if not keys:
        return ''
    more = f' and {len(keys) - shown} more' if len(keys) > shown else ''
    return f'{what}: {keys[:shown]}{more}'
