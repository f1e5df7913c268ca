"""FLOPs of candidates and networks: the paper's counter, the table, FLOPs_pred.

Two counts, both in multiply-adds (MACs, what MMSeg and the paper call FLOPs):

* **Paper convention** (:func:`count_paper_flops`): the rules of ``thop``
  0.0.31, the counter FasterSeg pins, which reproduce Table 1 exactly (see
  ``tools/get_flops.py --table1``). Per sample:

  - ``Conv2d``: ``H_out*W_out*C_out * (C_in/groups*k_h*k_w + bias)``
  - ``_BatchNorm``: 2 per input element
  - ``AdaptiveAvgPool2d``: ``(floor(H/h)*floor(W/w) + 1)`` per output element
  - ``Linear``: ``in_features`` per output element
  - everything else (ReLU, sigmoid, interpolate, matmul, softmax,
    element-wise products): 0

* **Complete count** (:func:`count_complete_flops`): mmengine's
  ``get_model_complexity_info``, what MMSeg's ``get_flops.py`` reports.

:func:`build_flops_table` gives the :class:`~.cost_table.CostTable` of
paper-convention FLOPs of every candidate at one input size (user candidates,
``attnas_mmseg.search.space.extra_candidates``, included), built once
(candidates are instantiated on the ``meta`` device, so no weights are copied
and no real activations are computed); its :meth:`CostTable.predict` is the
differentiable ``FLOPs_pred(alpha, beta)`` of §3.3.2.
"""
from typing import Callable, List, Sequence, Tuple

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from .cost_table import CostTable

#: FLOPs in one G, the unit of targets and reports (the paper's 1e9 MACs).
FLOPS_PER_G = 1e9


def _conv_flops(m: nn.Conv2d, inputs, output) -> int:
    kh, kw = m.kernel_size
    per_out = m.in_channels // m.groups * kh * kw + (m.bias is not None)
    return output[0].numel() * per_out


def _bn_flops(m: nn.Module, inputs, output) -> int:
    return 2 * inputs[0][0].numel()


def _adaptive_avg_pool_flops(m: nn.AdaptiveAvgPool2d, inputs, output) -> int:
    in_h, in_w = inputs[0].shape[-2:]
    out_h, out_w = output.shape[-2:]
    return ((in_h // out_h) * (in_w // out_w) + 1) * output[0].numel()


def _linear_flops(m: nn.Linear, inputs, output) -> int:
    return m.in_features * output[0].numel()


PAPER_RULES: Tuple[Tuple[type, Callable], ...] = (
    (nn.Conv2d, _conv_flops),
    (_BatchNorm, _bn_flops),
    (nn.AdaptiveAvgPool2d, _adaptive_avg_pool_flops),
    (nn.Linear, _linear_flops),
)


def count_paper_flops(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Paper-convention FLOPs of ``module(*inputs)`` for one sample.

    Inputs may live on the ``meta`` device (shapes are all that is used).
    """
    total = [0]
    handles = []

    def make_hook(rule):
        def hook(m, inp, out):
            total[0] += int(rule(m, inp, out))
        return hook

    was_training = module.training
    module.eval()   # counts do not depend on the mode; BN on 1x1 maps needs it
    for m in module.modules():
        for cls, rule in PAPER_RULES:
            if isinstance(m, cls):
                handles.append(m.register_forward_hook(make_hook(rule)))
                break
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
        module.train(was_training)
    return total[0]


def count_meta_flops(factory: Callable[[], nn.Module],
                     input_shape: Sequence[int]) -> Tuple[int, torch.Size]:
    """Paper FLOPs of a module built by ``factory`` on the meta device, and its
    output shape, for an input of ``input_shape`` (batch 1)."""
    with torch.device('meta'):
        module = factory()
    module.eval()
    x = torch.empty(*input_shape, device='meta')
    with torch.no_grad():
        out_shape = module(x).shape
    return count_paper_flops(module, x), out_shape


def count_complete_flops(model: nn.Module,
                         input_size: Tuple[int, int]) -> Tuple[int, int]:
    """(FLOPs, params) of a segmentor from mmengine's complexity analysis."""
    from mmengine.analysis import get_model_complexity_info

    class _Dense(nn.Module):

        def __init__(self, seg):
            super().__init__()
            self.seg = seg

        def forward(self, x):
            return self.seg.decode_head(self.seg.extract_feat(x))

    was_training = model.training
    model.eval()
    try:
        info = get_model_complexity_info(
            _Dense(model), input_shape=(3, *input_size), show_table=False,
            show_arch=False)
    finally:
        model.train(was_training)
    return int(info['flops']), int(info['params'])


def _features_meta(shapes: List[torch.Size]) -> List[torch.Tensor]:
    return [torch.empty(s, device='meta') for s in shapes]


def build_flops_table(segmentor: nn.Module,
                      input_size: Tuple[int, int] = (1024, 2048),
                      attention_scale: float = 1.0) -> CostTable:
    """The FLOPs :class:`CostTable` of an ``EncoderDecoder`` at ``input_size``.

    Searched parts are priced per candidate on the meta device; fixed parts
    (stem, a fixed backbone, head projection, classifier, or any non-AttNAS
    MMSeg head such as ``ASPPHead``) are counted once, run for real on zeros
    in eval mode under ``no_grad``: BN running statistics, dropout and the
    random-number state are left exactly as they were (a resumed search must
    not differ from an uninterrupted one).
    """
    was_training = segmentor.training
    segmentor.eval()
    try:
        with torch.no_grad():
            return _build_flops_table(segmentor, input_size, attention_scale)
    finally:
        segmentor.train(was_training)


def _build_flops_table(segmentor: nn.Module, input_size: Tuple[int, int],
                       attention_scale: float) -> CostTable:
    backbone, head = segmentor.backbone, segmentor.decode_head
    h, w = input_size
    device = next(segmentor.parameters()).device   # fixed parts run for real
    image = torch.zeros(1, 3, h, w, device=device)
    fixed = 0
    bb_table = None
    if getattr(backbone, 'searching', False):
        fixed += count_paper_flops(backbone.conv1, image)
        x_shape = backbone.conv1(image).shape
        bb_table = torch.zeros(len(backbone.block_settings),
                               backbone.num_ops)
        feats, block = [], 0
        for stage, name in enumerate(backbone.layers):
            for _ in getattr(backbone, name):
                for j in range(backbone.num_ops):
                    flops, out_shape = count_meta_flops(
                        lambda: backbone.make_op(block, j + 1), x_shape)
                    bb_table[block, j] = flops
                x_shape = out_shape
                block += 1
            if stage in backbone.out_indices:
                feats.append(x_shape)
        features = _features_meta(feats)
    else:
        fixed += count_paper_flops(backbone, image)
        outs = backbone(image)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        features = _features_meta([o.shape for o in outs])

    if not hasattr(head, 'attention'):   # any other MMSeg head: all fixed
        fixed += count_paper_flops(
            head, [torch.zeros(f.shape, device=device) for f in features])
        return CostTable(input_size=(h, w), fixed=float(fixed),
                         backbone=bb_table)
    feature = head._transform_inputs(features)
    real = torch.zeros(feature.shape, device=device)
    if head.in_proj is not None:
        fixed += count_paper_flops(head.in_proj, real)
        real = head.in_proj(real)
    att_table = None
    if head.searching:
        att_table = torch.tensor([
            float(count_meta_flops(
                lambda: head.attention.make_attention(j), real.shape)[0])
            for j in range(1, head.attention.num_candidates + 1)
        ])
    else:
        fixed += count_paper_flops(head.attention, real)
    if head.bottleneck is not None:
        fixed += count_paper_flops(head.bottleneck, real)
        real = head.bottleneck(real)
    fixed += count_paper_flops(head.conv_seg, real)
    return CostTable(
        input_size=(h, w), fixed=float(fixed), backbone=bb_table,
        attention=att_table,
        num_layers=head.attention.num_layers if head.searching else 0,
        attention_scale=attention_scale)
