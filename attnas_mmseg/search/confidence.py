"""How sure a search is of its answer, and whether K searches agree.

§3.3.3 derives the argmax op of each block from softmax(alpha) (Eq. 1) and the
top-k cells of the unified weights softmax(beta.flatten()) (Eq. 2). Neither
says how far the choice is from a tie. This module measures it:

* **Margins.** Per block, ``p1 - p2``, the gap between the two largest
  softmax(alpha[i]) probabilities; for the attention, ``w_k - w_{k+1}``, the
  gap between the k-th and (k+1)-th largest unified weights, i.e. how far the
  top-k set is from swapping a member. Both are also given as logit gaps,
  ``log(p1 / p2)`` and ``log(w_k / w_{k+1})``.

* **Within noise** (the rule :func:`backbone_confidence` and
  :func:`attention_confidence` apply). A choice is within noise when its logit
  gap is below what the same number of arch steps would produce from gradients
  that are pure noise::

      gap < q_0.95(n, r) * sigma,     sigma = sqrt(init_std**2 + lr**2 * steps)

  Why this null: Adam divides each step by a running RMS of the gradient, so
  under zero-mean gradient noise every logit takes steps of size ~``lr`` whose
  sum over ``steps`` steps is ~N(0, lr**2 * steps) (the first moment's EMA
  sums to the sum of the gradients; the scale of the noise cancels). The
  logits start as N(0, init_std**2) (DARTS' 1e-3 * randn). Under the null the
  n logits of a block are i.i.d. N(0, sigma**2), and ``q_0.95(n, r)`` is the
  95th percentile of the gap between the r-th and (r+1)-th largest of n
  standard normals (:func:`gap_quantile`: r=1 of n=6 for a block, r=k of
  n=13*L for the attention). A real preference (mean gradient mu against noise
  s) grows the gap as lr * steps * mu / s, noise only as lr * sqrt(steps), so
  the flag is a one-sided test at 5% of "this choice is a draw of the noise",
  and it clears with more arch steps exactly when the preference is real. It
  assumes gradient noise independent across steps (positively correlated
  noise, e.g. from slowly moving weights, widens the walk and lets more noise
  pass as clear). It needs no history and no threshold to tune, only the arch
  optimiser's lr and step count (both in a search checkpoint:
  :func:`noise_sigma_from_checkpoint`). Checked by simulation
  (tests/search/test_confidence.py): Adam with the search's settings on pure
  noise ends with logit std sigma (0.206 vs 0.203 after 46 steps at 3e-2,
  0.0096 vs 0.0095 after 1000 at 3e-4), and 94.6-95.5% of its blocks are
  flagged. Evidence on real data: the CamVid demo search (46 arch steps at lr
  3e-2) ended with mean entropy of softmax(alpha) 1.775 against ln 6 = 1.792;
  for small logits H ~ ln 6 - (5/12) sigma**2, so its logits spread with sigma
  ~ 0.20, the null's 3e-2 * sqrt(46) = 0.20: its backbone was a draw of the
  noise, as issue 8 found by re-running it. A fixed threshold in probability
  (e.g. a fraction of 1/6) ignores the budget: the same margin is noise after
  46 steps at lr 3e-2 (sigma 0.20) and signal after the paper's ~18,600 steps
  at lr 3e-4 (sigma 0.04). With a decaying arch lr, pass its root mean square
  over the steps as ``arch_lr``.

* **Weight decay shortens the memory** (measured on CamVid; the hook
  accounts for it). DARTS' arch optimiser is Adam with coupled L2
  (``weight_decay=1e-3``): each step adds ``wd * alpha`` to the gradient
  before Adam divides by the gradient's RMS, so a logit is pulled back by a
  fraction ``lr * wd / RMS`` per step (:func:`weight_decay_pull`) and both
  noise and preference settle instead of growing: the null becomes an
  Ornstein-Uhlenbeck walk, ``var <- (1 - pull)**2 * var + lr**2``
  (:func:`noise_variance_step`), whose spread saturates at
  ``lr / sqrt(2 * pull)``, and a preference mu saturates at ``mu / wd``. At
  the paper's lr (3e-4) the pull is ~4e-5 per step and hardly matters over
  its ~18,600 steps; at a 100x larger arch lr with the same wd it is 100x
  stronger: the CamVid searches' centred alpha had a spread of 0.28 after
  460 steps and 0.21 after 3,680, where the walk without decay predicts 0.39
  and 1.11 (``docs/design.md``, "Why alpha does not separate"). The hook
  therefore accumulates the variance step by step with each step's lr and
  pull, and saves the resulting sigma in the checkpoint.

* **Agreement** across K searches: per block, the fraction of runs choosing
  the modal op and whether all agree; for the attention, how many runs share
  the modal set of (layer, id) cells and the mean pairwise Jaccard index of
  those sets, each beside its value for K uniformly random architectures.
"""
import functools
import itertools
import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Tuple

import torch

from .arch_spec import ArchSpec
from .attention_space import attention_weights
from .candidates import NUM_ATTENTIONS, NUM_OPS

#: One-sided level of the noise test (module doc).
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
    ``sqrt(init_std**2 + arch_lr**2 * arch_steps)`` (module doc)."""
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
    ``lr / sqrt(2 * decay)`` after ~``1 / decay`` steps (module doc).
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
    """Margin of every block's choice; ``alpha``: (num_blocks, 6) logits.

    ``sigma`` (:func:`noise_sigma`) turns on the within-noise flag.
    """
    if alpha.dim() != 2 or alpha.shape[1] != NUM_OPS:
        raise ValueError(f'alpha: expected shape (num_blocks, {NUM_OPS}), '
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
            uncertain=_flag(gap, NUM_OPS, 1, sigma)))
    return out


def attention_confidence(beta: torch.Tensor,
                         topk: int,
                         sigma: Optional[float] = None
                         ) -> AttentionConfidence:
    """Margin between the k-th and (k+1)-th unified weight (Eq. 2).

    ``beta``: (L, 13) logits; ``topk`` < L * 13 (with all cells chosen
    nothing can change).
    """
    if beta.dim() != 2 or beta.shape[1] != NUM_ATTENTIONS:
        raise ValueError(f'beta: expected shape (num_layers, {NUM_ATTENTIONS})'
                         f', got {tuple(beta.shape)}')
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
        return (int(flat) // NUM_ATTENTIONS + 1,
                int(flat) % NUM_ATTENTIONS + 1)

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
    rule = ('noise scale unknown (no arch lr / step count): not flagged'
            if sigma is None else
            f'within noise: logit gap < q95 x sigma, sigma {sigma:.3g} '
            f'(q95 {gap_quantile(NUM_OPS, 1):.2f} for a block, '
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


# --------------------------------------------------------------- agreement
@dataclass(frozen=True)
class BlockAgreement:
    """Block ``block``'s op across K runs."""
    block: int
    ops: Tuple[int, ...]
    modal_op: int
    fraction: float            # runs choosing modal_op / K
    unanimous: bool


@dataclass(frozen=True)
class AttentionAgreement:
    """The derived attention sets of K runs, as sets of (layer, id) cells."""
    sets: Tuple[FrozenSet[Tuple[int, int]], ...]
    modal_count: int           # runs sharing the most common set
    identical: bool            # all K sets equal
    mean_jaccard: float        # over the K(K-1)/2 pairs
    pairwise: Tuple[Tuple[float, ...], ...]  # K x K Jaccard matrix


def _check_specs(specs: Sequence[ArchSpec]) -> None:
    if len(specs) < 2:
        raise ValueError(f'specs: need at least 2 architectures to compare, '
                         f'got {len(specs)}')


def backbone_agreement(specs: Sequence[ArchSpec]) -> List[BlockAgreement]:
    """Per block: the modal op, the fraction of runs choosing it, unanimity.
    """
    _check_specs(specs)
    codes = [s.backbone for s in specs]
    if any(c is None for c in codes):
        raise ValueError('specs: every architecture needs a backbone code to '
                         'compare backbones')
    out = []
    for i, ops in enumerate(zip(*codes)):
        # ties go to the smallest op, so the result does not depend on order
        modal, count = min(Counter(ops).items(), key=lambda t: (-t[1], t[0]))
        out.append(BlockAgreement(block=i + 1, ops=tuple(ops), modal_op=modal,
                                  fraction=count / len(ops),
                                  unanimous=count == len(ops)))
    return out


def attention_cells(spec: ArchSpec) -> FrozenSet[Tuple[int, int]]:
    """The derived attentions as a set of (layer, id), both 1-based."""
    return frozenset((layer + 1, att) for layer, ids in
                     enumerate(spec.attention) for att in ids)


def jaccard(a: FrozenSet, b: FrozenSet) -> float:
    """|a & b| / |a | b| (1 for two empty sets)."""
    union = len(a | b)
    return 1.0 if union == 0 else len(a & b) / union


def attention_agreement(specs: Sequence[ArchSpec]) -> AttentionAgreement:
    """How many runs share the modal set, and the mean pairwise Jaccard."""
    _check_specs(specs)
    sets = tuple(attention_cells(s) for s in specs)
    modal_count = Counter(sets).most_common(1)[0][1]
    pairwise = tuple(tuple(jaccard(a, b) for b in sets) for a in sets)
    pairs = [jaccard(a, b) for a, b in itertools.combinations(sets, 2)]
    return AttentionAgreement(
        sets=sets, modal_count=modal_count, identical=modal_count == len(sets),
        mean_jaccard=sum(pairs) / len(pairs), pairwise=pairwise)


def chance_unanimous_blocks(num_runs: int, num_blocks: int = 17) -> float:
    """Expected unanimous blocks among ``num_runs`` uniformly random codes:
    ``num_blocks * 6**(1 - num_runs)`` (17/6 = 2.8 for two runs)."""
    return num_blocks * NUM_OPS**(1 - num_runs)


def chance_jaccard(num_cells: int, topk: int) -> float:
    """Expected Jaccard index of two uniformly random ``topk``-subsets of
    ``num_cells`` cells (hypergeometric overlap; 0.09 for top-4 of 26)."""
    if not 1 <= topk <= num_cells:
        raise ValueError(f'topk must be in 1..{num_cells}, got {topk}')
    total = math.comb(num_cells, topk)
    return sum(math.comb(topk, j) * math.comb(num_cells - topk, topk - j) /
               total * j / (2 * topk - j) for j in range(topk + 1))


def agreement_summary(specs: Sequence[ArchSpec]) -> Dict[str, Any]:
    """Both agreements and their chance levels as a JSON-ready dict."""
    att = attention_agreement(specs)
    out: Dict[str, Any] = dict(num_runs=len(specs),
                               archs=[str(s) for s in specs])
    if all(s.backbone is not None for s in specs):
        blocks = backbone_agreement(specs)
        out['backbone'] = dict(
            blocks=[asdict(b) for b in blocks],
            unanimous=sum(b.unanimous for b in blocks),
            chance_unanimous=chance_unanimous_blocks(len(specs),
                                                     len(blocks)),
            mean_fraction=sum(b.fraction for b in blocks) / len(blocks))
    num_cells = max(s.num_layers for s in specs) * NUM_ATTENTIONS
    sizes = {len(c) for c in att.sets}
    out['attention'] = dict(
        sets=[sorted(c) for c in att.sets], modal_count=att.modal_count,
        identical=att.identical, mean_jaccard=att.mean_jaccard,
        pairwise=[list(r) for r in att.pairwise],
        chance_jaccard=chance_jaccard(num_cells, sizes.pop())
        if len(sizes) == 1 else None)
    return out
