"""How sure a search is of its derived choices (§3.3.3): top-two margins, and
a one-sided test of each choice against a random walk of the same Adam steps.

Why this null, how it was checked, and the weight-decay correction:
``docs/design.md#search``, "Confidence".
"""
import functools
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from .space.attention_space import attention_weights
from .space.candidates import NUM_OPS

#: One-sided level of the noise test (docs/design.md, Confidence).
NOISE_QUANTILE = 0.95
#: Standard deviation of the initial alpha/beta (DARTS' 1e-3 * randn).
INIT_STD = 1e-3
_MC_SAMPLES, _MC_SEED = 200_000, 0


# ------------------------------------------------------------------ the null
@functools.lru_cache(maxsize=None)
def gap_quantile(n: int, rank: int, q: float = NOISE_QUANTILE) -> float:
    """q-quantile of ``z_(rank) - z_(rank+1)`` for n i.i.d. N(0, 1) draws.

    ``z_(r)`` is the r-th largest. Monte Carlo with a fixed seed (200k draws,
    deterministic; about +-0.01), cached per argument.
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(f'n must be an int >= 2, got {n!r}')
    if not isinstance(rank, int) or not 1 <= rank < n:
        raise ValueError(f'rank must be an int in 1..{n - 1}, got {rank!r}')
    if not 0 < q < 1:
        raise ValueError(f'q must be in (0, 1), got {q!r}')
    gen = torch.Generator().manual_seed(_MC_SEED)
    z = torch.randn(_MC_SAMPLES, n, generator=gen, dtype=torch.float64)
    top = z.topk(rank + 1, dim=1).values
    return float((top[:, rank - 1] - top[:, rank]).quantile(q))


def noise_sigma(arch_steps: int, arch_lr: float,
                init_std: float = INIT_STD) -> float:
    """Std of a logit after ``arch_steps`` Adam steps on pure-noise gradients:
    ``sqrt(init_std**2 + arch_lr**2 * arch_steps)`` (docs/design.md)."""
    if not isinstance(arch_steps, int) or arch_steps < 0:
        raise ValueError(f'arch_steps must be an int >= 0, got '
                         f'{arch_steps!r}')
    if not arch_lr >= 0 or not init_std >= 0:
        raise ValueError(f'arch_lr and init_std must be >= 0, got '
                         f'{arch_lr!r}, {init_std!r}')
    return math.sqrt(init_std**2 + arch_lr**2 * arch_steps)


def noise_variance_step(var: float, lr: float, decay: float) -> float:
    """The null's logit variance after one more arch step:
    ``(1 - decay)**2 * var + lr**2``.

    ``decay`` is the fraction of a logit that weight decay takes back per
    step (:func:`weight_decay_pull`). Without it (0) the recursion sums to
    :func:`noise_sigma`'s ``init_std**2 + sum(lr**2)``; with it, the null is
    an Ornstein-Uhlenbeck walk whose spread stops growing at about
    ``lr / sqrt(2 * decay)`` after ~``1 / decay`` steps (docs/design.md).
    """
    if not 0 <= decay < 1 or not lr >= 0 or not var >= 0:
        raise ValueError(f'need var >= 0, lr >= 0 and 0 <= decay < 1, got '
                         f'{var!r}, {lr!r}, {decay!r}')
    return (1 - decay)**2 * var + lr**2


def weight_decay_pull(optimizer: torch.optim.Optimizer,
                      param: torch.Tensor) -> float:
    """Fraction of a logit of ``param`` that weight decay takes back in one
    step of ``optimizer`` (its first group's lr and weight_decay).

    * Adam's coupled L2 (``torch.optim.Adam``, DARTS' arch optimiser) adds
      ``wd * alpha`` to the gradient, which Adam then divides by the RMS of
      the gradient: the pull is ``lr * wd / RMS``, with RMS the median over
      ``param``'s entries of the bias-corrected ``sqrt(exp_avg_sq)``. Its
      strength depends on the gradient's scale: with the CamVid search's
      RMS of ~7e-3, wd 1e-3 at lr 3e-2 takes back 0.4% of a logit per step,
      so the logits forget what they learnt more than ~230 steps ago.
    * Decoupled decay (``AdamW``, or ``decoupled_weight_decay=True``):
      ``lr * wd``.
    * 0 without weight decay, before the first step, or for an optimiser
      without Adam's second moment (the null assumes Adam's normalised
      steps).
    """
    group = optimizer.param_groups[0]
    lr, wd = float(group['lr']), float(group.get('weight_decay', 0.0))
    if wd == 0 or lr == 0:
        return 0.0
    if isinstance(optimizer, torch.optim.AdamW) or \
            group.get('decoupled_weight_decay', False):
        return min(lr * wd, 0.5)
    state = optimizer.state.get(param, {})
    if 'exp_avg_sq' not in state or 'step' not in state:
        return 0.0
    beta2 = float(group['betas'][1])
    step = float(state['step'])
    rms = (state['exp_avg_sq'] / (1 - beta2**step)).sqrt().median()
    return min(lr * wd / (float(rms) + float(group.get('eps', 1e-8))), 0.5)


def noise_sigma_from_checkpoint(checkpoint: Dict[str, Any]
                                ) -> Optional[float]:
    """:func:`noise_sigma` of a loaded search checkpoint, or None.

    The hook saves the value it logs, accumulated step by step with each
    step's lr and weight-decay pull (:func:`noise_variance_step`;
    ``checkpoint['arch_update_hook']['noise_sigma']``); older checkpoints
    give the arch step count and the arch optimiser's last lr (which
    understates sigma after a decaying schedule). None when neither is there
    (not a search checkpoint).
    """
    saved = (checkpoint.get('arch_update_hook') or {}).get('noise_sigma')
    if saved is not None:
        return float(saved)
    try:
        steps = int(checkpoint['arch_update_hook']['arch_steps'])
        lr = float(checkpoint['optimizer']['arch']['param_groups'][0]['lr'])
    except (KeyError, IndexError, TypeError):
        return None
    return noise_sigma(steps, lr)


def _check_sigma(sigma: Optional[float]) -> None:
    if sigma is not None and not sigma > 0:
        raise ValueError(f'sigma must be > 0 or None, got {sigma!r}')


# -------------------------------------------------------------- confidence
@dataclass(frozen=True)
class BlockConfidence:
    """One backbone block's choice (§3.3.3: argmax of softmax(alpha))."""
    block: int                 # 1-based
    op: int                    # argmax op, 1-based (paper notation)
    p1: float                  # its probability
    p2: float                  # the runner-up's
    margin: float              # p1 - p2
    gap: float                 # log(p1 / p2), the logit gap
    uncertain: Optional[bool]  # within noise; None when sigma is unknown


@dataclass(frozen=True)
class AttentionConfidence:
    """How far the derived top-k attention set is from changing a member."""
    topk: int
    last: Tuple[int, int]      # (layer, id) of the k-th cell, 1-based
    first_out: Tuple[int, int]  # (layer, id) of the (k+1)-th cell
    w_k: float
    w_next: float
    margin: float              # w_k - w_{k+1}
    gap: float                 # log(w_k / w_{k+1})
    uncertain: Optional[bool]


def _flag(gap: float, n: int, rank: int,
          sigma: Optional[float]) -> Optional[bool]:
    if sigma is None:
        return None
    return gap < gap_quantile(n, rank) * sigma


def backbone_confidence(alpha: torch.Tensor,
                        sigma: Optional[float] = None
                        ) -> List[BlockConfidence]:
    """Margin of every block's choice; ``alpha``: (num_blocks, ops) logits
    (ops: 6, or more with user ops).

    ``sigma`` (:func:`noise_sigma`) turns on the within-noise flag, tested
    against the null of as many ops as ``alpha`` has.
    """
    if alpha.dim() != 2 or alpha.shape[1] < 2:
        raise ValueError('alpha: expected shape (num_blocks, ops), ops >= 2, '
                         f'got {tuple(alpha.shape)}')
    _check_sigma(sigma)
    logits = alpha.detach().double()
    top = logits.topk(2, dim=1)
    probs = logits.softmax(-1).topk(2, dim=1).values
    out = []
    for i in range(logits.shape[0]):
        p1, p2 = float(probs[i, 0]), float(probs[i, 1])
        gap = float(top.values[i, 0] - top.values[i, 1])
        out.append(BlockConfidence(
            block=i + 1, op=int(top.indices[i, 0]) + 1, p1=p1, p2=p2,
            margin=p1 - p2, gap=gap,
            uncertain=_flag(gap, logits.shape[1], 1, sigma)))
    return out


def attention_confidence(beta: torch.Tensor,
                         topk: int,
                         sigma: Optional[float] = None
                         ) -> AttentionConfidence:
    """Margin between the k-th and (k+1)-th unified weight (Eq. 2).

    ``beta``: (L, C) logits (C: 13, or more with user attentions);
    ``topk`` < L * C (with all cells chosen nothing can change).
    """
    if beta.dim() != 2:
        raise ValueError('beta: expected shape (num_layers, candidates), '
                         f'got {tuple(beta.shape)}')
    per_layer = beta.shape[1]
    total = beta.numel()
    if not isinstance(topk, int) or isinstance(topk, bool) or \
            not 1 <= topk < total:
        raise ValueError(f'topk must be an int in 1..{total - 1}, got '
                         f'{topk!r}')
    _check_sigma(sigma)
    logits = beta.detach().double().flatten()
    weights = attention_weights(beta.detach().double()).flatten()
    order = logits.topk(topk + 1)
    k, nxt = order.indices[topk - 1], order.indices[topk]
    gap = float(order.values[topk - 1] - order.values[topk])

    def cell(flat):
        return (int(flat) // per_layer + 1, int(flat) % per_layer + 1)

    return AttentionConfidence(
        topk=topk, last=cell(k), first_out=cell(nxt), w_k=float(weights[k]),
        w_next=float(weights[nxt]),
        margin=float(weights[k] - weights[nxt]), gap=gap,
        uncertain=_flag(gap, total, topk, sigma))


def confidence_record(alpha: Optional[torch.Tensor],
                      beta: torch.Tensor,
                      topk: int,
                      sigma: Optional[float] = None) -> Dict[str, Any]:
    """JSON-ready margins for a log line / ``arch_history.jsonl``.

    Keys: ``alpha_margin`` (list, per block, or None), ``alpha_gap``,
    ``beta_margin``, ``beta_gap``, ``sigma`` and ``uncertain`` (the names of
    :func:`uncertain_names`; empty when ``sigma`` is None).
    """
    blocks = None if alpha is None else backbone_confidence(alpha, sigma)
    att = attention_confidence(beta, topk, sigma)
    return dict(
        alpha_margin=None if blocks is None else [b.margin for b in blocks],
        alpha_gap=None if blocks is None else [b.gap for b in blocks],
        beta_margin=att.margin, beta_gap=att.gap, sigma=sigma,
        uncertain=uncertain_names(blocks or [], att))


def uncertain_names(blocks: Sequence[BlockConfidence],
                    attention: Optional[AttentionConfidence] = None
                    ) -> List[str]:
    """``['block 3', ..., 'attention top-4']``: the choices within noise."""
    names = [f'block {b.block}' for b in blocks if b.uncertain]
    if attention is not None and attention.uncertain:
        names.append(f'attention top-{attention.topk}')
    return names


def _yes_no(flag: Optional[bool]) -> str:
    return '?' if flag is None else ('within noise' if flag else 'clear')


def confidence_table(alpha: Optional[torch.Tensor],
                     beta: torch.Tensor,
                     topk: int,
                     sigma: Optional[float] = None
                     ) -> Tuple[str, List[str]]:
    """(text table, names of the choices within noise).

    One row per block (block, argmax op, p1, p2, margin, gap / sigma, flag)
    and one for the attention's top-k boundary. Without ``sigma`` the flag
    column reads '?' and no name is returned.
    """
    blocks = [] if alpha is None else backbone_confidence(alpha, sigma)
    att = attention_confidence(beta, topk, sigma)
    num_ops = NUM_OPS if alpha is None else alpha.shape[1]
    rule = ('noise scale unknown (no arch lr / step count): not flagged'
            if sigma is None else
            f'within noise: logit gap < q95 x sigma, sigma {sigma:.3g} '
            f'(q95 {gap_quantile(num_ops, 1):.2f} for a block, '
            f'{gap_quantile(beta.numel(), topk):.2f} for the attention)')
    lines = [f'confidence ({rule})',
             f'{"block":>5}  {"op":>2}  {"p1":>6}  {"p2":>6}  {"margin":>7}'
             f'  {"gap/sigma":>9}  flag']

    def score(gap):
        return '-' if sigma is None else f'{gap / sigma:.2f}'

    for b in blocks:
        lines.append(f'{b.block:>5}  {b.op:>2}  {b.p1:>6.3f}  {b.p2:>6.3f}  '
                     f'{b.margin:>7.4f}  {score(b.gap):>9}  '
                     f'{_yes_no(b.uncertain)}')
    lines.append(
        f'attention top-{att.topk}: k-th AttSet{att.last[0]} Att{att.last[1]}'
        f' w {att.w_k:.4f}, next AttSet{att.first_out[0]} '
        f'Att{att.first_out[1]} w {att.w_next:.4f}, margin {att.margin:.4f}, '
        f'gap/sigma {score(att.gap)}  {_yes_no(att.uncertain)}')
    names = uncertain_names(blocks, att)
    if sigma is not None:
        lines.append(f'{len(names)} choice(s) within noise' +
                     (f': {", ".join(names)}' if names else ''))
    return '\n'.join(lines), names
