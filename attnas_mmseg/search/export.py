"""From a search checkpoint to a retrainable network (§3.3.3).

:func:`export_derived` derives the :class:`ArchSpec` from a checkpoint's
alpha/beta, prices the derived network at the paper's input size (both FLOPs
counts and its parameters), and writes two files:

* ``arch.json``: the spec, in paper notation, with that metadata;
* ``retrain.py``: an mmengine config that inherits the search config's
  ``derive.retrain_base`` and fixes the backbone and head to the derived
  architecture, so ``tools/train.py retrain.py`` trains it from scratch.

Nothing is written unless everything succeeded, and existing files are only
replaced with ``overwrite=True``. :func:`write_derived` is the writing part,
for any architecture of the space (``tools/sample_random_arch.py`` writes
random ones with it).
"""
import copy
import os.path as osp
import pickle
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.config import Config

from ..utils.atomic_write import write_new_file
from .arch_params import is_arch_param
from .arch_spec import MAX_LAYERS, ArchSpec
from .candidates import NUM_ATTENTIONS, NUM_BLOCKS, NUM_OPS
from .confidence import noise_sigma_from_checkpoint
from .derive import derive_arch, fit_backbone_to_target
from .flops import build_flops_table, count_complete_flops

ARCH_FILE, RETRAIN_FILE = 'arch.json', 'retrain.py'


def arch_params_from_checkpoint(
        path: str) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
    """(alpha or None, beta) stored in a search checkpoint
    (:func:`load_search_checkpoint`)."""
    return load_search_checkpoint(path)[1:]


def load_search_checkpoint(
        path: str
) -> Tuple[dict, Optional[torch.Tensor], torch.Tensor]:
    """(the checkpoint dict, alpha or None, beta) of a search checkpoint.

    ``path`` is a checkpoint of a search run (mmengine's dict whose
    ``state_dict`` holds the head's ``beta`` and, when the backbone was
    searched, its ``alpha``) or such a state dict alone. It is read with
    torch's ``weights_only`` loader (plus the allow-list of
    :mod:`attnas_mmseg.utils.checkpoint_compat`), so a file of any other
    kind is refused, not executed. A missing, empty, truncated or foreign file
    is a ValueError naming it and saying what was expected.
    """
    expected = ('expected a checkpoint of an AttNAS search (a dict whose '
                '"state_dict" holds the AttNASHead\'s beta, shape (L, '
                f'{NUM_ATTENTIONS}), and, when the backbone was searched, '
                f'alpha, shape ({NUM_BLOCKS}, {NUM_OPS}))')
    if not osp.exists(path):
        raise ValueError(f'checkpoint: {path} does not exist')
    if not osp.isfile(path):
        raise ValueError(f'checkpoint: {path} is not a file; {expected}')
    if osp.getsize(path) == 0:
        raise ValueError(f'checkpoint: {path} is empty (0 bytes); {expected}')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # torch raises many types for a bad file
        raise ValueError(f'checkpoint: {path} cannot be loaded '
                         f'({_load_failure(err)}); {expected}') from None
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        held = type(ckpt if state is None else state).__name__
        raise ValueError(f'checkpoint: {path} holds a {held}; {expected}')
    arch = {k.replace('module.', '', 1) if k.startswith('module.') else k: v
            for k, v in state.items()
            if isinstance(k, str) and is_arch_param(k)}
    found = {}
    for name, shape in (('alpha', f'({NUM_BLOCKS}, {NUM_OPS})'),
                        ('beta', f'(L, {NUM_ATTENTIONS}), L in '
                         f'1..{MAX_LAYERS}')):
        keys = [k for k in arch if k.rsplit('.', 1)[-1] == name]
        if len(keys) > 1:
            raise ValueError(f'checkpoint: {path} holds several {name} '
                             f'parameters {keys}; {expected}')
        value = arch[keys[0]] if keys else None
        if value is None:
            found[name] = None
            continue
        good = isinstance(value, torch.Tensor) and value.is_floating_point()
        if good:
            good = (tuple(value.shape) == (NUM_BLOCKS, NUM_OPS)
                    if name == 'alpha' else value.dim() == 2
                    and value.shape[1] == NUM_ATTENTIONS
                    and 1 <= value.shape[0] <= MAX_LAYERS)
        if not good:
            what = (f'a tensor of shape {tuple(value.shape)}'
                    if isinstance(value, torch.Tensor) else
                    f'a {type(value).__name__}')
            raise ValueError(f'checkpoint: {path}: {keys[0]} is {what}, not '
                             f'a float tensor of shape {shape}; {expected}')
        if not torch.isfinite(value).all():
            raise ValueError(f'checkpoint: {path}: {keys[0]} holds NaN or '
                             'infinite values (did the search diverge?)')
        found[name] = value
    if found['beta'] is None:
        raise ValueError(f'checkpoint: {path} holds no architecture '
                         'parameters (beta); was it saved by a search run '
                         '(an AttNASHead with arch=None)? ' + expected)
    return ckpt, found['alpha'], found['beta']


def _load_failure(err: Exception) -> str:
    """One line saying why ``torch.load`` failed (its messages are long)."""
    text = str(err)
    if isinstance(err, pickle.UnpicklingError):
        match = re.search(r'WeightsUnpickler error:\s*([^\n]*?)(?: Please|$)',
                          text, re.M)
        reason = match.group(1).strip() if match else 'unpickling failed'
        return ('not a weights-only torch file, refused by '
                f'torch.load(weights_only=True): {reason}')
    if isinstance(err, EOFError) or 'central directory' in text or (
            'zip archive' in text):
        return 'truncated or corrupt'
    first = text.strip().splitlines()[0][:200] if text.strip() else ''
    return f'{type(err).__name__}: {first}' if first else type(err).__name__


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


def _build(model_cfg: dict) -> torch.nn.Module:
    """The segmentor of ``model_cfg`` on the CPU, SyncBN reverted, eval."""
    import attnas_mmseg  # noqa: F401  (registers the modules)
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = copy.deepcopy(model_cfg)
    cfg.pop('pretrained', None)
    return revert_sync_batchnorm(MODELS.build(cfg)).eval()


def measure(model_cfg: dict,
            input_size: Tuple[int, int]) -> Dict[str, float]:
    """Paper-convention and complete FLOPs (G) and params (M) of a model."""
    model = _build(model_cfg)
    paper = build_flops_table(model, input_size).fixed
    complete, params = count_complete_flops(model, input_size)
    return dict(input_size=list(input_size), flops_paper_G=paper / 1e9,
                flops_complete_G=complete / 1e9, params_M=params / 1e6)


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
    ``meta["search"]["fit"]``). The cost is the one the search was steered
    by: latency when it searched against a latency table only
    (``flops_weight=0``), FLOPs otherwise. None derives §3.3.3's argmax.
    """
    cfg = Config.fromfile(config)
    derive_cfg = cfg.get('derive', {})
    topk = derive_cfg.get('topk', 4) if topk is None else topk
    if not isinstance(topk, int) or isinstance(topk, bool) or topk < 1:
        # the upper bound, L x 13, is checked once beta is loaded
        raise ValueError(f'topk must be an int in 1..L*{NUM_ATTENTIONS} (L: '
                         'the attention layers of the checkpoint), got '
                         f'{topk!r}')
    # fail before loading the checkpoint when nothing could be written
    _targets(cfg, config, out_dir, overwrite)

    ckpt, alpha, beta = load_search_checkpoint(checkpoint)
    spec = derive_arch(alpha, beta, topk)
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
            _build(apply_arch(cfg.model.to_dict(), spec)),
            search['flops_input_size'])
        search['flops_derived_G'] = table.fixed / 1e9
    if search.get('latency_lut'):
        from .latency import load_latency_table
        search['latency_derived_pred_ms'] = load_latency_table(
            search['latency_lut'], cfg.model.to_dict()).network_cost(spec)
    spec = ArchSpec(spec.attention, spec.backbone,
                    dict(source_checkpoint=osp.abspath(checkpoint),
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
        from .latency import load_latency_table
        table = load_latency_table(search['latency_lut'], cfg.model.to_dict())
        target, unit, scale = search['latency_target_ms'], 'ms', 1.0
    elif search.get('flops_target_G') is not None:
        table = build_flops_table(_build(cfg.model.to_dict()),
                                  search['flops_input_size'])
        target, unit, scale = search['flops_target_G'], 'G', 1e9
    else:
        return spec
    search.update(fit=dict(unit=unit, target=target, window=window,
                           argmax=table.network_cost(spec) / scale))
    spec, search['fit']['switches'] = fit_backbone_to_target(
        alpha, spec, table, target * scale, window)
    search['fit']['fitted'] = table.network_cost(spec) / scale
    return spec


def search_settings(cfg: Config) -> Dict[str, object]:
    """The cost target and modes of a search config's ``ArchUpdateHook`` (the
    hook's defaults where the config is silent), as the hook itself records
    them (:meth:`ArchUpdateHook.settings`); {} without the hook."""
    from ..engine.hooks.arch_update_hook import ArchUpdateHook
    hook = next((h for h in cfg.get('custom_hooks', []) or []
                 if h.get('type') == 'ArchUpdateHook'), None)
    if hook is None:
        return {}
    settings = ArchUpdateHook(
        **{k: v for k, v in hook.items() if k != 'type'}).settings()
    model = cfg.model
    settings['search_mode'] = dict(
        backbone=model.get('backbone', {}).get('search_mode', 'darts'),
        head=model.get('decode_head', {}).get('search_mode', 'darts'))
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
                  origin: str = 'Written by attnas_mmseg.search.export') -> \
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
    spec = ArchSpec(spec.attention, spec.backbone, meta)
    meta = dict(meta, **measure(apply_arch(cfg.model.to_dict(), spec), size))
    spec = ArchSpec(spec.attention, spec.backbone, meta)

    base_rel = osp.relpath(retrain_base, out.resolve())
    backbone_line = '' if spec.backbone is None else (
        f'    backbone=dict(arch={list(spec.backbone)}),\n')
    retrain = (
        f'# {origin}\n'
        f'# {spec}\n'
        f'# paper-convention FLOPs {meta["flops_paper_G"]:.2f}G, complete '
        f'{meta["flops_complete_G"]:.2f}G at {size[0]}x{size[1]}, '
        f'params {meta["params_M"]:.2f}M\n'
        f"_base_ = ['{base_rel}']\n"
        'model = dict(\n' + backbone_line +
        f'    decode_head=dict(arch={[list(i) for i in spec.attention]}))\n')
    if out.exists() and not out.is_dir():
        raise ValueError(f'out_dir: {out} is a file, not a folder')
    out.mkdir(parents=True, exist_ok=True)
    # each file through a fresh temporary name and a rename: no other file
    # in out_dir (e.g. a user's retrain.py.tmp) is read, replaced or removed
    spec.save(targets[0], overwrite=True)
    write_new_file(targets[1], retrain)
    return spec

