"""The one way this package builds a segmentor from a config.

Every tool, benchmark, export and deploy path goes through
:func:`build_segmentor`: a config file, an mmengine ``Config`` or a model dict
(optionally with a derived architecture filled in by :func:`apply_arch`) becomes
an MMSeg ``EncoderDecoder`` with SyncBN reverted to BN, weights initialised or
loaded, in eval mode, on the device asked for (``'meta'`` builds it without
memory, for shape and cost planning).
"""
import contextlib
import copy
from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmseg.registry import MODELS

from ..search.space.arch_spec import ArchSpec
from ..search.space.extra_candidates import ExtraCandidates
from ..utils.quiet_logger import quiet_logger
from . import backbones, decode_heads  # noqa: F401  (registers them)

ConfigLike = Union[str, Path, Config, ConfigDict, dict]


def apply_arch(model_cfg: dict, arch: Union[ArchSpec, str]) -> dict:
    """``model_cfg`` with the derived architecture filled in.

    ``arch`` is an :class:`ArchSpec`, a path to its JSON (``arch.json`` of
    ``tools/derive_arch.py``) or the paper notation (read in the space of
    ``model_cfg``, its user candidates included). The backbone code is
    applied only to a ``SearchableMobileNetV2`` backbone. The spec's user
    candidates (``spec.extra``) are filled in as ``extra_ops`` /
    ``extra_attentions``, so the model builds what its ids name.
    """
    spec = ArchSpec.coerce(arch, ExtraCandidates.from_model_cfg(model_cfg))
    cfg = copy.deepcopy(model_cfg)
    head = cfg.get('decode_head') or {}
    if head.get('type') != 'AttNASHead':
        raise ValueError('arch: the config\'s decode_head must be an '
                         f'AttNASHead to take an arch, got {head.get("type")}')
    head['arch'] = [list(ids) for ids in spec.attention]
    if spec.extra.attentions:
        head['extra_attentions'] = [dict(c) for c in spec.extra.attentions]
    if spec.backbone is not None:
        if cfg['backbone'].get('type') != 'SearchableMobileNetV2':
            raise ValueError('arch: has a backbone code but the config\'s '
                             'backbone is '
                             f'{cfg["backbone"].get("type")}, not '
                             'SearchableMobileNetV2')
        cfg['backbone']['arch'] = list(spec.backbone)
        if spec.extra.ops:
            cfg['backbone']['extra_ops'] = [dict(c) for c in spec.extra.ops]
        if 'op_order' in spec.meta:
            cfg['backbone']['op_order'] = spec.meta['op_order']
    return cfg


def extra_candidates(segmentor: nn.Module) -> ExtraCandidates:
    """The user candidates of a built segmentor's search space (none for a
    backbone or head that has none, e.g. MMSeg's)."""
    return ExtraCandidates(
        getattr(segmentor.backbone, 'extra_ops', ()),
        getattr(segmentor.decode_head, 'extra_attentions', ()))


def model_config(cfg: ConfigLike) -> ConfigDict:
    """A copy of the model config of a config file, a ``Config`` or a model
    dict, as a ``ConfigDict`` (MMSeg's segmentors read e.g.
    ``test_cfg.mode`` as attributes)."""
    if isinstance(cfg, (str, Path)):
        cfg = Config.fromfile(str(cfg))
    if isinstance(cfg, Config):
        if 'model' not in cfg:
            raise ValueError(f'config: {cfg.filename} defines no model')
        cfg = cfg.model
    if not isinstance(cfg, dict):  # a ConfigDict is a dict
        raise TypeError('config: expected a config path, a Config or a model '
                        f'dict, got {type(cfg).__name__}')
    return ConfigDict(copy.deepcopy(cfg))


def build_segmentor(cfg: ConfigLike,
                    checkpoint: Optional[str] = None,
                    arch: Union[None, ArchSpec, str] = None,
                    device: Union[str, torch.device] = 'cpu',
                    init_weights: bool = True) -> nn.Module:
    """An ``EncoderDecoder`` from a config, ready for inference (eval mode).

    Args:
        cfg: A config path, an mmengine ``Config`` or a model dict.
        checkpoint: Weights to load (strict); None initialises them.
        arch: A derived architecture to fill in (:func:`apply_arch`).
        device: Where the model lives; ``'meta'`` allocates nothing (for
            shape and cost planning; no weights are initialised or loaded).
        init_weights: Run ``init_weights`` when no checkpoint is given;
            False keeps the constructor's initialisation and the global RNG
            untouched (cost counting needs no weights).
    """
    model_cfg = model_config(cfg)
    if arch is not None:
        model_cfg = apply_arch(model_cfg, arch)
    model_cfg.pop('pretrained', None)
    meta = str(device) == 'meta'
    if checkpoint is not None or meta:
        # the checkpoint holds every weight; don't fetch pretrained ones
        model_cfg.get('backbone', {}).pop('init_cfg', None)
    init_default_scope('mmseg')
    with torch.device('meta') if meta else contextlib.nullcontext():
        # a ConfigDict, as MMSeg's init_model passes: EncoderDecoder reads
        # test_cfg.mode in predict
        model = revert_sync_batchnorm(MODELS.build(ConfigDict(model_cfg)))
    if meta:
        return model.eval()
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    elif init_weights:
        with quiet_logger():
            model.init_weights()
    return model.to(device).eval()
