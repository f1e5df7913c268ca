"""From a search checkpoint to a retrainable network (§3.3.3).

:func:`export_derived` derives the :class:`ArchSpec` from a checkpoint's
alpha/beta, prices the derived network at the paper's input size (both FLOPs
counts and its parameters), and writes two files:

* ``arch.json``: the spec, in paper notation, with that metadata;
* ``retrain.py``: an mmengine config that inherits the search config's
  ``derive.retrain_base`` and fixes the backbone and head to the derived
  architecture, so ``tools/train.py retrain.py`` trains it from scratch.

A space with user candidates (``extra_ops``/``extra_attentions`` in the
search config) is derived in that space: ``arch.json`` records the user
candidates (``extra``), and ``retrain.py`` declares them beside the arch
(and imports the search config's ``custom_imports``, where they are
registered), so the retrain builds what the ids name.

Nothing is written unless everything succeeded, and existing files are only
replaced with ``overwrite=True``. :func:`write_derived` is the writing part,
for any architecture of the space (``tools/sample_random_arch.py`` writes
random ones with it).
"""
import os.path as osp
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.config import Config

from ..models.builder import apply_arch, build_segmentor
from ..search.confidence import noise_sigma_from_checkpoint
from ..search.cost.flops import (FLOPS_PER_G, build_flops_table,
                                 count_complete_flops)
from ..search.cost.latency_table import load_latency_table
from ..search.derive import derive_arch, fit_backbone_to_target
from ..search.settings import SearchSettings
from ..search.space.arch_spec import ArchSpec
from ..search.space.extra_candidates import ExtraCandidates
from ..search.space.search_modes import DEFAULT_SEARCH_MODE
from ..utils.atomic_write import write_new_file
from .checkpoint import load_search_checkpoint

ARCH_FILE, RETRAIN_FILE = 'arch.json', 'retrain.py'


def measure(model_cfg: dict,
            input_size: Tuple[int, int]) -> Dict[str, float]:
    """Paper-convention and complete FLOPs (G) and params (M) of a model."""
    model = build_segmentor(model_cfg, init_weights=False)
    paper = build_flops_table(model, input_size).fixed
    complete, params = count_complete_flops(model, input_size)
    return dict(input_size=list(input_size),
                flops_paper_G=paper / FLOPS_PER_G,
                flops_complete_G=complete / FLOPS_PER_G,
                params_M=params / 1e6)


def export_derived(config: str,
                   checkpoint: str,
                   out_dir: str,
                   topk: Optional[int] = None,
                   overwrite: bool = False,
                   input_size: Optional[Tuple[int, int]] = None,
                   target_window: Optional[float] = None) -> ArchSpec:
    """Write ``arch.json`` and ``retrain.py`` for a search checkpoint.

    ``target_window`` (default: the config's ``derive.target_window``, else
    None): when the argmax network's cost is further than this (relative)
    from the search's target, blocks are switched by
    :func:`~.derive.fit_backbone_to_target` (recorded in
    ``meta["search"]["fit"]``, with ``reached`` and the costs that bound the
    fit when the window is out of reach). The cost is the one the search was steered
    by: latency when it searched against a latency table only
    (``flops_weight=0``), FLOPs otherwise. None derives §3.3.3's argmax.
    """
    cfg = Config.fromfile(config)
    derive_cfg = cfg.get('derive', {})
    topk = derive_cfg.get('topk', 4) if topk is None else topk
    extra = ExtraCandidates.from_model_cfg(cfg.model)
    if not isinstance(topk, int) or isinstance(topk, bool) or topk < 1:
        # the upper bound, L x C, is checked once beta is loaded
        raise ValueError(f'topk must be an int in 1..L*{extra.num_attentions}'
                         ' (L: the attention layers of the checkpoint), got '
                         f'{topk!r}')
    # fail before loading the checkpoint when nothing could be written
    _targets(cfg, config, out_dir, overwrite)

    ckpt, alpha, beta = load_search_checkpoint(checkpoint, extra)
    spec = derive_arch(alpha, beta, topk, extra=extra)
    hook_state = ckpt.get('arch_update_hook', {})
    # what the run used (cfg-options included) wins over the config file
    search = dict(search_settings(cfg), **hook_state.get('settings', {}))
    search.update(
        seed=ckpt.get('meta', {}).get('seed',
                                      cfg.get('randomness', {}).get('seed')),
        alpha=None if alpha is None else alpha.tolist(), beta=beta.tolist(),
        arch_steps=hook_state.get('arch_steps'),
        noise_sigma=noise_sigma_from_checkpoint(ckpt))
    if target_window is None:
        target_window = derive_cfg.get('target_window')
    if target_window is not None and alpha is not None:
        spec = _fit_to_target(spec, alpha, cfg, search, float(target_window))
    if search.get('flops_target_G') is not None:
        table = build_flops_table(
            build_segmentor(cfg, arch=spec, init_weights=False),
            search['flops_input_size'])
        search['flops_derived_G'] = table.fixed / FLOPS_PER_G
    if search.get('latency_lut'):
        search['latency_derived_pred_ms'] = load_latency_table(
            search['latency_lut'], build_segmentor(cfg, device='meta')).network_cost(spec)
    spec = replace(spec, meta=dict(source_checkpoint=osp.abspath(checkpoint),
                                   topk=topk, search=search))
    return write_derived(
        spec, config, out_dir, input_size, overwrite,
        origin=f'Derived by tools/derive_arch.py from '
        f'{osp.abspath(checkpoint)}')


def _fit_to_target(spec: ArchSpec, alpha: torch.Tensor, cfg: Config,
                   search: dict, window: float) -> ArchSpec:
    """:func:`fit_backbone_to_target` on the cost the search targeted."""
    latency_only = bool(search.get('latency_lut')) and \
        search.get('latency_weight', 0) > 0 and not search.get('flops_weight')
    if latency_only:
        table = load_latency_table(search['latency_lut'],
                                   build_segmentor(cfg, device='meta'))
        target, unit, scale = search['latency_target_ms'], 'ms', 1.0
    elif search.get('flops_target_G') is not None:
        table = build_flops_table(build_segmentor(cfg, init_weights=False),
                                  search['flops_input_size'])
        target, unit, scale = search['flops_target_G'], 'G', FLOPS_PER_G
    else:
        return spec
    fit = fit_backbone_to_target(alpha, spec, table, target * scale, window)
    search['fit'] = dict(
        unit=unit, target=target, window=window,
        argmax=table.network_cost(spec) / scale, switches=fit.switches,
        fitted=table.network_cost(fit.spec) / scale, reached=fit.reached,
        **{key: getattr(fit, key) / scale
           for key in ('fixed', 'attention', 'cheapest', 'dearest')})
    return fit.spec


def search_settings(cfg: Config) -> Dict[str, object]:
    """The cost target and modes of a search config's ``ArchUpdateHook`` (the
    defaults where the config is silent), as the hook records them in its
    checkpoints (:meth:`SearchSettings.record`); {} without the hook."""
    hook = next((h for h in cfg.get('custom_hooks', []) or []
                 if h.get('type') == 'ArchUpdateHook'), None)
    if hook is None:
        return {}
    settings = SearchSettings.from_config(hook).record()
    model = cfg.model
    settings['search_mode'] = dict(
        backbone=model.get('backbone', {}).get('search_mode',
                                               DEFAULT_SEARCH_MODE),
        head=model.get('decode_head', {}).get('search_mode',
                                              DEFAULT_SEARCH_MODE))
    return settings


def _targets(cfg: Config, config: str, out_dir: str,
             overwrite: bool) -> Tuple[str, List[Path]]:
    """(derive.retrain_base as a path, [arch.json, retrain.py] in out_dir);
    raises if the base is missing or the files exist without ``overwrite``.
    """
    retrain_base = cfg.get('derive', {}).get('retrain_base')
    if retrain_base is None:
        raise ValueError(f'config: {config} has no derive.retrain_base (the '
                         'config the derived network is retrained from)')
    if not osp.isabs(retrain_base):
        retrain_base = osp.join(osp.dirname(osp.abspath(config)),
                                retrain_base)
    if not osp.exists(retrain_base):
        raise ValueError(f'derive.retrain_base: {retrain_base} does not '
                         'exist')
    out = Path(out_dir)
    targets = [out / ARCH_FILE, out / RETRAIN_FILE]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise FileExistsError(f'{", ".join(existing)} exist; pass '
                              '--overwrite to replace them')
    return retrain_base, targets


def write_derived(spec: ArchSpec,
                  config: str,
                  out_dir: str,
                  input_size: Optional[Tuple[int, int]] = None,
                  overwrite: bool = False,
                  origin: str = 'Written by attnas_mmseg.export.derived') -> \
        ArchSpec:
    """Price ``spec`` and write its ``arch.json`` and ``retrain.py``.

    The files of :func:`export_derived` (module doc) for any architecture of
    the search space of ``config`` (a search config with
    ``derive.retrain_base``), e.g. a derived or a randomly sampled one.
    ``spec.meta`` is kept and extended with ``source_config``, ``op_order``
    and the FLOPs/params at ``input_size`` (default ``derive.input_size``,
    else 1024x2048); ``origin`` heads ``retrain.py``. Returns the spec with
    that meta.
    """
    cfg = Config.fromfile(config)
    retrain_base, targets = _targets(cfg, config, out_dir, overwrite)
    size = tuple(input_size or cfg.get('derive', {}).get(
        'input_size', (1024, 2048)))
    out = Path(out_dir)
    meta = {'source_config': osp.abspath(config), **spec.meta}
    meta.setdefault('op_order',
                    cfg.model.backbone.get('op_order', 'kernel_major'))
    spec = replace(spec, meta=meta)
    model = apply_arch(cfg.model.to_dict(), spec)
    spec = replace(spec, meta=dict(meta, **measure(model, size)))
    meta = spec.meta

    base_rel = osp.relpath(retrain_base, out.resolve())
    backbone_line = '' if spec.backbone is None else (
        f'    backbone=dict(arch={list(spec.backbone)}'
        + _extra_arg('extra_ops', model['backbone']) + '),\n')
    retrain = (
        f'# {origin}\n'
        f'# {spec}\n'
        f'# paper-convention FLOPs {meta["flops_paper_G"]:.2f}G, complete '
        f'{meta["flops_complete_G"]:.2f}G at {size[0]}x{size[1]}, '
        f'params {meta["params_M"]:.2f}M\n'
        f"_base_ = ['{base_rel}']\n"
        + _imports_line(cfg, retrain_base, model) +
        'model = dict(\n' + backbone_line +
        f'    decode_head=dict(arch={[list(i) for i in spec.attention]}'
        + _extra_arg('extra_attentions', model['decode_head']) + '))\n')
    if out.exists() and not out.is_dir():
        raise ValueError(f'out_dir: {out} is a file, not a folder')
    out.mkdir(parents=True, exist_ok=True)
    # each file through a fresh temporary name and a rename: no other file
    # in out_dir (e.g. a user's retrain.py.tmp) is read, replaced or removed
    spec.save(targets[0], overwrite=True)
    write_new_file(targets[1], retrain)
    return spec


def _extra_arg(key: str, module_cfg: dict) -> str:
    """``', key=[...]'`` when the module declares user candidates."""
    cfgs = module_cfg.get(key)
    return f',\n        {key}={[dict(c) for c in cfgs]!r}' if cfgs else ''


def _imports_line(cfg: Config, retrain_base: str, model: dict) -> str:
    """``custom_imports`` of the base and the search config together, when
    the network holds user candidates (registered by the search config's
    imports, which the retrain base may lack)."""
    if not ExtraCandidates.from_model_cfg(model):
        return ''
    imports = []
    for source in (Config.fromfile(retrain_base), cfg):
        imports += (source.get('custom_imports') or {}).get('imports', [])
    imports = list(dict.fromkeys(imports))
    return (f'custom_imports = dict(imports={imports!r}, '
            'allow_failed_imports=False)\n') if imports else ''
