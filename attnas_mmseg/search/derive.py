"""§3.3.3: turning the learned (alpha, beta) into a discrete architecture."""
from typing import Any, Dict, List, Optional, Tuple

import torch

from .arch_spec import ArchSpec
from .attention_space import attention_weights
from .candidates import NUM_ATTENTIONS, NUM_BLOCKS, NUM_OPS
from .cost_table import CostTable


def derive_backbone(alpha: torch.Tensor) -> Tuple[int, ...]:
    """Argmax op (1-based) of each block: (17, 6) -> 17 op indices."""
    if alpha.shape != (NUM_BLOCKS, NUM_OPS):
        raise ValueError(f'alpha: expected shape ({NUM_BLOCKS}, {NUM_OPS}), '
                         f'got {tuple(alpha.shape)}')
    return tuple(int(i) + 1 for i in alpha.detach().argmax(-1))


def derive_attention(beta: torch.Tensor,
                     topk: int = 4) -> Tuple[Tuple[int, ...], ...]:
    """Top-k over all ``beta[l, j]`` of all layers; each attention goes to the
    layer its beta belongs to (``topk_{i,j}(beta_ij)``, §3.3.3)."""
    if beta.dim() != 2 or beta.shape[1] != NUM_ATTENTIONS:
        raise ValueError(f'beta: expected shape (num_layers, {NUM_ATTENTIONS})'
                         f', got {tuple(beta.shape)}')
    total = beta.numel()
    if isinstance(topk, bool) or not isinstance(topk, int) or \
            not 1 <= topk <= total:
        raise ValueError(f'topk must be an int in 1..{total} (the number of '
                         f'attention candidates of all layers), got {topk!r}')
    weights = attention_weights(beta.detach()).flatten()
    layers = [[] for _ in range(beta.shape[0])]
    for flat in weights.topk(topk).indices.tolist():
        layers[flat // NUM_ATTENTIONS].append(flat % NUM_ATTENTIONS + 1)
    return tuple(tuple(sorted(ids)) for ids in layers)


def derive_arch(alpha: Optional[torch.Tensor],
                beta: torch.Tensor,
                topk: int = 4,
                meta: Optional[Dict[str, Any]] = None) -> ArchSpec:
    """The :class:`ArchSpec` of §3.3.3 (``alpha`` None: backbone not searched).
    """
    return ArchSpec(
        attention=derive_attention(beta, topk),
        backbone=None if alpha is None else derive_backbone(alpha),
        meta=dict(meta or {}))


def fit_backbone_to_target(alpha: torch.Tensor, spec: ArchSpec,
                           table: CostTable, target: float,
                           window: float) -> Tuple[ArchSpec, List[dict]]:
    """Honour a cost target at derivation, spending the least evidence.

    A constraint mode beyond §3.3.3: when the argmax network's cost (FLOPs or
    latency, ``table``'s unit) is more than ``window`` (relative) from
    ``target``, blocks are switched one at a time to other ops, each time the
    switch that moves the cost toward the target at the smallest loss of
    logit per unit of cost moved (``alpha[i, argmax] - alpha[i, j]`` over the
    useful part of the cost change), until the cost is within the window or
    no switch brings it closer. Blocks whose choice is within noise
    (:mod:`.confidence`) have logit gaps near zero, so they are the ones
    switched; a confident choice is kept unless nothing else can reach the
    target. The attention set is kept as derived.

    Returns the fitted spec and one record per switch (block, from, to,
    logit gap given up).
    """
    if spec.backbone is None or table.backbone is None:
        raise ValueError('spec: fitting a cost target needs a searched '
                         'backbone')
    if not target > 0 or not window >= 0:
        raise ValueError(f'target must be > 0 and window >= 0, got '
                         f'{target!r}, {window!r}')
    logits = alpha.detach().double()
    ops = list(spec.backbone)
    best_logit = logits.max(-1).values
    cost = table.network_cost(spec)
    switches = []
    while abs(cost / target - 1) > window:
        need = target - cost
        best = None
        for i in range(len(ops)):
            here = float(table.backbone[i, ops[i] - 1])
            for j in range(table.backbone.shape[1]):
                delta = float(table.backbone[i, j]) - here
                if abs(cost + delta - target) >= abs(need):
                    continue   # not closer to the target
                given_up = float(best_logit[i] - logits[i, j])
                score = given_up / min(abs(delta), abs(need))
                if best is None or score < best[0]:
                    best = (score, i, j + 1, delta, given_up)
        if best is None:
            break
        _, i, op, delta, given_up = best
        switches.append(dict(block=i + 1, op_from=ops[i], op_to=op,
                             logit_gap=given_up))
        ops[i] = op
        cost += delta
    fitted = ArchSpec(spec.attention, tuple(ops), dict(spec.meta))
    return fitted, switches
