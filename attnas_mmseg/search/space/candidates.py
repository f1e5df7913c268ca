"""The AttNAS search space as data: one table for each of its two parts.

* Backbone (§3.2, Figure 1): 17 MobileNetV2 inverted-residual blocks, each
  choosing one of six ops, kernel {3, 5} x expansion {1, 3, 6}. The paper's
  ``mv2(...)`` notation numbers them 1-6 but never prints the order; the
  orders we considered are in :data:`BACKBONE_OP_ORDERS`, and
  ``docs/design.md`` records which one Table 2's FLOPs/params support.
* Attention (Table 1): 13 candidates Att1-Att13, in :data:`ATTENTION_CANDIDATES`.

Everything else (the head, the FLOPs table, derivation, plots, docs) reads these
tables; nothing keeps a parallel list. A user adds candidates to either table
without editing this file: :mod:`.extra_candidates`.
"""
import math
from dataclasses import dataclass, field
from typing import Dict, Tuple, Type

import torch.nn as nn

from ...ops.attentions import (AtrousConvAttention, PoolConvAttention,
                              PooledSelfAttention, SEAttention,
                              StripPoolingAttention)

NUM_BLOCKS = 17
NUM_OPS = 6

#: op index (1-based, paper notation) -> (kernel size, expansion ratio).
BACKBONE_OP_ORDERS: Dict[str, Tuple[Tuple[int, int], ...]] = {
    # kernel-major: all kernel-3 ops first, expansion ascending within.
    'kernel_major': ((3, 1), (3, 3), (3, 6), (5, 1), (5, 3), (5, 6)),
    # expansion-major: kernels alternate within each expansion ratio.
    'expansion_major': ((3, 1), (5, 1), (3, 3), (5, 3), (3, 6), (5, 6)),
}
DEFAULT_OP_ORDER = 'kernel_major'


def backbone_ops(op_order: str = DEFAULT_OP_ORDER
                 ) -> Tuple[Tuple[int, int], ...]:
    """The (kernel, expansion) pairs of ops 1-6 under ``op_order``."""
    if op_order not in BACKBONE_OP_ORDERS:
        raise ValueError(f'op_order must be one of '
                         f'{sorted(BACKBONE_OP_ORDERS)}, got {op_order!r}')
    return BACKBONE_OP_ORDERS[op_order]


@dataclass(frozen=True)
class AttentionCandidate:
    """One row of Table 1.

    Attributes:
        id: 1-13, the paper's Att id.
        name: The operation as Table 1 names it.
        kind: 'local spatial', 'global spatial' or 'channel'.
        source: The design it is decoupled from (PSP, ASPP, SP, SA, SE).
        module: The ``nn.Module`` class implementing it.
        kwargs: Constructor arguments besides ``channels`` and the layer cfgs.
        paper_mflops: Table 1's FLOPs in M at 1024x2048 input.
    """
    id: int
    name: str
    kind: str
    source: str
    module: Type[nn.Module]
    kwargs: Dict[str, int] = field(default_factory=dict)
    paper_mflops: float = 0.0

    @property
    def short_name(self) -> str:
        return f'Att{self.id}'


ATTENTION_CANDIDATES: Tuple[AttentionCandidate, ...] = (
    AttentionCandidate(1, 'Pool1_conv1bn_upsample', 'local spatial', 'PSP',
                       PoolConvAttention, dict(bins=1), 2.7),
    AttentionCandidate(2, 'Pool2_conv1bn_upsample', 'local spatial', 'PSP',
                       PoolConvAttention, dict(bins=2), 3.0),
    AttentionCandidate(3, 'Pool3_conv1bn_upsample', 'local spatial', 'PSP',
                       PoolConvAttention, dict(bins=3), 3.4),
    AttentionCandidate(4, 'Pool6_conv1bn_upsample', 'local spatial', 'PSP',
                       PoolConvAttention, dict(bins=6), 6.1),
    AttentionCandidate(5, 'Pool9_conv1bn_upsample', 'local spatial', 'PSP',
                       PoolConvAttention, dict(bins=9), 10.9),
    AttentionCandidate(6, 'AtrousConv1', 'local spatial', 'ASPP',
                       AtrousConvAttention, dict(dilation=1), 841.0),
    AttentionCandidate(7, 'AtrousConv6', 'local spatial', 'ASPP',
                       AtrousConvAttention, dict(dilation=6), 7552.0),
    AttentionCandidate(8, 'AtrousConv12', 'local spatial', 'ASPP',
                       AtrousConvAttention, dict(dilation=12), 7552.0),
    AttentionCandidate(9, 'AtrousConv18', 'local spatial', 'ASPP',
                       AtrousConvAttention, dict(dilation=18), 7552.0),
    AttentionCandidate(10, 'HoriPool_VertPool_conv3bn', 'global spatial',
                       'SP', StripPoolingAttention, {}, 7619.0),
    AttentionCandidate(11, 'Pool6_SelfAttention_upsample', 'global spatial',
                       'SA', PooledSelfAttention, dict(bins=6), 2.4),
    AttentionCandidate(12, 'Pool9_SelfAttention_upsample', 'global spatial',
                       'SA', PooledSelfAttention, dict(bins=9), 2.5),
    AttentionCandidate(13, 'Pool1_fc_multiply', 'channel', 'SE', SEAttention,
                       {}, 2.6),
)
NUM_ATTENTIONS = len(ATTENTION_CANDIDATES)


def get_attention(att_id: int) -> AttentionCandidate:
    """The Table 1 row of ``att_id`` (1-13)."""
    if not isinstance(att_id, int) or not 1 <= att_id <= NUM_ATTENTIONS:
        raise ValueError(f'attention id must be an int in 1..{NUM_ATTENTIONS}'
                         f', got {att_id!r}')
    return ATTENTION_CANDIDATES[att_id - 1]


def build_attention(att_id: int, channels: int,
                    sa_projection: bool = False, **layer_cfg) -> nn.Module:
    """Instantiate Att``att_id`` with ``channels`` in and out.

    ``layer_cfg`` holds ``conv_cfg``, ``norm_cfg``, ``act_cfg`` and
    ``align_corners``; each candidate uses the ones that apply to it.
    ``sa_projection`` selects learned projections in Att11/Att12.
    """
    cand = get_attention(att_id)
    kwargs = dict(cand.kwargs)
    if cand.module is PooledSelfAttention:
        kwargs['projection'] = sa_projection
    return cand.module(channels, **kwargs, **layer_cfg)


def search_space_size(num_layers: int = 2, topk: int = 4,
                      num_ops: int = NUM_OPS,
                      num_attentions: int = NUM_ATTENTIONS) -> int:
    """Number of architectures: ``6**17 * C(13 * num_layers, topk)`` (§3.2);
    ``num_ops``/``num_attentions`` for a space with user candidates."""
    return num_ops**NUM_BLOCKS * math.comb(num_attentions * num_layers, topk)
