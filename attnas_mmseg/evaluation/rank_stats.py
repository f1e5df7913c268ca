"""How well a scorer ranks networks against a trained ground truth.

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
  to reach against the mean of the seeds (the attainable tau);
* :func:`pick_rows`: where each search's pick, trained like the others,
  lands among the sampled networks (rank, top 25%, z against their spread).

The ground truth file is :data:`GROUND_TRUTH_FORMAT`;
:func:`check_ground_truth` validates one (its producer should call it before
writing) and :func:`load_ground_truth` reads one.
"""
import itertools
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
from scipy import stats

#: Resamples of the bootstrap interval (percentile method).
BOOTSTRAP_RESAMPLES = 2000
#: Two-sided level of the bootstrap interval.
CI_LEVEL = 0.9
#: The top fraction :func:`precision_at_top` compares.
TOP_FRACTION = 0.25

GROUND_TRUTH_FORMAT = """\
{"networks": [{"name": str (unique),
               "spec": str (the paper notation of the network),
               "flops_G": float > 0, "params_M": float > 0,
               "miou": {seed (str): mIoU (float), ...} (at least one),
               "mean": float (the mean of "miou"),
               "source": str (optional; "searched:ARCH_FILE" marks a
                              search's pick), ...}, ... (at least 2)],
 "setting": {...} (how the networks were trained; free-form)}"""
#: A ``source`` that starts with this marks a search's pick: it is ranked
#: against the sampled networks (:func:`pick_rows`), not among them.
SEARCHED = 'searched'


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


# ------------------------------------------------------------ ground truth
@dataclass(frozen=True)
class GroundTruth:
    """A validated ground truth (:data:`GROUND_TRUTH_FORMAT`), as vectors in
    the order of ``names``. ``miou`` holds the seeds every network has."""
    names: Tuple[str, ...]
    specs: Tuple[str, ...]
    flops_G: np.ndarray
    params_M: np.ndarray
    mean: np.ndarray
    miou: Dict[str, np.ndarray]
    setting: Dict[str, Any] = field(default_factory=dict)
    #: each network's ``source`` ('' where the file has none)
    sources: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.sources:
            object.__setattr__(self, 'sources', ('', ) * len(self.names))

    @property
    def searched(self) -> np.ndarray:
        """Which networks are a search's picks (:data:`SEARCHED`)."""
        return np.array([s.startswith(SEARCHED) for s in self.sources],
                        dtype=bool)

    def subset(self, keep: np.ndarray) -> 'GroundTruth':
        """The networks where the boolean mask ``keep`` is True (the seeds
        every one of them has are the ones kept)."""
        idx = np.flatnonzero(keep)
        return GroundTruth(
            names=tuple(self.names[i] for i in idx),
            specs=tuple(self.specs[i] for i in idx),
            flops_G=self.flops_G[idx], params_M=self.params_M[idx],
            mean=self.mean[idx], miou={s: v[idx] for s, v in
                                       self.miou.items()},
            setting=dict(self.setting),
            sources=tuple(self.sources[i] for i in idx))

    def sampled(self) -> 'GroundTruth':
        """The networks that are not a search's pick: the set a scorer is
        judged on."""
        return self.subset(~self.searched)

    def ordered(self, scores: Mapping[str, float], name: str = 'scores'
                ) -> np.ndarray:
        """``scores`` as a vector in the order of ``names``."""
        missing = [n for n in self.names if n not in scores]
        if missing:
            raise ValueError(f'{name}: no score for {len(missing)} of the '
                             f'{len(self.names)} networks, e.g. '
                             f'{missing[:3]}')
        return _vector([scores[n] for n in self.names], name)


def _number(value: Any, where: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or (positive and value <= 0):
        kind = 'a finite number > 0' if positive else 'a finite number'
        raise ValueError(f'{where}: expected {kind}, got {value!r}')
    return float(value)


def check_ground_truth(data: Any) -> GroundTruth:
    """``data`` (the parsed JSON) validated; ValueError naming the field."""
    if not isinstance(data, dict) or not isinstance(data.get('networks'),
                                                    list):
        raise ValueError('ground truth: expected a dict with a "networks" '
                         'list; format:\n' + GROUND_TRUTH_FORMAT)
    setting = data.get('setting', {})
    if not isinstance(setting, dict):
        raise ValueError(f'setting: expected a dict, got '
                         f'{type(setting).__name__}')
    nets = data['networks']
    if len(nets) < 2:
        raise ValueError(f'networks: need at least 2 to rank, got '
                         f'{len(nets)}')
    rows, seen = [], set()
    for i, net in enumerate(nets):
        where = f'networks[{i}]'
        if not isinstance(net, dict):
            raise ValueError(f'{where}: expected a dict, got '
                             f'{type(net).__name__}')
        for key in ('name', 'spec', 'flops_G', 'params_M', 'miou', 'mean'):
            if key not in net:
                raise ValueError(f'{where}: missing "{key}"; format:\n'
                                 + GROUND_TRUTH_FORMAT)
        name = net['name']
        if not isinstance(name, str) or not name or name in seen:
            raise ValueError(f'{where}.name: expected a unique non-empty '
                             f'str, got {name!r}')
        seen.add(name)
        if not isinstance(net['spec'], str) or not net['spec']:
            raise ValueError(f'{where}.spec: expected the paper notation '
                             f'(str), got {net["spec"]!r}')
        miou = net['miou']
        if not isinstance(miou, dict) or not miou:
            raise ValueError(f'{where}.miou: expected {{seed: mIoU}} with at '
                             f'least one seed, got {miou!r}')
        miou = {str(s): _number(v, f'{where}.miou[{s!r}]')
                for s, v in miou.items()}
        mean = _number(net['mean'], f'{where}.mean')
        average = float(np.mean(list(miou.values())))
        if abs(mean - average) > 1e-3 * max(1.0, abs(average)):
            raise ValueError(f'{where}.mean: {mean} is not the mean of its '
                             f'miou values ({average})')
        source = net.get('source', '')
        if not isinstance(source, str):
            raise ValueError(f'{where}.source: expected a str, got '
                             f'{source!r}')
        rows.append((name, net['spec'],
                     _number(net['flops_G'], f'{where}.flops_G', True),
                     _number(net['params_M'], f'{where}.params_M', True),
                     mean, miou, source))
    sampled = [r for r in rows if not r[6].startswith(SEARCHED)]
    if len(sampled) < 2:
        raise ValueError(f'networks: need at least 2 that are not a '
                         f'search\'s pick (source "{SEARCHED}:..."), got '
                         f'{len(sampled)}')
    seeds = sorted(set.intersection(*(set(r[5]) for r in rows)))
    return GroundTruth(
        names=tuple(r[0] for r in rows), specs=tuple(r[1] for r in rows),
        flops_G=np.array([r[2] for r in rows]),
        params_M=np.array([r[3] for r in rows]),
        mean=np.array([r[4] for r in rows]),
        miou={s: np.array([r[5][s] for r in rows]) for s in seeds},
        setting=dict(setting), sources=tuple(r[6] for r in rows))


def load_ground_truth(path: str) -> GroundTruth:
    """:func:`check_ground_truth` of the JSON file at ``path``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f'ground truth: {path} is not a file')
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f'ground truth: {path} is not JSON ({err})') from None
    try:
        return check_ground_truth(data)
    except ValueError as err:
        raise ValueError(f'{path}: {err}') from None


# ------------------------------------------------------------------ table
def _interval(statistic: Callable[[np.ndarray], float], n: int,
              n_resamples: int, seed: int) -> Optional[list]:
    if not n_resamples:
        return None
    return list(bootstrap_interval(statistic, n, n_resamples, seed=seed))


def scorer_row(scores: np.ndarray, truth: GroundTruth,
               n_resamples: int = BOOTSTRAP_RESAMPLES,
               seed: int = 0) -> Dict[str, Any]:
    """Every statistic of one scorer against the truth's mean mIoU (its
    intervals from one set of resamples; none with ``n_resamples=0``)."""
    x, y = _pair(scores, truth.mean)
    return dict(
        tau=kendall_tau(x, y),
        tau_ci=_interval(lambda i: kendall_tau(x[i], y[i]), len(x),
                         n_resamples, seed),
        rho=spearman_rho(x, y),
        rho_ci=_interval(lambda i: spearman_rho(x[i], y[i]), len(x),
                         n_resamples, seed),
        partial_tau_flops=partial_kendall_tau(x, y, truth.flops_G),
        precision_top25=precision_at_top(x, y),
        best_pick_rank=best_pick_rank(x, y),
        best_pick=truth.names[int(np.argmax(x))])


def ceiling_row(truth: GroundTruth, n_resamples: int = BOOTSTRAP_RESAMPLES,
                seed: int = 0) -> Optional[Dict[str, Any]]:
    """The noise ceiling: the statistics of one seed's mIoU scoring
    another's, averaged over ordered seed pairs; None with < 2 seeds."""
    pairs = list(itertools.permutations(sorted(truth.miou), 2))
    if not pairs:
        return None
    m = truth.miou

    def mean_over_pairs(func: Callable, idx: np.ndarray) -> float:
        return float(np.mean([func(m[a][idx], m[b][idx]) for a, b in pairs]))

    every = np.arange(len(truth.names))
    return dict(
        tau=noise_ceiling(m),
        tau_ci=_interval(lambda i: mean_over_pairs(kendall_tau, i),
                         len(every), n_resamples, seed),
        rho=mean_over_pairs(spearman_rho, every),
        rho_ci=_interval(lambda i: mean_over_pairs(spearman_rho, i),
                         len(every), n_resamples, seed),
        partial_tau_flops=mean_over_pairs(
            lambda a, b: partial_kendall_tau(a, b, truth.flops_G), every),
        precision_top25=mean_over_pairs(precision_at_top, every),
        best_pick_rank=mean_over_pairs(best_pick_rank, every),
        seeds=sorted(m))


def pick_rows(truth: GroundTruth) -> Dict[str, Dict[str, Any]]:
    """Where each search's pick in ``truth`` (:data:`SEARCHED`) lands among
    its sampled networks, by mean mIoU: ``rank`` (1 + the sampled networks
    strictly better: 1 = it would be the best), ``top`` (at most
    :data:`TOP_FRACTION` of them better), ``z`` (its mean minus theirs, in
    their standard deviation, ddof 1) and ``above_one_std`` (z > 1)."""
    pool = truth.sampled().mean
    centre, spread = float(pool.mean()), float(pool.std(ddof=1))
    rows = {}
    for i in np.flatnonzero(truth.searched):
        mean = float(truth.mean[i])
        better = int((pool > mean).sum())
        z = (mean - centre) / spread if spread > 0 else math.nan
        rows[truth.names[i]] = dict(
            spec=truth.specs[i], source=truth.sources[i],
            flops_G=float(truth.flops_G[i]),
            miou={s: float(v[i]) for s, v in truth.miou.items()},
            mean=mean, rank=better + 1, of=len(pool),
            top=better <= TOP_FRACTION * len(pool), z=z,
            above_one_std=bool(z > 1))
    return rows
