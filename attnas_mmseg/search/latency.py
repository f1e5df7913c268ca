"""Latency lookup table (LUT): each candidate's cost, measured on a device.

FLOPs do not price what a device spends (memory-bound depthwise convolutions,
kernel launches; ``docs/benchmarks.md``). ProxylessNAS and FBNet search against
a per-op latency table measured on the target device instead; this module
builds such a table for any AttNAS search space and turns it into the
:class:`~.cost_table.CostTable` (``unit='ms'``) that ``FLOPs_pred`` uses
(§3.3.2, Eq. 3-4 with the target in ms).

**Parts.** :func:`latency_parts` splits a segmentor into what is timed alone,
at the shape it sees for a batch-1 input of ``input_size``:

* ``stem``; every candidate op of every backbone block (search mode) or the
  chosen op (fixed mode); any other backbone as one part;
* every attention candidate Att1-Att13 on the head's feature (search mode) or
  each chosen attention (fixed mode); the head's ``in_proj``, ``bottleneck``
  and ``conv_seg``; any other decode head (e.g. MMSeg's ``ASPPHead``) as one
  part; a neck as one part;
* ``resize``: the bilinear resize of the logits to the input.

**Keys.** A part's key is ``label@shape#digest``, e.g.
``mv2_block(k3,e6,s1,d1,24>24)@1x24x128x256#3f0c9a61d2``: a readable label,
the input shape(s), and a digest of what the part computes (its ``repr``, BN
classes written alike since BN is folded before timing, and its parameter
shapes). Parts with the same key (two blocks with
the same op, in- and out-channels, stride and dilation at the same shape) are
timed once, and one LUT serves every network of the space and any config that
shares its ops.

**Settings.** A LUT records how it was measured: backend, device (and the
CPU/GPU model), threads, input size, batch 1, BN folded, opset, and the
versions of torch/mmcv/mmengine/mmseg (and onnx/onnxruntime). Adding to a LUT
with other settings, or loading it where other settings are asked for, is
refused with an error naming each differing key.

**Prediction** of a fixed network is the sum rule: the fixed parts plus the
chosen ops plus the chosen attentions (:meth:`CostTable.network_cost`).
Adding attention outputs within a layer and the data preprocessor are not
priced; ``benchmarks/bench_latency_lut.py`` measures how far the sum is from
end-to-end latency (``docs/latency.md``).
"""
import copy
import functools
import hashlib
import json
import os
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmseg.models.utils import resize

from .attention_space import AttentionLayers
from .candidates import NUM_ATTENTIONS, NUM_OPS
from .cost_table import CostTable

LUT_FORMAT = 1
DEVICES = ('cpu', 'cuda')
ROLES = ('fixed', 'backbone', 'attention')
#: Settings a LUT records; a difference in any of them refuses the LUT.
SETTING_KEYS = ('format', 'backend', 'device', 'device_name', 'threads',
                'input_size', 'batch', 'fused', 'opset', 'versions')


# --------------------------------------------------------------- settings ---
def library_versions(backend: str) -> Dict[str, str]:
    """Versions of the libraries whose kernels a ``backend`` LUT measured."""
    import mmcv
    import mmengine
    import mmseg
    versions = dict(torch=torch.__version__, mmcv=mmcv.__version__,
                    mmengine=mmengine.__version__, mmseg=mmseg.__version__)
    if backend == 'onnxruntime':
        import onnx
        import onnxruntime
        versions.update(onnx=onnx.__version__,
                        onnxruntime=onnxruntime.__version__)
    return versions


def device_name(device: str) -> str:
    """The CPU model (from /proc/cpuinfo) or the CUDA device name."""
    if device.startswith('cuda'):
        return torch.cuda.get_device_name(torch.device(device))
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def lut_settings(backend: str, device: str, threads: int,
                 input_size: Sequence[int]) -> Dict[str, Any]:
    """The settings of a LUT measured here, now, with these arguments."""
    from ..deploy.onnx_export import DEFAULT_OPSET
    from ..deploy.timing import BACKENDS
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got '
                         f'{backend!r}')
    if device not in DEVICES:
        raise ValueError(f'device must be one of {DEVICES}, got {device!r}')
    if device == 'cuda' and not torch.cuda.is_available():
        raise ValueError('device: cuda asked for, but torch sees no GPU')
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f'threads must be a positive int, got {threads!r}')
    size = [int(v) for v in input_size]
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f'input_size must be (H, W) > 0, got {input_size!r}')
    return dict(format=LUT_FORMAT, backend=backend, device=device,
                device_name=device_name(device), threads=threads,
                input_size=size, batch=1, fused=True,
                opset=DEFAULT_OPSET if backend == 'onnxruntime' else None,
                versions=library_versions(backend))


def _flatten(settings: Dict[str, Any], prefix: str = '') -> Dict[str, Any]:
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = list(value) if isinstance(
                value, tuple) else value
    return flat


def settings_diff(found: Dict[str, Any],
                  wanted: Dict[str, Any]) -> List[str]:
    """``'key (LUT x, wanted y)'`` for each key of ``wanted`` that differs.

    Nested keys are dotted (``versions.torch``); a key the LUT lacks differs.
    """
    have, want = _flatten(found), _flatten(wanted)
    return [f'{key} (LUT {have.get(key, "missing")!r}, wanted {value!r})'
            for key, value in want.items() if have.get(key) != value]


# -------------------------------------------------------------- LUT file ----
class LatencyLUT:
    """A latency lookup table on disk: settings and one entry per key.

    The file is JSON ``{"format", "settings", "entries"}``; an entry holds
    ``ms`` (median), ``min_ms``, ``runs``, ``warmup``, ``label``, ``inputs``
    (shapes) and ``parts`` (the part names that share it). Every
    :meth:`add` rewrites the file atomically, so an interrupted build keeps
    every finished entry.
    """

    def __init__(self, path: Union[str, Path], settings: Dict[str, Any],
                 entries: Optional[Dict[str, Dict[str, Any]]] = None) -> None:
        self.path = Path(path)
        self.settings = settings
        self.entries: Dict[str, Dict[str, Any]] = dict(entries or {})

    @classmethod
    def load(cls, path: Union[str, Path]) -> 'LatencyLUT':
        path = Path(path)
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or 'settings' not in data or \
                'entries' not in data:
            raise ValueError(f'{path}: not a latency LUT (expected keys '
                             '"settings" and "entries")')
        if data['settings'].get('format') != LUT_FORMAT:
            raise ValueError(f'{path}: format '
                             f'{data["settings"].get("format")!r}, this code '
                             f'reads format {LUT_FORMAT}')
        return cls(path, data['settings'], data['entries'])

    @classmethod
    def open(cls, path: Union[str, Path],
             settings: Dict[str, Any]) -> 'LatencyLUT':
        """The LUT at ``path`` to add to, or a new one; refused if it was
        measured with other ``settings`` (every differing key named)."""
        path = Path(path)
        if not path.exists():
            return cls(path, settings)
        lut = cls.load(path)
        lut.check(**settings)
        return lut

    def check(self, **wanted: Any) -> None:
        """Raise ValueError naming every key of ``wanted`` that differs."""
        unknown = sorted(set(wanted) - set(SETTING_KEYS))
        if unknown:
            raise ValueError(f'settings: unknown keys {unknown}; allowed '
                             f'{list(SETTING_KEYS)}')
        diff = settings_diff(self.settings, wanted)
        if diff:
            raise ValueError(
                f'{self.path}: latency LUT built for other settings: '
                + '; '.join(diff) + '. Build one for these settings '
                '(tools/build_latency_lut.py, docs/latency.md).')

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def ms(self, key: str) -> float:
        return float(self.entries[key]['ms'])

    def add(self, key: str, entry: Dict[str, Any]) -> None:
        self.entries[key] = entry
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + '.tmp')
        tmp.write_text(json.dumps(
            dict(format=LUT_FORMAT, settings=self.settings,
                 entries=self.entries), indent=1, sort_keys=True) + '\n')
        os.replace(tmp, self.path)


# ------------------------------------------------------------------ parts ---
class Resize(nn.Module):
    """The final bilinear resize of the logits to the input size."""

    def __init__(self, size: Tuple[int, int], align_corners: bool) -> None:
        super().__init__()
        self.size = tuple(size)
        self.align_corners = align_corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return resize(x, size=self.size, mode='bilinear',
                      align_corners=self.align_corners)

    def extra_repr(self) -> str:
        return f'size={self.size}, align_corners={self.align_corners}'


class ListInput(nn.Module):
    """Calls ``module`` (a head or neck taking a list) with its positional
    inputs as one list, so it can be timed and exported alone."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *inputs: torch.Tensor):
        return self.module(list(inputs))


@dataclass(frozen=True)
class LatencyPart:
    """One thing timed alone.

    Attributes:
        name: Where it sits: 'stem', 'block3.op2', 'att7', 'layer2.att7',
            'head.in_proj', 'head.bottleneck', 'head.conv_seg', 'resize',
            'backbone', 'neck', 'decode_head'.
        role: 'backbone' (a searched op: ``index`` = (block 0-16, op 1-6)),
            'attention' (a searched candidate: ``index`` = (att id,)) or
            'fixed' (in every network: summed into ``CostTable.fixed``).
        key: The LUT key (module doc).
        label: The readable part of the key.
        input_shapes: Shapes of its inputs (batch 1).
        build: Makes the module to time (real weights, unfused).
    """
    name: str
    role: str
    key: str
    label: str
    input_shapes: Tuple[Tuple[int, ...], ...]
    index: Tuple[int, ...] = ()
    build: Callable[[], nn.Module] = field(default=None, compare=False,
                                           repr=False)


#: BN classes that fold into the same convolution (SyncBN is reverted to
#: mmengine's _BatchNormXd for single-process inference).
_BN_NAMES = re.compile(r'\b(?:_BatchNormXd|SyncBatchNorm|BatchNorm2d)\(')


def _digest(module: nn.Module) -> str:
    """What a module computes, as a short hash: its structure (``repr``, any
    BN class written alike since all fold away) and parameter shapes (which
    ``repr`` omits, e.g. Att11/12's optional projections)."""
    shapes = [(n, tuple(t.shape)) for n, t in
              list(module.named_parameters()) + list(module.named_buffers())]
    text = _BN_NAMES.sub('BN(', repr(module)) + repr(sorted(shapes))
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def _shape_text(shapes: Sequence[Sequence[int]]) -> str:
    return '+'.join('x'.join(str(int(v)) for v in s) for s in shapes)


class _Planner:
    """Collects the parts of one segmentor, propagating shapes on meta."""

    def __init__(self) -> None:
        self.parts: List[LatencyPart] = []

    def add(self, name: str, role: str, label: str, meta_module: nn.Module,
            inputs: Sequence[torch.Tensor], build: Callable[[], nn.Module],
            index: Tuple[int, ...] = (), forward: bool = True):
        """Record a part; return its (meta) output if ``forward``."""
        shapes = tuple(tuple(x.shape) for x in inputs)
        key = f'{label}@{_shape_text(shapes)}#{_digest(meta_module)}'
        self.parts.append(LatencyPart(name, role, key, label, shapes, index,
                                      build))
        if forward:
            meta_module.eval()  # MMSeg's MobileNetV2.train returns None
            with torch.no_grad():
                return meta_module(*inputs)
        return None


def _meta(factory: Callable[[], nn.Module]) -> nn.Module:
    with torch.device('meta'):
        return factory()


def _outputs(out) -> List[torch.Tensor]:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _plan_backbone(plan: _Planner, backbone: nn.Module, meta: nn.Module,
                   x: torch.Tensor) -> List[torch.Tensor]:
    if not callable(getattr(meta, 'make_op', None)):
        out = plan.add('backbone', 'fixed',
                       f'backbone:{type(meta).__name__}', meta, [x],
                       functools.partial(copy.deepcopy, backbone))
        return _outputs(out)
    x = plan.add('stem', 'fixed', 'stem', meta.conv1, [x],
                 functools.partial(copy.deepcopy, backbone.conv1))
    feats, block = [], 0
    for stage, name in enumerate(meta.layers):
        for _ in getattr(meta, name):
            ops = range(1, NUM_OPS + 1) if meta.searching else \
                [meta.arch[block]]
            cin, cout, stride, dilation = meta.block_settings[block]
            out = None
            for op in ops:
                kernel, expansion = meta.ops[op - 1]
                # every op of a block has the same output shape: run one
                y = plan.add(
                    f'block{block + 1}.op{op}',
                    'backbone' if meta.searching else 'fixed',
                    f'mv2_block(k{kernel},e{expansion},s{stride},'
                    f'd{dilation},{cin}>{cout})',
                    _meta(functools.partial(meta.make_op, block, op)), [x],
                    functools.partial(backbone.make_op, block, op),
                    (block, op), forward=out is None)
                out = y if out is None else out
            x, block = out, block + 1
        if stage in meta.out_indices:
            feats.append(x)
    return feats


def _plan_head(plan: _Planner, head: nn.Module, meta: nn.Module,
               feats: List[torch.Tensor]) -> torch.Tensor:
    if not isinstance(getattr(meta, 'attention', None), AttentionLayers):
        return plan.add('decode_head', 'fixed',
                        f'decode_head:{type(meta).__name__}', ListInput(meta),
                        feats, functools.partial(
                            lambda h: ListInput(copy.deepcopy(h)), head))
    x = meta._transform_inputs(feats)
    if meta.in_proj is not None:
        x = plan.add('head.in_proj', 'fixed', 'head.in_proj', meta.in_proj,
                     [x], functools.partial(copy.deepcopy, head.in_proj))
    layers = meta.attention
    # every candidate maps (B, C, H, W) to that shape: x stays as it is
    if layers.searching:
        for att in range(1, NUM_ATTENTIONS + 1):
            plan.add(f'att{att}', 'attention', f'Att{att}',
                     _meta(functools.partial(layers.make_attention, att)),
                     [x], functools.partial(head.attention.make_attention,
                                            att), (att, ), forward=False)
    else:
        for li, ids in enumerate(layers.arch):
            for att in ids:
                plan.add(f'layer{li + 1}.att{att}', 'fixed', f'Att{att}',
                         _meta(functools.partial(layers.make_attention,
                                                 att)), [x],
                         functools.partial(head.attention.make_attention,
                                           att), (att, ), forward=False)
    if meta.bottleneck is not None:
        x = plan.add('head.bottleneck', 'fixed', 'head.bottleneck',
                     meta.bottleneck, [x],
                     functools.partial(copy.deepcopy, head.bottleneck))
    return plan.add('head.conv_seg', 'fixed', 'head.conv_seg', meta.conv_seg,
                    [x], functools.partial(copy.deepcopy, head.conv_seg))


def latency_parts(segmentor: nn.Module,
                  input_size: Sequence[int]) -> List[LatencyPart]:
    """The parts of an MMSeg ``EncoderDecoder`` timed alone (module doc).

    Shapes are propagated on a ``meta`` copy (no memory, no arithmetic);
    ``segmentor`` may itself live on ``meta`` when only the keys are needed
    (its parts' ``build`` then makes meta modules).
    """
    h, w = (int(v) for v in input_size)
    meta = copy.deepcopy(segmentor).to('meta')
    meta.eval()
    plan = _Planner()
    x = torch.empty(1, 3, h, w, device='meta')
    feats = _plan_backbone(plan, segmentor.backbone, meta.backbone, x)
    if getattr(meta, 'with_neck', False):
        feats = _outputs(plan.add(
            'neck', 'fixed', f'neck:{type(meta.neck).__name__}',
            ListInput(meta.neck), feats,
            functools.partial(lambda n: ListInput(copy.deepcopy(n)),
                              segmentor.neck)))
    logits = _plan_head(plan, segmentor.decode_head, meta.decode_head, feats)
    align = meta.decode_head.align_corners
    plan.add('resize', 'fixed', 'resize', Resize((h, w), align), [logits],
             functools.partial(Resize, (h, w), align))
    return plan.parts


# ------------------------------------------------------------------ build ---
def measure_part(part: LatencyPart, settings: Dict[str, Any], runs: int,
                 warmup: int, seed: int = 0) -> Dict[str, Any]:
    """Time ``part`` alone, BN folded, on a seeded N(0, 1) batch-1 input."""
    from ..deploy.fuse import fuse_conv_bn
    from ..deploy.timing import summarize, time_module
    torch.manual_seed(seed)
    module = fuse_conv_bn(part.build(), inplace=True)
    gen = torch.Generator().manual_seed(seed)
    inputs = [torch.randn(*s, generator=gen) for s in part.input_shapes]
    times = time_module(module, inputs, backend=settings['backend'],
                        device=settings['device'],
                        threads=settings['threads'], runs=runs,
                        warmup=warmup)
    stats = summarize(times)
    return dict(ms=stats['median_ms'], min_ms=stats['min_ms'], runs=runs,
                warmup=warmup, label=part.label,
                inputs=[list(s) for s in part.input_shapes])


def build_lut(parts: Sequence[LatencyPart],
              path: Union[str, Path],
              settings: Dict[str, Any],
              runs: int = 5,
              warmup: int = 2,
              limit: Optional[int] = None,
              progress: bool = True) -> Tuple[LatencyLUT, int]:
    """Time every part whose key ``path`` lacks, writing each as it goes.

    Args:
        parts: From :func:`latency_parts` (of a real, not meta, segmentor).
        path: The LUT file; created, or continued if its settings match
            (refused, naming the differing keys, if they do not).
        settings: :func:`lut_settings` of this run.
        limit: Time at most this many new entries, then stop (a re-run
            continues).

    Returns:
        (the LUT, number of entries timed by this call).
    """
    if runs < 1 or warmup < 0:
        raise ValueError(f'runs must be >= 1 and warmup >= 0, got runs={runs}'
                         f', warmup={warmup}')
    if limit is not None and limit < 0:
        raise ValueError(f'limit must be >= 0 or None, got {limit}')
    lut = LatencyLUT.open(path, settings)
    users: Dict[str, List[LatencyPart]] = {}
    for part in parts:
        users.setdefault(part.key, []).append(part)
    todo = [key for key in users if key not in lut]
    if limit is not None:
        todo = todo[:limit]
    bar = None
    if progress and todo:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(todo))
    for key in todo:
        entry = measure_part(users[key][0], settings, runs, warmup)
        entry['parts'] = [p.name for p in users[key]]
        lut.add(key, entry)
        if bar is not None:
            bar.update()
    if bar is not None:
        print(flush=True)
    return lut, len(todo)


# ------------------------------------------------------------------- load ---
def meta_segmentor(cfg: Any) -> nn.Module:
    """An ``EncoderDecoder`` on the ``meta`` device from a config file, a
    Config, or a model dict (SyncBN reverted to BN, as the builder does)."""
    import attnas_mmseg  # noqa: F401  (registers the modules)
    from mmengine.config import Config, ConfigDict
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    if isinstance(cfg, (str, Path)):
        cfg = Config.fromfile(str(cfg))
    if isinstance(cfg, Config):
        if 'model' not in cfg:
            raise ValueError('segmentor_or_cfg: the config defines no model')
        cfg = cfg.model
    if isinstance(cfg, ConfigDict):
        cfg = cfg.to_dict()
    if not isinstance(cfg, dict):
        raise TypeError('segmentor_or_cfg: expected an nn.Module, a config '
                        f'path, a Config or a model dict, got {type(cfg)}')
    cfg = copy.deepcopy(cfg)
    cfg.pop('pretrained', None)
    cfg.get('backbone', {}).pop('init_cfg', None)
    init_default_scope('mmseg')
    with torch.device('meta'):
        model = revert_sync_batchnorm(MODELS.build(cfg))
    model.eval()
    return model


def part_latencies(lut: LatencyLUT, parts: Sequence[LatencyPart]
                   ) -> List[Tuple[LatencyPart, float]]:
    """(part, ms) for each part; ValueError naming the missing keys."""
    missing = list(dict.fromkeys(p.key for p in parts if p.key not in lut))
    if missing:
        raise ValueError(
            f'{lut.path}: the LUT lacks {len(missing)} of the '
            f'{len({p.key for p in parts})} op/shape entries this model '
            f'needs (op/shape set differs; it was built for input_size '
            f'{lut.settings.get("input_size")}), e.g. {missing[:3]}. Add '
            'them with tools/build_latency_lut.py on this model\'s config '
            'and the same settings.')
    return [(p, lut.ms(p.key)) for p in parts]


def load_latency_table(lut_path: Union[str, Path],
                       segmentor_or_cfg: Any,
                       **wanted: Any) -> CostTable:
    """The ``CostTable`` (``unit='ms'``) of a segmentor from a LUT.

    Args:
        lut_path: A LUT written by ``tools/build_latency_lut.py``.
        segmentor_or_cfg: An ``EncoderDecoder`` (searching or fixed), a
            config path, a Config or a model dict.
        **wanted: Settings the LUT must have been measured with (keys of
            :data:`SETTING_KEYS`, e.g. ``backend='onnxruntime',
            threads=1, input_size=(512, 1024)``); each differing key is
            named in the ValueError.

    Returns:
        ``fixed`` = the sum of the fixed parts (in a fixed network: every
        part), ``backbone[i, j]`` = op j+1 of block i, ``attention[j]`` =
        Att(j+1), all in ms at the LUT's input size.
    """
    lut = LatencyLUT.load(lut_path)
    if 'input_size' in wanted:
        wanted['input_size'] = [int(v) for v in wanted['input_size']]
    lut.check(**wanted)
    segmentor = segmentor_or_cfg if isinstance(
        segmentor_or_cfg, nn.Module) else meta_segmentor(segmentor_or_cfg)
    size = tuple(lut.settings['input_size'])
    priced = part_latencies(lut, latency_parts(segmentor, size))
    fixed = sum(ms for p, ms in priced if p.role == 'fixed')
    backbone = attention = None
    if any(p.role == 'backbone' for p, _ in priced):
        backbone = torch.zeros(len(segmentor.backbone.block_settings),
                               NUM_OPS)
    if any(p.role == 'attention' for p, _ in priced):
        attention = torch.zeros(NUM_ATTENTIONS)
    for part, ms in priced:
        if part.role == 'backbone':
            backbone[part.index[0], part.index[1] - 1] = ms
        elif part.role == 'attention':
            attention[part.index[0] - 1] = ms
    num_layers = segmentor.decode_head.attention.num_layers \
        if attention is not None else 0
    return CostTable(input_size=size, fixed=float(fixed), backbone=backbone,
                     attention=attention, num_layers=num_layers, unit='ms')


def time_network(cfg: dict, settings: Dict[str, Any], runs: int,
                 warmup: int) -> Dict[str, float]:
    """End-to-end latency of a model config timed as a LUT's entries were
    (``settings``: backend, device, threads, input size; batch 1), BN
    calibrated on random data then folded into the convolutions."""
    from ..deploy import (DenseLogits, build_segmentor, calibrate_bn,
                          fuse_conv_bn, summarize, time_module)
    h, w = settings['input_size']
    torch.manual_seed(0)
    model = build_segmentor(cfg)
    calibrate_bn(model, torch.randn(2, 3, min(h, 256), min(w, 512)))
    dense = DenseLogits(fuse_conv_bn(model, inplace=True))
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(0))
    times = time_module(dense, [x], backend=settings['backend'],
                        device=settings['device'],
                        threads=settings['threads'], runs=runs,
                        warmup=warmup)
    return summarize(times)
