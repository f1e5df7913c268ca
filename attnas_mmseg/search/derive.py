"""§3.3.3: turning the learned (alpha, beta) into a discrete architecture."""
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional, Tuple

import torch

from .space.arch_spec import ArchSpec
from .space.attention_space import attention_weights
from .space.candidates import NUM_BLOCKS
from .space.extra_candidates import ExtraCandidates
from .cost.cost_table import CostTable

_SPACE_HINT = ('; in a space with user candidates alpha has 6 + '
               'len(extra_ops) columns and beta 13 + len(extra_attentions): '
               'pass its ExtraCandidates as extra=')


def derive_backbone(alpha: torch.Tensor,
                    extra: Optional[ExtraCandidates] = None
                    ) -> Tuple[int, ...]:
    """Argmax op (1-based) of each block: (17, ops) -> 17 op indices; ops is
    6 plus the user ops of ``extra``."""
    num_ops = (extra or ExtraCandidates()).num_ops
    if tuple(alpha.shape) != (NUM_BLOCKS, num_ops):
        raise ValueError(f'alpha: expected shape ({NUM_BLOCKS}, {num_ops}), '
                         f'got {tuple(alpha.shape)}{_SPACE_HINT}')
    return tuple(int(i) + 1 for i in alpha.detach().argmax(-1))


def derive_attention(beta: torch.Tensor, topk: int = 4,
                     extra: Optional[ExtraCandidates] = None
                     ) -> Tuple[Tuple[int, ...], ...]:
    """Top-k over all ``beta[l, j]`` of all layers; each attention goes to the
    layer its beta belongs to (``topk_{i,j}(beta_ij)``, §3.3.3). ``beta``:
    (L, 13 plus the user attentions of ``extra``)."""
    per_layer = (extra or ExtraCandidates()).num_attentions
    if beta.dim() != 2 or beta.shape[1] != per_layer:
        raise ValueError(f'beta: expected shape (num_layers, {per_layer}), '
                         f'got {tuple(beta.shape)}{_SPACE_HINT}')
    total = beta.numel()
    if isinstance(topk, bool) or not isinstance(topk, int) or \
            not 1 <= topk <= total:
        raise ValueError(f'topk must be an int in 1..{total} (the number of '
                         f'attention candidates of all layers), got {topk!r}')
    weights = attention_weights(beta.detach()).flatten()
    layers = [[] for _ in range(beta.shape[0])]
    for flat in weights.topk(topk).indices.tolist():
        layers[flat // per_layer].append(flat % per_layer + 1)
    return tuple(tuple(sorted(ids)) for ids in layers)


def derive_arch(alpha: Optional[torch.Tensor],
                beta: torch.Tensor,
                topk: int = 4,
                meta: Optional[Dict[str, Any]] = None,
                extra: Optional[ExtraCandidates] = None) -> ArchSpec:
    """The :class:`ArchSpec` of §3.3.3 (``alpha`` None: backbone not searched)
    in the space with the user candidates ``extra`` (none: the paper's).
    """
    extra = extra or ExtraCandidates()
    return ArchSpec(
        attention=derive_attention(beta, topk, extra),
        backbone=None if alpha is None else derive_backbone(alpha, extra),
        meta=dict(meta or {}), extra=extra)


@dataclass(frozen=True)
class TargetFit:
    """What :func:`fit_backbone_to_target` did, in the table's unit.

    Attributes:
        spec: The fitted architecture (the argmax one if nothing moved).
        switches: One record per block switched: ``block`` (1-based),
            ``op_from`` (the argmax op), ``op_to`` and ``logit_gap`` (the
            logit given up, ``alpha[i, argmax] - alpha[i, op_to]``).
        cost: The fitted network's cost.
        reached: Whether ``cost`` is within the window.
        fixed: Cost of everything not searched.
        attention: Cost of the derived attention set (kept as derived).
        cheapest / dearest: The network with every block at its cheapest /
            dearest op (the attention set as derived): no switch of blocks
            gets below / above them.
    """
    spec: ArchSpec
    switches: List[dict]
    cost: float
    reached: bool
    fixed: float
    attention: float
    cheapest: float
    dearest: float


def fit_backbone_to_target(alpha: torch.Tensor, spec: ArchSpec,
                           table: CostTable, target: float,
                           window: float) -> TargetFit:
    """Honour a cost target at derivation, spending the least evidence.

    A constraint mode beyond §3.3.3 (``docs/design.md``): when the argmax
    network's cost (``table``'s unit) is more than ``window`` (relative) from
    ``target``, blocks are switched one at a time, each time the switch that
    moves the cost toward the target at the smallest loss of logit per unit of
    useful cost, until the cost is within the window. The cost only moves
    toward the target and never past the window, so no block is switched
    back; when nothing lands short of the window, the one switch that brings
    the cost closest past it ends the fit, with ``reached=False`` (also when
    no switch brings it closer at all).
    Within-noise blocks (:mod:`.confidence`) have logit gaps near zero, so
    they go first. The attention set is kept as derived.
    """
    if spec.backbone is None or table.backbone is None:
        raise ValueError('spec: fitting a cost target needs a searched '
                         'backbone')
    if not target > 0 or not window >= 0:
        raise ValueError(f'target must be > 0 and window >= 0, got '
                         f'{target!r}, {window!r}')
    logits = alpha.detach().double()
    costs = table.backbone.double()
    ops = list(spec.backbone)
    cost = table.network_cost(spec)
    fixed = float(table.fixed)
    attention = cost - fixed - sum(float(costs[i, op - 1])
                                   for i, op in enumerate(ops))

    def within(value: float) -> bool:
        return abs(value / target - 1) <= window

    down = cost > target
    moved: Dict[int, None] = {}     # blocks in the order first switched
    while not within(cost):
        need = target - cost
        best = crossing = None
        for i, op in enumerate(ops):
            for j in range(costs.shape[1]):
                delta = float(costs[i, j] - costs[i, op - 1])
                if (delta < 0) != down or delta == 0:
                    continue   # the cost moves one way only: no switch back
                if within(cost + delta) or (cost + delta > target) == down:
                    # the logit given up beyond what the block gave already
                    given_up = float(logits[i, op - 1] - logits[i, j])
                    score = given_up / min(abs(delta), abs(need))
                    if best is None or score < best[0]:
                        best = (score, i, j + 1, delta)
                elif abs(need - delta) < abs(need) and (
                        crossing is None or
                        abs(need - delta) < crossing[0]):
                    crossing = (abs(need - delta), i, j + 1, delta)
        # past the window only when nothing lands short of it, and then last
        step = best or crossing
        if step is None:
            break
        _, i, ops[i], delta = step
        moved.setdefault(i)
        cost += delta
        if step is crossing:
            break
    best_logit = logits.max(-1).values
    switches = [dict(block=i + 1, op_from=spec.backbone[i], op_to=ops[i],
                     logit_gap=float(best_logit[i] - logits[i, ops[i] - 1]))
                for i in moved]
    head = fixed + attention
    return TargetFit(
        spec=replace(spec, backbone=tuple(ops), meta=dict(spec.meta)),
        switches=switches, cost=cost, reached=within(cost), fixed=fixed,
        attention=attention,
        cheapest=head + float(costs.min(-1).values.sum()),
        dearest=head + float(costs.max(-1).values.sum()))
