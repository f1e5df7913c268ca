"""Searching a trained supernet's best subnet by evolution (SPOS style).

:func:`search_subnet` prices candidates with the search config's FLOPs table
and/or a latency LUT, scores those inside the windows by their mIoU with
inherited weights (:class:`~.subnet_evaluator.SubnetEvaluator`), evolves them
(:class:`~attnas_mmseg.search.evolution.EvolutionSearch`) and writes the best
as ``arch.json`` + ``retrain.py``. ``work_dir`` keeps the run: the state
after each generation and every candidate as it is scored, so a rerun with
the same settings resumes and scores nothing twice. docs/design.md,
"Evolutionary subnet search".
"""
import hashlib
import json
import os.path as osp
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.logging import print_log

from ..export.derived import write_derived
from ..export.random_arch import flops_range, flops_window, search_flops_table
from ..models.builder import build_segmentor
from ..search.cost.flops import FLOPS_PER_G
from ..search.cost.latency_table import load_latency_table
from ..search.evolution import (Constraint, EvolutionSearch,
                                EvolutionSettings, SearchSpace)
from ..search.space.arch_spec import ArchSpec
from ..search.space.extra_candidates import ExtraCandidates
from ..utils.atomic_write import write_new_file
from .subnet_evaluator import DEFAULT_CALIB_BATCHES, SPLITS, SubnetEvaluator

STATE_FILE = 'evolution_state.json'
CANDIDATES_FILE = 'candidates.jsonl'
RUN_FORMAT = 1


#: A demo-sized evolution (``tools/demo.py --derive evolution``,
#: ``benchmarks/planted_signal.py``): 16 candidates a generation, 5
#: generations (at most 80 subnets scored), 6 calibration batches.
SMALL_EVOLUTION = dict(population=16, generations=5, top_k=4,
                       num_mutation=8, num_crossover=8, calib_batches=6)


def cli_options(settings: Dict[str, Any]) -> List[str]:
    """``tools/search_subnet.py`` options of ``settings`` (keyword names)."""
    return [item for key, value in settings.items()
            for item in (f'--{key.replace("_", "-")}', str(value))]


def search_subnet(config: str,
                  checkpoint: str,
                  work_dir: str,
                  *,
                  flops_target: Optional[float] = None,
                  window: float = 0.05,
                  latency_lut: Optional[str] = None,
                  latency_target: Optional[float] = None,
                  population: int = 50,
                  generations: int = 20,
                  top_k: int = 10,
                  num_mutation: int = 25,
                  num_crossover: int = 25,
                  mutate_prob: float = 0.1,
                  seed: int = 0,
                  split: str = 'arch',
                  calib_batches: int = DEFAULT_CALIB_BATCHES,
                  device: str = 'cpu',
                  evaluator: Any = None,
                  topk: Optional[int] = None,
                  input_size: Optional[Sequence[int]] = None,
                  out_dir: Optional[str] = None,
                  cfg_options: Optional[dict] = None) -> ArchSpec:
    """Evolve subnets of ``checkpoint``'s supernet within cost windows.

    Args:
        config: The search config (its space, data, ``derive.topk``,
            ``derive.input_size`` and ``derive.retrain_base``).
        checkpoint: A checkpoint of that search (the supernet's weights).
        work_dir: Where the run is kept (:data:`STATE_FILE`,
            :data:`CANDIDATES_FILE`) and, without ``out_dir``, the best is
            written.
        flops_target: Paper-convention FLOPs in G at ``input_size``
            (default ``derive.input_size``, else 1024x2048).
        window: Relative half-width of each window: a candidate is scored
            only if its cost is within target * (1 -+ window).
        latency_lut / latency_target: A latency table
            (``tools/build_latency_lut.py``) and a target in ms. At least one
            target is required; with both, both windows hold.
        population, generations, top_k, num_mutation, num_crossover,
            mutate_prob, seed: :class:`EvolutionSettings` (mmrazor's
            defaults).
        split, calib_batches, device: Of the :class:`SubnetEvaluator`
            scoring the candidates (mIoU in percent).
        evaluator: An object with ``evaluate(spec) -> {'mIoU': ...}`` used
            instead (built lazily otherwise: a finished run builds none).
        topk: Attentions of every candidate (default ``derive.topk`` or 4).
        input_size: (H, W) of the FLOPs window (default
            ``derive.input_size``, else 1024x2048).
        out_dir: Where ``arch.json`` and ``retrain.py`` go (default
            ``work_dir``).
        cfg_options: Overrides of the config for the evaluator (e.g. the
            dataloaders' ``data_root``); part of the run's identity, so a
            resume with other data is refused.

    Returns:
        The best spec as written to ``arch.json``, with how it was found in
        ``meta['evolution']``.
    """
    settings = EvolutionSettings(population, generations, top_k,
                                 num_mutation, num_crossover, mutate_prob,
                                 seed)
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    if not osp.isfile(checkpoint):
        raise ValueError(f'checkpoint: {checkpoint} is not a file')
    cfg = Config.fromfile(config)
    if cfg.get('derive', {}).get('retrain_base') is None:
        raise ValueError(f'config: {config} has no derive.retrain_base (the '
                         'config the best network is retrained from)')
    topk = topk or int(cfg.get('derive', {}).get('topk', 4))
    constraints, table = _constraints(
        config, cfg, topk, window, flops_target, input_size, latency_lut,
        latency_target)
    space = SearchSpace(table.num_layers, topk, table.backbone is not None,
                        ExtraCandidates.from_model_cfg(cfg.model))
    run = dict(config=osp.abspath(config), checkpoint=osp.abspath(checkpoint),
               checkpoint_sha256=_sha256(checkpoint), split=split,
               calib_batches=calib_batches, window=window,
               flops_target_G=flops_target, latency_target_ms=latency_target,
               latency_lut=latency_lut and osp.abspath(latency_lut),
               cfg_options=dict(cfg_options or {}))
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    scorer: List[Any] = [evaluator]

    def score(spec: ArchSpec) -> float:
        if str(spec) in cache:
            return cache[str(spec)]['score']
        if scorer[0] is None:
            scorer[0] = SubnetEvaluator(config, checkpoint, split=split,
                                        calib_batches=calib_batches,
                                        device=device,
                                        cfg_options=cfg_options)
        return float(scorer[0].evaluate(spec)['mIoU'])

    search = EvolutionSearch(
        space, score, constraints, settings,
        on_candidate=lambda record, size: _logged(
            record, size, settings, work / CANDIDATES_FILE, cache),
        on_generation=lambda state: _saved(state, run, work / STATE_FILE))
    header = dict(format=RUN_FORMAT, run=run, evolution=search.identity())
    cache = _read_candidates(work / CANDIDATES_FILE, header)
    _resume(search, work / STATE_FILE, run)
    best = search.run()
    record = best.meta
    meta = dict(source_checkpoint=osp.abspath(checkpoint), topk=topk,
                evolution=dict(
                    run, score_mIoU=record['score'], costs=record['costs'],
                    found_in_generation=record['generation'],
                    origin=record['origin'], generations=search.generation,
                    evaluated=len(search.records),
                    settings=settings.record(),
                    windows={c.name: [c.low, c.high] for c in constraints},
                    top_k=[[k, search.records[k]['score']]
                           for k in search.top_k]))
    return write_derived(
        replace(best, meta=meta), config, str(out_dir or work),
        tuple(input_size) if input_size else None, overwrite=True,
        origin=f'Found by evolution (tools/search_subnet.py) from '
        f'{osp.abspath(checkpoint)}: mIoU {record["score"]:.2f} ({split}) '
        f'with inherited weights, {len(search.records)} candidates in '
        f'{search.generation} generations')


def _constraints(config: str, cfg: Config, topk: int, window: float,
                 flops_target: Optional[float],
                 input_size: Optional[Sequence[int]],
                 latency_lut: Optional[str],
                 latency_target: Optional[float]
                 ) -> Tuple[List[Constraint], Any]:
    """The cost windows asked for and a cost table (the space's shape);
    ValueError when none is asked or a window lies outside the space."""
    if flops_target is None and latency_target is None:
        raise ValueError('flops_target / latency_target: give at least one '
                         'cost target (a search without a constraint is '
                         'won by the largest network)')
    if (latency_lut is None) != (latency_target is None):
        raise ValueError('latency_lut and latency_target: give both or '
                         'neither')
    for name, target in (('flops_target', flops_target),
                         ('latency_target', latency_target)):
        if target is not None and (isinstance(target, bool) or not (
                isinstance(target, (int, float)) and
                0 < target < float('inf'))):
            raise ValueError(f'{name} must be a finite number > 0, got '
                             f'{target!r}')
    if not isinstance(window, (int, float)) or not 0 <= window < 1:
        raise ValueError(f'window must be in [0, 1) (relative half-width), '
                         f'got {window!r}')
    costs: List[Tuple[str, float, Any, float]] = []
    if flops_target is not None:
        costs.append(('flops_G', flops_target, search_flops_table(
            config, input_size), FLOPS_PER_G))
    if latency_target is not None:
        costs.append(('latency_ms', latency_target, load_latency_table(
            latency_lut, build_segmentor(cfg, device='meta')), 1.0))
    constraints = []
    for name, target, table, scale in costs:
        low, high = flops_window(target, window)
        cheapest, dearest = (c / scale for c in flops_range(table, topk))
        if high < cheapest or low > dearest:
            raise ValueError(
                f'{name}: the window {low:.4g} - {high:.4g} (target {target}'
                f' +- {window:.0%}) holds no architecture of the space, '
                f'which spans {cheapest:.4g} - {dearest:.4g} at '
                f'{table.input_size[0]}x{table.input_size[1]}')
        constraints.append(Constraint(name, _price(table, scale), low, high))
    return constraints, costs[0][2]


def _price(table, scale: float) -> Callable[[ArchSpec], float]:
    return lambda spec: table.network_cost(spec) / scale


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _flat(record: Dict[str, Any], prefix: str = '') -> Dict[str, Any]:
    """Nested dicts as dotted keys, values as JSON reads them back."""
    out: Dict[str, Any] = {}
    for key, value in json.loads(json.dumps(record)).items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f'{prefix}{key}.'))
        else:
            out[prefix + key] = value
    return out


def _differences(saved: Dict[str, Any], now: Dict[str, Any]) -> List[str]:
    saved, now = _flat(saved), _flat(now)
    return [f'{key} (saved {saved.get(key)!r}, now {now.get(key)!r})'
            for key in sorted(set(saved) | set(now))
            if saved.get(key) != now.get(key)]


def _refuse(path: Path, reason: str) -> ValueError:
    return ValueError(
        f'work_dir: {path} belongs to a search with other settings: '
        f'{reason}. Use another work_dir, or remove {STATE_FILE} and '
        f'{CANDIDATES_FILE} there to start afresh')


def _read_candidates(path: Path,
                     header: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """The candidates a previous run of these settings scored, by spec; the
    file is rewritten with its header and every complete record (a line
    cut off by a kill is dropped) and then appended to."""
    cache: Dict[str, Dict[str, Any]] = {}
    if path.exists():
        lines = path.read_text().splitlines()
        try:
            saved = json.loads(lines[0]) if lines else {}
        except ValueError:
            raise _refuse(path, 'its first line is no search header'
                          ) from None
        diff = _differences(saved.get('run', {}), header['run']) + \
            _differences(saved.get('evolution', {}), header['evolution'])
        if diff:
            raise _refuse(path, '; '.join(diff))
        for line in lines[1:]:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            cache[record['spec']] = record
    write_new_file(path, ''.join(json.dumps(r) + '\n'
                                 for r in [header, *cache.values()]))
    return cache


def _resume(search: EvolutionSearch, path: Path,
            run: Dict[str, Any]) -> None:
    if not path.exists():
        return
    saved = json.loads(path.read_text())
    diff = _differences(saved.get('run', {}), run)
    if diff:
        raise _refuse(path, '; '.join(diff))
    try:
        search.resume(saved['evolution'])
    except ValueError as err:
        raise _refuse(path, str(err)) from None
    print_log(f'resumed {path}: {search.generation} generation(s), '
              f'{len(search.records)} candidate(s) scored', logger='current')


def _saved(state: Dict[str, Any], run: Dict[str, Any], path: Path) -> None:
    write_new_file(path, json.dumps(dict(format=RUN_FORMAT, run=run,
                                         evolution=state)) + '\n')
    scores = sorted((r['score'] for r in state['evaluated']), reverse=True)
    print_log(f'generation {state["generation"]}/{state["generations"]} '
              f'done: top-{len(state["top_k"])} mIoU '
              + ' '.join(f'{s:.2f}' for s in scores[:len(state['top_k'])]),
              logger='current')


def _logged(record: Dict[str, Any], size: int, settings: EvolutionSettings,
            path: Path, cache: Dict[str, Dict[str, Any]]) -> None:
    """One log line per candidate; a new one appended to ``path``."""
    before = record['spec'] in cache
    if not before:
        with open(path, 'a') as f:
            f.write(json.dumps(record) + '\n')
    costs = ', '.join(f'{k} {v:.3g}' for k, v in record['costs'].items())
    print_log(f'generation {record["generation"] + 1}/{settings.generations}'
              f' candidate {record["index"] + 1}/{size} ({record["origin"]})'
              f': mIoU {record["score"]:.2f}, {costs}'
              + (' (scored before)' if before else '')
              + f'  {record["spec"]}', logger='current')
