"""From a search checkpoint to a retrainable network (§3.3.3).

:func:`export_derived` derives the :class:`ArchSpec` from a checkpoint's
alpha/beta, prices the derived network at the paper's input size (both FLOPs
counts and its parameters), and writes two files:

* ``arch.json``: the spec, in paper notation, with that metadata;
* ``retrain.py``: an mmengine config that inherits the search config's
  ``derive.retrain_base`` and fixes the backbone and head to the derived
  architecture, so ``tools/train.py retrain.py`` trains it from scratch.

Nothing is written unless everything succeeded, and existing files are only
replaced with ``overwrite=True``.
"""
import copy
import os
import os.path as osp
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import torch
from mmengine.config import Config

from .arch_params import is_arch_param
from .arch_spec import ArchSpec
from .derive import derive_arch
from .flops import build_flops_table, count_complete_flops

ARCH_FILE, RETRAIN_FILE = 'arch.json', 'retrain.py'


def arch_params_from_checkpoint(
        path: str) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
    """(alpha or None, beta) stored in a search checkpoint."""
    ckpt = torch.load(path, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    arch = {k.replace('module.', '', 1) if k.startswith('module.') else k: v
            for k, v in state.items() if is_arch_param(k)}
    alpha = next((v for k, v in arch.items() if k.endswith('alpha')), None)
    beta = next((v for k, v in arch.items() if k.endswith('beta')), None)
    if beta is None:
        raise ValueError(f'checkpoint: {path} holds no architecture '
                         'parameters (beta); was it saved by a search run '
                         '(an AttNASHead with arch=None)?')
    return alpha, beta


def apply_arch(model_cfg: dict, arch: Union[ArchSpec, str]) -> dict:
    """``model_cfg`` with the derived architecture filled in.

    ``arch`` is an :class:`ArchSpec`, a path to its JSON (``arch.json`` of
    ``tools/derive_arch.py``) or the paper notation. The backbone code is
    applied only to a ``SearchableMobileNetV2`` backbone.
    """
    spec = ArchSpec.coerce(arch)
    cfg = copy.deepcopy(model_cfg)
    head = cfg.get('decode_head') or {}
    if head.get('type') != 'AttNASHead':
        raise ValueError('arch: the config\'s decode_head must be an '
                         f'AttNASHead to take an arch, got {head.get("type")}')
    head['arch'] = [list(ids) for ids in spec.attention]
    if spec.backbone is not None:
        if cfg['backbone'].get('type') != 'SearchableMobileNetV2':
            raise ValueError('arch: has a backbone code but the config\'s '
                             'backbone is '
                             f'{cfg["backbone"].get("type")}, not '
                             'SearchableMobileNetV2')
        cfg['backbone']['arch'] = list(spec.backbone)
        if 'op_order' in spec.meta:
            cfg['backbone']['op_order'] = spec.meta['op_order']
    return cfg


def measure(model_cfg: dict,
            input_size: Tuple[int, int]) -> Dict[str, float]:
    """Paper-convention and complete FLOPs (G) and params (M) of a model."""
    import attnas_mmseg  # noqa: F401  (registers the modules)
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = copy.deepcopy(model_cfg)
    cfg.pop('pretrained', None)
    model = revert_sync_batchnorm(MODELS.build(cfg))
    model.eval()
    paper = build_flops_table(model, input_size).fixed
    complete, params = count_complete_flops(model, input_size)
    return dict(input_size=list(input_size), flops_paper_G=paper / 1e9,
                flops_complete_G=complete / 1e9, params_M=params / 1e6)


def export_derived(config: str,
                   checkpoint: str,
                   out_dir: str,
                   topk: Optional[int] = None,
                   overwrite: bool = False,
                   input_size: Optional[Tuple[int, int]] = None) -> ArchSpec:
    """Write ``arch.json`` and ``retrain.py`` for a search checkpoint."""
    cfg = Config.fromfile(config)
    derive_cfg = cfg.get('derive', {})
    retrain_base = derive_cfg.get('retrain_base')
    if retrain_base is None:
        raise ValueError(f'config: {config} has no derive.retrain_base (the '
                         'config the derived network is retrained from)')
    if not osp.isabs(retrain_base):
        retrain_base = osp.join(osp.dirname(osp.abspath(config)),
                                retrain_base)
    if not osp.exists(retrain_base):
        raise ValueError(f'derive.retrain_base: {retrain_base} does not '
                         'exist')
    topk = int(topk or derive_cfg.get('topk', 4))
    size = tuple(input_size or derive_cfg.get('input_size', (1024, 2048)))
    out = Path(out_dir)
    targets = [out / ARCH_FILE, out / RETRAIN_FILE]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise FileExistsError(f'{", ".join(existing)} exist; pass '
                              '--overwrite to replace them')

    alpha, beta = arch_params_from_checkpoint(checkpoint)
    spec = derive_arch(alpha, beta, topk)
    meta = dict(source_config=osp.abspath(config),
                source_checkpoint=osp.abspath(checkpoint), topk=topk,
                op_order=cfg.model.backbone.get('op_order', 'kernel_major'),
                **measure(apply_arch(cfg.model.to_dict(), spec), size))
    spec = ArchSpec(spec.attention, spec.backbone, meta)

    base_rel = osp.relpath(retrain_base, out.resolve())
    backbone_line = '' if spec.backbone is None else (
        f'    backbone=dict(arch={list(spec.backbone)}),\n')
    retrain = (
        f'# Derived by tools/derive_arch.py from {osp.abspath(checkpoint)}\n'
        f'# {spec}\n'
        f'# paper-convention FLOPs {meta["flops_paper_G"]:.2f}G, complete '
        f'{meta["flops_complete_G"]:.2f}G at {size[0]}x{size[1]}, '
        f'params {meta["params_M"]:.2f}M\n'
        f"_base_ = ['{base_rel}']\n"
        'model = dict(\n' + backbone_line +
        f'    decode_head=dict(arch={[list(i) for i in spec.attention]}))\n')
    out.mkdir(parents=True, exist_ok=True)
    spec.save(targets[0], overwrite=True)
    tmp = targets[1].with_suffix('.py.tmp')
    tmp.write_text(retrain)
    os.replace(tmp, targets[1])
    return spec
