"""The statistics of how well a scorer ranks networks against a trained
ground truth.

Statistics of a score vector ``x`` against the truth ``y`` (one entry per
network, higher = better in both):

* :func:`kendall_tau` (tau-b: ties in either vector count half) and
  :func:`spearman_rho`, with :func:`bootstrap_interval`: the percentile
  interval (90% by default) of the statistic over :data:`BOOTSTRAP_RESAMPLES`
  resamples of the networks with replacement, seeded;
* :func:`partial_kendall_tau`: tau of x and y with a control z (FLOPs)
  partialled out, ``(t_xy - t_xz t_yz) / sqrt((1 - t_xz^2)(1 - t_yz^2))``,
  NaN where z orders x or y perfectly (|t| = 1: undefined);
* :func:`precision_at_top`: the fraction of the scorer's top 25% that are in
  the truth's top 25%;
* :func:`best_pick_rank`: the truth's rank (1 = best) of the scorer's pick;
* :func:`noise_ceiling`: tau between two training seeds' mIoU of the same
  networks (the mean over seed pairs with more), what a scorer is up
  against;
* :func:`noise_components`: the seed std, the networks' true spread
  under it, and the tau a scorer that knew the true order would be expected
  to reach against the mean of the seeds (the attainable tau).

The ground truth they are taken against, and the table's rows:
:mod:`.ground_truth`.
"""
import itertools
import math
import warnings
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
from scipy import stats

#: Resamples of the bootstrap interval (percentile method).
BOOTSTRAP_RESAMPLES = 2000
#: Two-sided level of the bootstrap interval.
CI_LEVEL = 0.9
#: The top fraction :func:`precision_at_top` compares.
TOP_FRACTION = 0.25


def _vector(values: Sequence[float], name: str) -> np.ndarray:
    out = np.asarray(values, dtype=np.float64).reshape(-1)
    if np.isnan(out).any():
        raise ValueError(f'{name}: holds NaN at positions '
                         f'{np.flatnonzero(np.isnan(out)).tolist()}')
    return out


def _pair(x: Sequence[float], y: Sequence[float]
          ) -> Tuple[np.ndarray, np.ndarray]:
    x, y = _vector(x, 'x'), _vector(y, 'y')
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f'x, y: need two vectors of one length >= 2, got '
                         f'{len(x)} and {len(y)}')
    return x, y


def _quiet(func: Callable, *args) -> float:
    """scipy's statistic, NaN (no warning) when a vector is constant."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return float(func(*args).statistic)


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b; NaN when x or y is constant."""
    return _quiet(stats.kendalltau, *_pair(x, y))


def spearman_rho(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho (Pearson's r of the mid-ranks); NaN when constant."""
    return _quiet(stats.spearmanr, *_pair(x, y))


def partial_kendall_tau(x: Sequence[float], y: Sequence[float],
                        z: Sequence[float]) -> float:
    """Kendall's partial tau of x and y given z; NaN where undefined."""
    x, y = _pair(x, y)
    z = _pair(x, z)[1]
    t_xy, t_xz, t_yz = kendall_tau(x, y), kendall_tau(x, z), kendall_tau(y, z)
    denom = (1 - t_xz ** 2) * (1 - t_yz ** 2)
    if not denom > 1e-12:  # also NaN
        return math.nan
    return (t_xy - t_xz * t_yz) / math.sqrt(denom)


def bootstrap_interval(statistic: Callable[[np.ndarray], float], n: int,
                       n_resamples: int = BOOTSTRAP_RESAMPLES,
                       level: float = CI_LEVEL,
                       seed: int = 0) -> Tuple[float, float]:
    """The percentile interval of ``statistic(indices)`` over resamples of
    ``range(n)`` with replacement. Resamples where the statistic is
    undefined (NaN: e.g. all one network) are left out; (NaN, NaN) if all
    are."""
    if not 0 < level < 1:
        raise ValueError(f'level must be in (0, 1), got {level!r}')
    if not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f'n_resamples must be an int >= 1, got '
                         f'{n_resamples!r}')
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, n))
                       for _ in range(n_resamples)])
    values = values[~np.isnan(values)]
    if not len(values):
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _top_set(values: np.ndarray, fraction: float) -> np.ndarray:
    """Indices scoring at least the k-th highest value, k = ceil(f n)
    (all of a tie at the cut)."""
    k = max(1, math.ceil(fraction * len(values)))
    return np.flatnonzero(values >= np.sort(values)[::-1][k - 1])


def precision_at_top(scores: Sequence[float], truth: Sequence[float],
                     fraction: float = TOP_FRACTION) -> float:
    """|scorer's top ∩ truth's top| / |scorer's top|, a top being the
    networks at or above the k-th best value, k = ceil(fraction * n); a
    constant scorer gets the chance rate."""
    if not 0 < fraction <= 1:
        raise ValueError(f'fraction must be in (0, 1], got {fraction!r}')
    x, y = _pair(scores, truth)
    picked = _top_set(x, fraction)
    return len(np.intersect1d(picked, _top_set(y, fraction))) / len(picked)


def truth_ranks(truth: Sequence[float]) -> np.ndarray:
    """1 + the number of networks with a strictly higher truth (1 = best;
    tied networks share the best rank of the tie)."""
    y = _vector(truth, 'truth')
    return 1 + (y[None, :] > y[:, None]).sum(1)


def best_pick_rank(scores: Sequence[float], truth: Sequence[float]) -> float:
    """The truth rank of the network the scorer puts first; with several
    tied first, the mean of their ranks (the expected rank of a random pick
    among them)."""
    x, y = _pair(scores, truth)
    return float(truth_ranks(y)[x == x.max()].mean())


def noise_ceiling(miou: Mapping[str, Sequence[float]]) -> Optional[float]:
    """Mean tau over pairs of seeds of their mIoU vectors (same networks,
    same order); None with fewer than two seeds."""
    pairs = list(itertools.combinations(sorted(miou), 2))
    if not pairs:
        return None
    return float(np.mean([kendall_tau(miou[a], miou[b]) for a, b in pairs]))


def _normal_tau(r: float) -> float:
    """Kendall's tau of a bivariate normal with correlation ``r``:
    (2 / pi) arcsin(r) (Greiner's relation)."""
    return 2 / math.pi * math.asin(max(-1.0, min(1.0, r)))


def noise_components(miou: Mapping[str, Sequence[float]]) -> Dict[str, Any]:
    """What the seeds' noise leaves of the networks' order, from
    ``miou[seed]`` (one vector per seed, same networks, >= 2 of each), with
    k seeds, one-way random effects:

    * ``within_std``: the seeds' std (ddof 1) pooled over the networks (the
      root of the mean per-network variance);
    * ``between_std``: the std (ddof 1) of the networks' mean over the
      seeds; its square estimates ``true_var + within_var / k``;
    * ``true_between_std``: the root of ``between_var - within_var / k``
      (0 where negative): how much the networks really differ;
    * ``reliability``: ``true_var / between_var``, the share of the means'
      spread that is the networks' and not the seeds';
    * ``attainable_tau``: the tau against the means of a scorer that knows
      the true order exactly, ``_normal_tau(sqrt(reliability))`` (normal
      approximation), the most any scorer can be expected to reach;
    * ``expected_seed_tau``: the seed-vs-seed tau the same model predicts,
      ``_normal_tau(true_var / (true_var + within_var))``, beside the
      measured :func:`noise_ceiling` as a check of the model.
    """
    seeds = sorted(miou)
    if len(seeds) < 2:
        raise ValueError(f'noise components: need >= 2 seeds, got {seeds}')
    runs = np.stack([_vector(miou[s], f'miou[{s!r}]') for s in seeds], 1)
    if runs.shape[0] < 2:
        raise ValueError('noise components: need >= 2 networks')
    k = runs.shape[1]
    within_var = float(runs.var(axis=1, ddof=1).mean())
    between_var = float(runs.mean(axis=1).var(ddof=1))
    true_var = max(0.0, between_var - within_var / k)
    reliability = true_var / between_var if between_var > 0 else 0.0
    single = true_var + within_var
    return dict(
        seeds=seeds, within_std=math.sqrt(within_var),
        between_std=math.sqrt(between_var),
        true_between_std=math.sqrt(true_var), reliability=reliability,
        attainable_tau=_normal_tau(math.sqrt(reliability)),
        expected_seed_tau=_normal_tau(true_var / single) if single > 0
        else math.nan)
