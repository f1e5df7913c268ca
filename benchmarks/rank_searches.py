"""The searches a ranking judges, and every scorer's scores (issues 17, 18).

    python benchmarks/rank_searches.py
        [--ranking-work-dir work_dirs/rank_gt]
        [--modes darts gumbel proxyless uniform] [--evolve darts uniform]
        [--epochs darts=2+10 gumbel=12+80 proxyless=12+80 uniform=50]
        [--arch-weight-decay 1e-5] [--flops-target G] [--window 0.05]
        [--evolution KEY=VALUE ...] [--calib-batches 20]
        [--latency-lut LUT.json] [--data-root ../shared/data/camvid]
        [--seed 0] [--threads 2] [--device cpu|cuda]
        [--stop-after search|derive] [--work-dir work_dirs/rank_searches]
        [--results-dir docs/results/camvid/ranking] [--smoke]

``benchmarks/rank_ground_truth.py`` trains networks of the space on their
own; ``benchmarks/rank_correlation.py`` asks how well a scorer orders them.
This script makes what the scorers need and scores every network of that
ground truth (read from its ``--ranking-work-dir``'s ``sample`` stage, so it
can run before the trainings finish). Stages (benchmarks/_stages.py: a
finished stage is skipped, an interrupted search resumes; the tools' output
goes to ``WORK_DIR/run.log``):

1. ``search/MODE``: the CamVid search (``configs/demo/attnas-search_demo_
   camvid-120x160.py``; ``uniform``: its uniform variant) in each of
   ``--modes`` with ``--epochs MODE=WARMUP+SEARCH`` (issue 9's schedules:
   darts 2 + 10, the sampled modes 12 + 80; uniform: its epochs, no arch
   step), arch weight decay ``--arch-weight-decay`` (issue 9: 1e-5) and the
   FLOPs target at the ground truth's median network (``--flops-target``
   overrides).
2. ``derive/MODE``: ``tools/derive_arch.py`` (argmax of alpha/beta, the
   paper's derivation) of each mode with an arch step: network ``MODE``.
3. ``evolve/MODE``: ``tools/search_subnet.py`` on each ``--evolve`` mode's
   supernet (evolution on inherited weights, scored on the arch half, within
   ``--window`` of the target): network ``MODE_evo``.
4. ``scores``: for every network (the ground truth's and the picks): flops,
   params, synflow, naswot, grad_norm, ``logprob_MODE`` (the spec's
   log-probability under each search's final alpha/beta), ``inherited_MODE``
   (its subnet's mIoU on the arch half with each supernet's weights, BN
   recalibrated on ``--calib-batches`` weight-half batches) and ``latency``
   with ``--latency-lut``. A score is computed once; a network added later
   gets only its own.

``--modes`` and ``--evolve`` choose which stages run, not what a stage
computes: a later run in the same work dir with more of them adds theirs, and
the results list every search, pick and score the work dir holds (so the
scorers of the finished searches can be judged while others still run).

Into ``--results-dir``: ``searches.json`` (each search's and derivation's
wall minutes and picks: issue 18 compares the costs), ``searched/NAME.json``
(every pick's arch file) and ``scores.json``. The log ends with the two
commands that continue: ``rank_ground_truth.py --searched NAME=...`` (the
picks trained like the others) and ``rank_correlation.py --scores``.
"""
import argparse
import json
import logging
import os
import os.path as osp
import shutil
import statistics
import sys
import time
from typing import Any, Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import _tools as tools  # noqa: E402
from _stages import (StageRunner, results_dir, start_run,  # noqa: E402
                     thread_env, write_json)

from attnas_mmseg.search.space.search_modes import (  # noqa: E402
    ARCH_STEP_MODES, SEARCH_MODES)

SCRIPT = 'rank_searches'
CONFIG = 'configs/demo/attnas-search_demo_camvid-120x160.py'
UNIFORM_CONFIG = 'configs/demo/attnas-search-uniform_demo_camvid-120x160.py'
#: issue 9's CamVid schedules (warm-up, search epochs); uniform: (0, epochs)
EPOCHS = dict(darts=(2, 10), gumbel=(12, 80), proxyless=(12, 80),
              uniform=(0, 50))
#: the ranking's zero-cost and cost baselines (attnas_mmseg.evaluation)
BASELINES = ('flops', 'params', 'synflow', 'naswot', 'grad_norm')
SMOKE_TRAIN = 8  # images of each half
SMOKE_EVOLUTION = dict(population=4, generations=2, top_k=2,
                       num_mutation=2, num_crossover=2)
#: what a stage's result depends on; --modes and --evolve only choose stages
RESULT_OPTIONS = ('epochs', 'arch_weight_decay', 'flops_target', 'window',
                  'evolution', 'calib_batches', 'data_root', 'seed', 'smoke')

log = logging.getLogger(SCRIPT)


def parse_epochs(items: List[str]) -> Dict[str, List[int]]:
    """``MODE=WARMUP+SEARCH`` (uniform: ``uniform=EPOCHS``) over EPOCHS:
    every mode's schedule, the ones not given at issue 9's."""
    epochs = {m: list(e) for m, e in EPOCHS.items()}
    for item in items:
        mode, sep, value = item.partition('=')
        if not sep or mode not in EPOCHS:
            raise ValueError(f'--epochs: expected MODE=WARMUP+SEARCH with '
                             f'MODE one of {sorted(EPOCHS)}, got {item!r}')
        parts = value.split('+')
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            numbers = []
        want = 1 if mode == 'uniform' else 2
        if len(numbers) != want or min(numbers) < 0 or numbers[-1] < 1:
            raise ValueError(f'--epochs: {item!r}: expected {mode}=' + (
                'EPOCHS' if want == 1 else 'WARMUP+SEARCH') + ' (integers, '
                'at least one search epoch)')
        epochs[mode] = [0, numbers[0]] if want == 1 else numbers
    return epochs


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 2)[2])
    add = parser.add_argument
    add('--ranking-work-dir', default='work_dirs/rank_gt',
        help='a benchmarks/rank_ground_truth.py work dir past its sample '
        'stage: the networks scored and their median FLOPs')
    add('--modes', nargs='+', choices=SEARCH_MODES,
        default=['darts', 'gumbel', 'proxyless', 'uniform'])
    add('--evolve', nargs='*', choices=SEARCH_MODES,
        default=['darts', 'uniform'],
        help='modes whose supernet tools/search_subnet.py searches')
    add('--epochs', nargs='+', default=[], metavar='MODE=WARMUP+SEARCH',
        help='schedules (default %s)' % ' '.join(
            f'{m}={w}+{s}' if m != 'uniform' else f'{m}={s}'
            for m, (w, s) in EPOCHS.items()))
    add('--arch-weight-decay', type=float, default=1e-5)
    add('--flops-target', type=float, default=None,
        help='G at the space\'s derive.input_size (default: the median of '
        'the ground truth\'s random networks)')
    add('--window', type=float, default=0.05,
        help='evolution: candidates within target x (1 -+ WINDOW)')
    add('--evolution', nargs='+', default=[], metavar='KEY=VALUE',
        help='tools/search_subnet.py settings (default: SMALL_EVOLUTION)')
    add('--calib-batches', type=int, default=20,
        help='BN recalibration batches of evolution and inherited')
    add('--latency-lut', default=None,
        help='a latency table of the space: adds the latency scorer')
    add('--data-root', default='../shared/data/camvid')
    add('--seed', type=int, default=0)
    add('--threads', type=int, default=2)
    add('--device', choices=['cpu', 'cuda'], default='cpu')
    add('--stop-after', choices=['search', 'derive'], default=None)
    add('--work-dir', default='work_dirs/rank_searches')
    add('--results-dir', default=None,
        help='default docs/results/camvid/ranking (smoke: WORK_DIR/results)')
    add('--smoke', action='store_true',
        help='8 images, 1 epoch per search, a tiny evolution (the chain)')
    args = parser.parse_args(argv)
    try:
        args.epochs = parse_epochs(args.epochs)
    except ValueError as err:
        parser.error(str(err))
    if args.smoke:
        args.epochs = {m: [0 if m == 'uniform' else 1, 1] for m in EPOCHS}
        args.calib_batches = 1
    missing = sorted(set(args.evolve) - set(args.modes))
    if missing:
        parser.error(f'--evolve: {missing} not in --modes {args.modes}')
    if not 0 < args.window < 1 or args.calib_batches < 1 or \
            args.threads < 1:
        parser.error('--window must be in (0, 1), --calib-batches and '
                     '--threads >= 1')
    if args.flops_target is not None and args.flops_target <= 0:
        parser.error('--flops-target must be > 0')
    from attnas_mmseg.evaluation.subnet_search import SMALL_EVOLUTION
    evolution = dict(SMALL_EVOLUTION, calib_batches=args.calib_batches,
                     **(SMOKE_EVOLUTION if args.smoke else {}))
    keys = ('population', 'generations', 'top_k', 'num_mutation',
            'num_crossover', 'mutate_prob')
    for item in args.evolution:
        key, sep, value = item.partition('=')
        try:
            number = float(value) if key == 'mutate_prob' else int(value)
        except ValueError:
            number = None
        if not sep or key not in keys or number is None:
            parser.error(f'--evolution: expected KEY=VALUE with KEY one of '
                         f'{list(keys)} (a number), got {item!r}')
        evolution[key] = number
    args.evolution = evolution
    args.work_dir = osp.abspath(args.work_dir)
    args.ranking_work_dir = osp.abspath(args.ranking_work_dir)
    args.data_root = osp.abspath(args.data_root)
    args.results_dir = results_dir(parser, args, osp.join('camvid', 'ranking'))
    return args


# ----------------------------------------------------------------- options
def data_settings(args: argparse.Namespace) -> Dict[str, Any]:
    """The search data (both halves of CamVid train) as config settings."""
    keys = ('train_dataloader.dataset.dataset',
            'arch_dataloader.dataset.dataset')
    out: Dict[str, Any] = {f'{k}.data_root': args.data_root for k in keys}
    if args.smoke:
        out.update({f'{k}.indices': list(range(SMOKE_TRAIN)) for k in keys})
    return out


def data_options(args: argparse.Namespace) -> List[str]:
    """:func:`data_settings` as --cfg-options."""
    return [f'{k}={v}'.replace(' ', '') for k, v in
            data_settings(args).items()]


def config_of(mode: str) -> str:
    return UNIFORM_CONFIG if mode not in ARCH_STEP_MODES else CONFIG


def search_options(args: argparse.Namespace, mode: str,
                   target: float) -> List[str]:
    """A search's --cfg-options: data, schedule, target, arch decay, seed."""
    warmup, search = args.epochs[mode]
    config = config_of(mode)
    opts = data_options(args) + [f'randomness.seed={args.seed}',
                                 'default_hooks.checkpoint.interval=1']
    opts += tools.mode_options(config, mode, warmup + search, warmup)
    if mode in ARCH_STEP_MODES:
        opts += [tools.hook_option(config, 'flops_target', f'{target:.4f}'),
                 'optim_wrapper.arch.optimizer.weight_decay='
                 f'{args.arch_weight_decay}']
    return opts


# ------------------------------------------------------------------ stages
def read_sample(args: argparse.Namespace) -> Dict[str, Any]:
    path = osp.join(args.ranking_work_dir, 'sample', 'done.json')
    if not osp.exists(path):
        sys.exit(f'{SCRIPT}: --ranking-work-dir: no {path} (run '
                 'benchmarks/rank_ground_truth.py --stop-after sample there '
                 'first)')
    with open(path) as f:
        return json.load(f)


def stage_scores(st: StageRunner, args: argparse.Namespace,
                 specs: Dict[str, str], searches: Dict[str, Any]
                 ) -> Dict[str, Dict[str, float]]:
    """Every scorer's score of every network, kept in WORK_DIR/scores.json
    after each scorer (a rerun computes only what is missing)."""
    from dataclasses import replace

    from mmengine.config import Config

    from attnas_mmseg.evaluation.scorers import ScoreContext, score_all
    path = st.path('scores.json')
    scores: Dict[str, Dict[str, float]] = {}
    if osp.exists(path):
        with open(path) as f:
            scores = json.load(f)
    configs: Dict[str, Config] = {}

    def config(mode: str) -> Config:
        """The mode's search config with the data settings, read once."""
        name = config_of(mode)
        if name not in configs:
            configs[name] = Config.fromfile(osp.join(REPO, name))
            configs[name].merge_from_dict(data_settings(args))
        return configs[name]

    base = ScoreContext(config('darts'), seed=args.seed, device=args.device,
                        inherited_split='arch',
                        calib_batches=args.calib_batches,
                        latency_lut=args.latency_lut)
    scorers = [(name, name, {}) for name in BASELINES]
    if args.latency_lut:
        scorers.append(('latency', 'latency', {}))
    for mode, found in searches.items():
        ckpt = found['checkpoint']
        if mode in ARCH_STEP_MODES:
            scorers.append((f'logprob_{mode}', 'logprob',
                            dict(search_checkpoint=ckpt)))
        scorers.append((f'inherited_{mode}', 'inherited', dict(
            supernet_checkpoint=ckpt,
            supernet_config=config(mode))))
    for label, name, overrides in scorers:
        todo = {n: s for n, s in specs.items()
                if n not in scores.get(label, {})}
        if not todo:
            continue
        start = time.time()
        found = score_all(name, todo, replace(base, **overrides))
        scores.setdefault(label, {}).update(found)
        write_json(path, scores)
        log.info('%s: %d networks, %.1f s each', label, len(todo),
                 (time.time() - start) / len(todo))
    return scores


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    sample = read_sample(args)
    log_path = start_run(SCRIPT, args.work_dir, args.device)
    st = StageRunner(args.work_dir, {k: getattr(args, k)
                                     for k in RESULT_OPTIONS}, SCRIPT,
                     log_path, thread_env(args.threads, args.device))
    import torch
    torch.set_num_threads(args.threads)
    randoms = [n['flops_G'] for n in sample['networks']
               if n['source'] == 'random']
    target = args.flops_target or statistics.median(randoms)
    log.info('work dir %s; FLOPs target %.2fG (%s)', args.work_dir, target,
             'given' if args.flops_target else
             f'median of {len(randoms)} random networks')

    # the stages of --modes and --evolve run (or are kept); those another
    # run finished in this work dir join the results (module doc)
    searches, picks = {}, {}
    for mode in SEARCH_MODES:
        config, epochs = config_of(mode), sum(args.epochs[mode])
        searches[mode] = st.stage(f'search/{mode}', lambda: dict(
            tools.search(st, config, st.path('search', mode, 'train'),
                         search_options(args, mode, target), epochs),
            mode=mode, epochs=args.epochs[mode], threads=args.threads)
        ) if mode in args.modes else st.done(f'search/{mode}')
    searches = {m: s for m, s in searches.items() if s is not None}
    if args.stop_after == 'search':
        return dict(searches=searches)
    for mode in searches:
        if mode in ARCH_STEP_MODES:
            picks[mode] = st.stage(f'derive/{mode}', lambda: timed(
                args.threads, tools.derive, st, CONFIG,
                searches[mode]['checkpoint'], st.path('derive', mode)))
    from attnas_mmseg.evaluation.subnet_search import cli_options
    opts = ['--flops-target', f'{target:.4f}', '--window', str(args.window),
            '--seed', str(args.seed), '--device', args.device,
            *cli_options(args.evolution), '--cfg-options',
            *data_options(args)]
    for mode in searches:
        picks[f'{mode}_evo'] = st.stage(f'evolve/{mode}', lambda: timed(
            args.threads, tools.evolve, st, config_of(mode),
            searches[mode]['checkpoint'], st.path('evolve', mode), opts)
        ) if mode in args.evolve else st.done(f'evolve/{mode}')
    picks = {n: p for n, p in picks.items() if p is not None}
    searched = {}
    for name, pick in picks.items():
        searched[name] = osp.join(args.results_dir, 'searched',
                                  f'{name}.json')
        os.makedirs(osp.dirname(searched[name]), exist_ok=True)
        shutil.copyfile(pick['arch_file'], searched[name])
    write_json(osp.join(args.results_dir, 'searches.json'), dict(
        flops_target_G=target, scores_threads=args.threads,
        device=args.device,
        seed=args.seed, evolution=args.evolution, window=args.window,
        searches={m: dict(mode=m, epochs=s['epochs'], minutes=s['minutes'],
                          threads=s['threads'])
                  for m, s in searches.items()},
        picks={n: dict(search=n.removesuffix('_evo'), arch=p['arch'],
                       flops_G=flops_of(p['arch_file']),
                       minutes=p['minutes'], threads=p.get('threads'),
                       arch_file=osp.relpath(searched[n], REPO))
               for n, p in picks.items()}))
    if args.stop_after == 'derive':
        return dict(searches=searches, picks=picks)
    specs = {n['name']: n['spec'] for n in sample['networks']}
    specs.update({n: p['arch'] for n, p in picks.items()})
    scores = stage_scores(st, args, specs, searches)
    write_json(osp.join(args.results_dir, 'scores.json'), scores)
    rel = lambda p: osp.relpath(p, REPO)  # noqa: E731
    log.info('next: python benchmarks/rank_ground_truth.py --work-dir %s '
             '%s (the picks trained like the others; with the setting '
             'options of that work dir)', rel(args.ranking_work_dir),
             ' '.join(f'--searched {n}={rel(p)}' for n, p in searched.items()))
    log.info('then: python benchmarks/rank_correlation.py --ground-truth '
             '%s --scores %s --out-dir %s',
             rel(osp.join(args.results_dir, 'ground_truth.json')),
             rel(osp.join(args.results_dir, 'scores.json')),
             rel(args.results_dir))
    return dict(searches=searches, picks=picks, scores=scores)


def flops_of(arch_file: str) -> float:
    """The paper-convention FLOPs (G) an arch file records."""
    from attnas_mmseg.search import ArchSpec
    return float(ArchSpec.load(arch_file).meta['flops_paper_G'])


def timed(threads: int, fn, *fn_args) -> Dict[str, Any]:
    """``fn(*fn_args)`` with its wall minutes and the threads it ran with
    (a stage kept from another invocation keeps its own)."""
    start = time.time()
    return dict(fn(*fn_args), minutes=(time.time() - start) / 60,
                threads=threads)


if __name__ == '__main__':
    main()
