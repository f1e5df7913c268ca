"""A trained ground truth of networks (issue 17) and the rows of the
scorer table against it.

:data:`GROUND_TRUTH_FORMAT` is the file ``benchmarks/rank_ground_truth.py``
writes; :func:`check_ground_truth` validates one (its producer calls it
before writing) and :func:`load_ground_truth` reads one, as a
:class:`GroundTruth`. Against it, with the statistics of
:mod:`.rank_stats`: :func:`scorer_row` (every statistic of one scorer),
:func:`ceiling_row` (one training seed scoring another) and
:func:`pick_rows` (where each search's pick, trained like the others, lands
among the sampled networks: rank, top 25%, z against their spread, and z
against their FLOPs trend).
"""
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import numpy as np

from .rank_stats import (BOOTSTRAP_RESAMPLES, TOP_FRACTION, _pair, _vector,
                         best_pick_rank, bootstrap_interval, kendall_tau,
                         noise_ceiling, partial_kendall_tau,
                         precision_at_top, spearman_rho)

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
    #: each network's ``source`` ('' where the file has none)
    sources: Tuple[str, ...]
    setting: Dict[str, Any] = field(default_factory=dict)

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
            sources=tuple(self.sources[i] for i in idx),
            setting=dict(self.setting))

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
    seeds = sorted(set.intersection(*(set(r[5]) for r in rows)))
    truth = GroundTruth(
        names=tuple(r[0] for r in rows), specs=tuple(r[1] for r in rows),
        flops_G=np.array([r[2] for r in rows]),
        params_M=np.array([r[3] for r in rows]),
        mean=np.array([r[4] for r in rows]),
        miou={s: np.array([r[5][s] for r in rows]) for s in seeds},
        sources=tuple(r[6] for r in rows), setting=dict(setting))
    sampled = int((~truth.searched).sum())
    if sampled < 2:
        raise ValueError(f'networks: need at least 2 that are not a '
                         f'search\'s pick (source "{SEARCHED}:..."), got '
                         f'{sampled}')
    return truth


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
    their standard deviation, ddof 1), ``above_one_std`` (z > 1) and
    ``z_flops``: its distance from the sampled networks' least-squares line
    of mean mIoU on FLOPs, taken at its own FLOPs, in their residual std
    (ddof 2), i.e. z with the ground truth's size trend taken out (a pick
    at the median FLOPs is otherwise held against the larger networks; NaN
    with fewer than 3 sampled networks or one FLOPs value)."""
    sampled = truth.sampled()
    pool = sampled.mean
    centre, spread = float(pool.mean()), float(pool.std(ddof=1))
    slope = intercept = residual_sd = math.nan
    if len(pool) > 2 and np.ptp(sampled.flops_G) > 0:
        slope, intercept = np.polyfit(sampled.flops_G, pool, 1)
        residual = pool - (intercept + slope * sampled.flops_G)
        residual_sd = math.sqrt(float(residual @ residual) / (len(pool) - 2))
        # an exact line leaves a rounding residual, not a spread
        if residual_sd <= 1e-9 * max(1.0, abs(centre)):
            residual_sd = math.nan
    rows = {}
    for i in np.flatnonzero(truth.searched):
        mean = float(truth.mean[i])
        better = int((pool > mean).sum())
        z = (mean - centre) / spread if spread > 0 else math.nan
        z_flops = (mean - intercept - slope * truth.flops_G[i]) / residual_sd
        rows[truth.names[i]] = dict(
            spec=truth.specs[i], source=truth.sources[i],
            flops_G=float(truth.flops_G[i]),
            miou={s: float(v[i]) for s, v in truth.miou.items()},
            mean=mean, rank=better + 1, of=len(pool),
            top=better <= TOP_FRACTION * len(pool), z=z,
            above_one_std=bool(z > 1), z_flops=float(z_flops))
    return rows
