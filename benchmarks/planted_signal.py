"""Does the search find what is known to be right? Planted signals (issue 16).

    python benchmarks/planted_signal.py
        [--tasks harmful needed] [--modes darts gumbel proxyless]
        [--seeds 0 1 2 3 4] [--stages data premise search]
        [--premise-seeds 0 1] [--premise-epochs 30]
        [--epochs E] [--warmup-epochs W] [--num-train 96] [--num-val 32]
        [--data-seed 0] [--threads 2] [--options KEY=VALUE ...]
        [--work-dir work_dirs/planted_signal]
        [--results-dir docs/results/planted] [--smoke]

Two tasks whose right architecture is known (``attnas_mmseg/datasets/
planted.py``), searched in the AttNAS space with a noise candidate added to
both tables (op 7 of every block, Att14 of every layer; ``configs/planted/``,
no cost term, plain argmax derivation):

* ``harmful``: the demo's data; the noise candidates are never right.
* ``needed``: every label depends on an image-level cue only global pooling
  sees from the head's feature; the right head holds Att13 (SE).

Stages (benchmarks/_stages.py: a finished stage is skipped, an interrupted
training resumes from its last checkpoint, so re-running the same command
continues; the tools' output goes to ``WORK_DIR/run.log``):

1. ``data``: each task's set, ``--num-train``/``--num-val`` images of 64x128
   (seed ``--data-seed``), in ``WORK_DIR/data/<task>``.
2. ``premise``: the tasks' claims measured on standalone networks (the
   standard MobileNetV2 code, ``mv2(1,3,...,3)``, one attention layer), each
   retrained for ``--premise-epochs`` with every seed of ``--premise-seeds``
   and tested on the val split (``tools/train.py``, ``tools/test.py``):
   needed: ``AttSet1(6,13)`` (with the needed Att13) vs ``AttSet1(6)``;
   harmful: ``AttSet1(6)`` vs the same with the noise op in block 9, with
   the noise attention beside Att6, and with it alone in a second layer. A
   claim holds when its gap is >= 10 mIoU; a task none of whose claims
   holds is not searched (``--search-without-premise``).
3. ``search``: per task, mode (``--modes``) and seed (``--seeds``) a search
   (``tools/train.py`` on the task's config, ``--epochs`` epochs of which
   ``--warmup-epochs`` warm-up; default the config's 10 and 4, the demo's),
   its derivation (``tools/derive_arch.py``) and what it says: the noise
   op's alpha rank in every block (1 = first, 7 = last) and its gap below
   the next op in units of the noise null's sigma
   (``attnas_mmseg/search/confidence.py``), the noise attention's beta rank
   in each layer and among all cells, whether Att13 is in the derived top-k
   and its margin to the cut, wall time.
4. ``report``: ``results.json`` and ``results.md``
   (``benchmarks/planted_report.py``) in ``--results-dir``.

``--smoke`` runs the chain at a toy size (8/4 images, 2 epochs, 1 premise
epoch; minutes) and refuses to write under docs/results.
"""
import argparse
import logging
import os.path as osp
import sys
import time
from typing import Any, Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import _tools as tools  # noqa: E402
import planted_report  # noqa: E402
from _planted_measure import measure  # noqa: E402
from _common import environment  # noqa: E402
from _stages import StageRunner, thread_env, write_json  # noqa: E402

from attnas_mmseg.search.space.search_modes import (  # noqa: E402
    NO_ARCH_STEP_MODES, SEARCH_MODES)

SCRIPT = 'planted_signal'
TASKS = ('harmful', 'needed')
STAGES = ('data', 'premise', 'search')
CONFIG = ('configs/planted/attnas-search_planted-{}_synthetic-cityscapes-'
          '64x128.py')
#: The same search in a mode without an arch step ('uniform'), derived by
#: evolution on inherited weights (tools/search_subnet.py).
UNIFORM_CONFIG = ('configs/planted/attnas-search-uniform_planted-{}_'
                  'synthetic-cityscapes-64x128.py')
#: The standard MobileNetV2 (expansion 1 in block 1, 6 after, kernel 3)
#: under the kernel_major op order: the premise networks' backbone.
STANDARD_MV2 = (1, ) + (3, ) * 16
#: The block (1-based) holding the noise op in the harmful premise: the
#: second block of stage 4, a residual block in the middle of the network.
NOISE_BLOCK = 9
#: (name, backbone code, attention layers) of the premise networks; 7 and 14
#: are the noise op and attention (configs/planted/: the first user
#: candidates), 13 the needed attention.
PREMISE_ARMS = {
    'needed': (('with', STANDARD_MV2, ((6, 13), )),
               ('without', STANDARD_MV2, ((6, ), )),
               # Att1 also averages the whole map: does it carry the cue?
               ('with_att1', STANDARD_MV2, ((6, 1), ))),
    'harmful': (('clean', STANDARD_MV2, ((6, ), )),
                ('noise_op', STANDARD_MV2[:NOISE_BLOCK - 1] + (7, ) +
                 STANDARD_MV2[NOISE_BLOCK:], ((6, ), )),
                ('noise_attention', STANDARD_MV2, ((6, 14), )),
                # the noise attention alone in a second layer: the search
                # can derive it so (a top-k cell of its own); beside Att6 the
                # sum keeps Att6's signal and the harm is partial
                ('noise_attention_alone', STANDARD_MV2, ((6, ), (14, )))),
}
#: The premise's required gap in mIoU points (issue 16).
PREMISE_GAP = 10.0
SMOKE = dict(num_train=8, num_val=4, epochs=2, warmup_epochs=1,
             premise_epochs=1)

log = logging.getLogger(SCRIPT)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 2)[2])
    parser.add_argument('--tasks', nargs='+', choices=TASKS,
                        default=list(TASKS))
    parser.add_argument('--modes', nargs='+', choices=SEARCH_MODES,
                        default=list(SEARCH_MODES))
    parser.add_argument('--seeds', nargs='+', type=int,
                        default=[0, 1, 2, 3, 4], help='search seeds')
    parser.add_argument('--stages', nargs='+', choices=STAGES,
                        default=list(STAGES),
                        help='stages to run (the report always follows)')
    parser.add_argument('--premise-seeds', nargs='+', type=int,
                        default=[0, 1], help='seeds of each premise network')
    parser.add_argument('--search-without-premise', action='store_true',
                        help='search a task whose premise this run measured '
                        'and found false (skipped otherwise)')
    parser.add_argument('--premise-epochs', type=int, default=30,
                        help='retrain epochs of a premise network')
    parser.add_argument('--epochs', type=int, default=None,
                        help="search epochs (default: the config's, 10)")
    parser.add_argument('--warmup-epochs', type=int, default=None,
                        help="warm-up epochs (default: the config's, 4)")
    parser.add_argument('--num-train', type=int, default=96,
                        help='train images of each task (a search splits '
                        'them half weights, half arch)')
    parser.add_argument('--num-val', type=int, default=32,
                        help='val images (the premise networks\' test)')
    parser.add_argument('--data-seed', type=int, default=0,
                        help='seed of the generated data')
    parser.add_argument('--threads', type=int, default=2,
                        help='intra-op threads of every tool run')
    parser.add_argument('--options', nargs='+', default=[],
                        metavar='KEY=VALUE',
                        help='extra --cfg-options of every search')
    parser.add_argument('--work-dir', default='work_dirs/planted_signal',
                        help='data, runs, logs and stage markers (resume: '
                        'the same command again)')
    parser.add_argument('--results-dir', default='docs/results/planted')
    parser.add_argument('--smoke', action='store_true',
                        help='a toy size end to end (%s)' % ', '.join(
                            f'{k}={v}' for k, v in SMOKE.items()))
    args = parser.parse_args(argv)
    if args.smoke:
        for key, value in SMOKE.items():
            setattr(args, key, value)
    for key in ('premise_epochs', 'num_train', 'threads'):
        if getattr(args, key) < 1:
            parser.error(f'--{key.replace("_", "-")} must be >= 1')
    if (args.epochs is None) != (args.warmup_epochs is None):
        parser.error('--epochs and --warmup-epochs go together')
    if args.epochs is not None and not 0 <= args.warmup_epochs < args.epochs:
        parser.error('--warmup-epochs must be in 0..--epochs - 1')
    args.work_dir = osp.abspath(args.work_dir)
    args.results_dir = osp.abspath(args.results_dir)
    if args.smoke and args.results_dir.startswith(
            osp.join(REPO, 'docs', 'results')):
        parser.error('--smoke: give a --results-dir outside docs/results')
    return args


def result_options(args: argparse.Namespace) -> Dict[str, Any]:
    """The options a work dir's results depend on (benchmarks/_stages.py)."""
    return {k: getattr(args, k) for k in (
        'num_train', 'num_val', 'data_seed', 'epochs', 'warmup_epochs',
        'premise_epochs', 'options')}


# ------------------------------------------------------------------ stages
def stage_data(st: StageRunner, args, task: str) -> Dict[str, Any]:
    from attnas_mmseg.datasets.planted import generate_planted

    def run():
        root = generate_planted(task, st.path('data', task), args.num_train,
                                args.num_val, seed=args.data_seed)
        return dict(task=task, data_root=str(root))

    return st.stage(f'data/{task}', run)


def data_options(root: str, search: bool) -> List[str]:
    if search:
        return [f'{k}.dataset.dataset.data_root={root}'
                for k in ('train_dataloader', 'arch_dataloader')]
    return [f'{k}.dataset.data_root={root}'
            for k in ('train_dataloader', 'val_dataloader',
                      'test_dataloader')]


def stage_premise(st: StageRunner, args, task: str, root: str,
                  name: str, backbone, attention, seed: int) -> Dict:
    from attnas_mmseg.export import write_derived
    from attnas_mmseg.search import ArchSpec
    from attnas_mmseg.search.space.extra_candidates import ExtraCandidates
    from mmengine.config import Config
    config = CONFIG.format(task)
    run_name = f'premise/{task}/{name}-s{seed}'
    epochs = args.premise_epochs

    def run():
        extra = ExtraCandidates.from_model_cfg(
            Config.fromfile(osp.join(REPO, config)).model)
        out = st.path(run_name)
        spec = write_derived(ArchSpec(attention, backbone, extra=extra),
                             osp.join(REPO, config), out, (64, 128), True,
                             origin=f'{SCRIPT}: premise network {name}')
        opts = data_options(root, search=False) + [
            f'randomness.seed={seed}', f'train_cfg.max_epochs={epochs}',
            f'train_cfg.val_interval={epochs}',
            f'param_scheduler.0.end={epochs}',
            'default_hooks.checkpoint.interval=1']
        found = tools.retrain_and_test(st, osp.join(out, 'retrain.py'), out,
                                       opts, epochs)
        return dict(task=task, arm=name, seed=seed, arch=str(spec),
                    miou=float(found['metrics']['mIoU']),
                    minutes=tools.train_minutes(osp.join(out, 'train')))

    return st.stage(run_name, run)


def stage_search(st: StageRunner, args, task: str, root: str, mode: str,
                 seed: int) -> Dict[str, Any]:
    uniform = mode in NO_ARCH_STEP_MODES
    config = (UNIFORM_CONFIG if uniform else CONFIG).format(task)
    run_name = f'search/{task}/{mode}-s{seed}'

    def run():
        from mmengine.config import Config
        cfg = Config.fromfile(osp.join(REPO, config))
        epochs = args.epochs or cfg.train_cfg.max_epochs
        opts = data_options(root, search=True) + [
            f'randomness.seed={seed}', 'default_hooks.checkpoint.interval=1']
        opts += tools.mode_options(config, mode, args.epochs,
                                   args.warmup_epochs)
        opts += list(args.options)
        found = tools.search(st, config, st.path(run_name, 'search'), opts,
                             epochs)
        out = st.path(run_name, 'derived')
        derived = tools.evolve(
            st, config, found['checkpoint'], out,
            evolution_options(config, seed) +
            ['--cfg-options', *data_options(root, search=True)]) \
            if uniform else tools.derive(st, config, found['checkpoint'], out)
        return dict(task=task, mode=mode, seed=seed, epochs=epochs,
                    minutes=found['minutes'], **derived,
                    **measure(config, found['checkpoint'],
                              derived['arch_file'], ranks=not uniform))

    return st.stage(run_name, run)


def evolution_options(config: str, seed: int) -> List[str]:
    """tools/search_subnet.py's options for a uniform supernet: the demo's
    evolution (``SMALL_EVOLUTION``) in a window of +-50% around the space's
    median FLOPs, wide enough to leave the choice to the scores (the noise
    candidates cost no FLOPs: a tight window would decide for them)."""
    from attnas_mmseg.evaluation.subnet_search import (SMALL_EVOLUTION,
                                                       cli_options)
    from attnas_mmseg.export.random_arch import (median_flops,
                                                 search_flops_table)
    from attnas_mmseg.search.cost.flops import FLOPS_PER_G
    target = median_flops(search_flops_table(osp.join(REPO, config)))
    return ['--flops-target', f'{target / FLOPS_PER_G:.4f}', '--window',
            '0.5', '--seed', str(seed), *cli_options(SMALL_EVOLUTION)]


def premise_allows_search(args, task: str, premise: List[Dict]) -> bool:
    """False (and why, logged) when this run measured ``task``'s premise
    and none of its claims held: a search on a task whose right answer is
    not right measures nothing (``--search-without-premise`` searches
    anyway)."""
    if not premise or args.search_without_premise:
        return True
    gaps = planted_report.premise_summary(premise, PREMISE_GAP)[task]['gaps']
    if any(g['holds'] for g in gaps.values()):
        return True
    log.warning('%s: no premise claim holds (%s); its search is skipped '
                '(--search-without-premise runs it)', task,
                ', '.join(f'{n} {g["gap"]:+.1f}' for n, g in gaps.items()))
    return False


# ------------------------------------------------------------------- main
def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
    st = StageRunner(args.work_dir, result_options(args), SCRIPT,
                     log_path=osp.join(args.work_dir, 'run.log'),
                     env=thread_env(args.threads))
    start = time.time()
    premise, runs = [], []
    for task in args.tasks:
        root = stage_data(st, args, task)['data_root']
        if 'premise' in args.stages:
            for name, backbone, attention in PREMISE_ARMS[task]:
                for seed in args.premise_seeds:
                    premise.append(stage_premise(st, args, task, root, name,
                                                 backbone, attention, seed))
                    log.info('premise %s %s s%d: mIoU %.2f', task, name,
                             seed, premise[-1]['miou'])
        if 'search' in args.stages and not premise_allows_search(
                args, task, [p for p in premise if p['task'] == task]):
            continue
        if 'search' in args.stages:
            for mode in args.modes:
                for seed in args.seeds:
                    run = stage_search(st, args, task, root, mode, seed)
                    log.info('%s %s s%d: %s; noise op last in %s/17 '
                             'blocks, derived in %d, Att%d derived: %s',
                             task, mode, seed, run['arch'],
                             run['noise_op_last'], run['noise_op_derived'],
                             run['needed_attention'], run['needed_derived'])
                    runs.append(run)
    results = dict(
        argv=argv, options=result_options(args), threads=args.threads,
        environment=environment(args.threads, 'cpu'),
        premise=planted_report.premise_summary(premise, PREMISE_GAP),
        premise_runs=premise, runs=runs,
        summary=planted_report.search_summary(runs))
    write_json(osp.join(args.results_dir, 'results.json'), results)
    with open(osp.join(args.results_dir, 'results.md'), 'w') as f:
        f.write(planted_report.render(results))
    log.info('total %.1f min; wrote %s', (time.time() - start) / 60,
             args.results_dir)
    return results


if __name__ == '__main__':
    main()
