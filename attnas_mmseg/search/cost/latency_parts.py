"""What a latency table times: a segmentor split into parts, each keyed.

:func:`latency_parts` splits a segmentor into what is timed alone, at the
shape it sees for a batch-1 input of ``input_size``:

* ``stem``; every candidate op of every backbone block (search mode; a user
  op is labelled ``user_op(<type>,...)``) or the chosen op (fixed mode); any
  other backbone as one part;
* every attention candidate Att1-Att13 (and a space's user attentions,
  Att14, ...) on the head's feature (search mode) or each chosen attention
  (fixed mode); the head's ``in_proj``, ``bottleneck``
  and ``conv_seg``; any other decode head (e.g. MMSeg's ``ASPPHead``) as one
  part; a neck as one part;
* ``resize``: the bilinear resize of the logits to the input.

**Keys.** A part's key is ``label@shape#digest``, e.g.
``mv2_block(k3,e6,s1,d1,24>24)@1x24x128x256#3f0c9a61d2``: a readable label,
the input shape(s), and a digest of what the part computes (its ``repr``, BN
classes written alike since BN is folded before timing, and its parameter
shapes). Parts with the same key are timed once, and one LUT serves every
network of the space and any config that shares its ops.
"""
import copy
import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Callable, List, Sequence, Tuple

import torch
import torch.nn as nn
from mmseg.models.utils import resize

from ..space.attention_space import AttentionLayers


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
            ops = range(1, meta.num_ops + 1) if meta.searching else \
                [meta.arch[block]]
            cin, cout, stride, dilation = meta.block_settings[block]
            out = None
            for op in ops:
                user = meta.extra.op_cfg(op)
                kind = f'user_op({user["type"]},' if user else \
                    'mv2_block(k{},e{},'.format(*meta.ops[op - 1])
                # every op of a block has the same output shape: run one
                y = plan.add(
                    f'block{block + 1}.op{op}',
                    'backbone' if meta.searching else 'fixed',
                    f'{kind}s{stride},d{dilation},{cin}>{cout})',
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
        for att in range(1, layers.num_candidates + 1):
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
