"""How the mixture weights of Eq. (1) and Eq. (2) are formed: the search modes.

* ``'darts'`` (the paper, the default): every candidate runs and is weighted by
  ``softmax(alpha_i)`` (Eq. 1) or the unified ``softmax(beta)`` (Eq. 2). A step
  costs the whole supernet.
* ``'gumbel'`` (beyond the paper; GDAS, Dong & Yang 2019): a *sampled path*.
  In training, each block samples one op from ``softmax(alpha_i)`` with the
  Gumbel-max trick, and the attention module samples ``sample_topk`` distinct
  cells of its L x 13 grid from the unified ``softmax(beta)`` with the
  Gumbel-top-k trick (the same top-k over all layers that §3.3.3 derives).
  Only the sampled candidates run; their weights are exactly 1 in the forward
  pass (the sampled network *is* a member of the space, an attention layer
  with no sampled cell passes its input through as a derived empty layer
  does), and the gradient reaches alpha/beta straight-through the relaxed
  ``softmax((logits + g) / tau)``. In eval mode the argmax / top-k
  architecture runs, i.e. the network :mod:`.derive` would produce.

Derivation, FLOPs_pred, checkpoints and resume do not depend on the mode:
alpha and beta have the same shapes and meaning in every mode, and the
sampling draws from torch's global generator, which the search checkpoints
(``RandomStateHook``).
"""
from typing import List, Tuple

import torch

SEARCH_MODES = ('darts', 'gumbel')


def check_search_mode(mode: str) -> str:
    if mode not in SEARCH_MODES:
        raise ValueError(f'search_mode must be one of {SEARCH_MODES}, got '
                         f'{mode!r}')
    return mode


def check_tau(tau: float) -> float:
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or \
            not 0 < tau < float('inf'):
        raise ValueError(f'tau must be a finite number > 0, got {tau!r}')
    return float(tau)


def _gumbel_like(logits: torch.Tensor) -> torch.Tensor:
    # -log(Exp(1)) is Gumbel(0, 1); exponential_ never returns 0.
    return -torch.empty_like(logits).exponential_().log()


def straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """``hard`` in the forward pass, ``soft``'s gradient in the backward."""
    return hard - soft.detach() + soft


def gumbel_one_hot(logits: torch.Tensor, tau: float,
                   training: bool = True) -> Tuple[torch.Tensor, List[int]]:
    """One sampled op per row of ``logits`` (blocks, ops).

    Returns the straight-through one-hot weights (value exactly one-hot) and
    the sampled index of each row. Without ``training`` the argmax is taken
    and no noise is drawn.
    """
    if not training:
        index = logits.argmax(-1)
        return torch.nn.functional.one_hot(
            index, logits.shape[-1]).to(logits.dtype), index.tolist()
    perturbed = logits + _gumbel_like(logits)
    index = perturbed.argmax(-1)
    soft = (perturbed / tau).softmax(-1)
    hard = torch.nn.functional.one_hot(index, logits.shape[-1]).to(soft)
    return straight_through(hard, soft), index.tolist()


def gumbel_top_k(logits: torch.Tensor, k: int, tau: float,
                 training: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
    """``k`` distinct cells sampled from the softmax over ALL of ``logits``.

    The Gumbel-top-k trick samples without replacement from Eq. (2)'s unified
    softmax. Returns the straight-through k-hot weights (value exactly 0/1,
    the shape of ``logits``) and the boolean mask of the chosen cells.
    Without ``training`` the top-k of the logits is taken.
    """
    flat = logits.flatten()
    perturbed = flat + _gumbel_like(flat) if training else flat
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask[perturbed.detach().topk(k).indices] = True
    hard = mask.to(flat.dtype)
    if not training:
        return hard.view_as(logits), mask.view_as(logits)
    soft = (perturbed / tau).softmax(0)
    return straight_through(hard, soft).view_as(logits), mask.view_as(logits)

