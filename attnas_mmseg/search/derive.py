"""§3.3.3: turning the learned (alpha, beta) into a discrete architecture."""
from typing import Any, Dict, Optional, Tuple

import torch

from .arch_spec import ArchSpec
from .attention_space import attention_weights
from .candidates import NUM_ATTENTIONS, NUM_BLOCKS, NUM_OPS


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
