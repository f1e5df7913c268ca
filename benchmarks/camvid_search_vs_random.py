"""Does the search beat random architectures? CamVid: derived/random/mv2+ASPP.

    python benchmarks/camvid_search_vs_random.py
        [--data-root ../shared/data/camvid]
        [--work-dir work_dirs/camvid_search_vs_random]
        [--results-dir docs/results/camvid] [--search-config CFG]
        [--target-ratio 0.7] [--search-epochs 10] [--warmup-epochs 2]
        [--search-options KEY=VALUE ...] [--num-random 3] [--seeds 2]
        [--retrain-epochs 6] [--device cpu|cuda] [--threads 2] [--seed 0]
        [--latency-runs 10] [--arm NAME KEY=VALUE ...] [--smoke]

Issue 9's experiment on the real CamVid train/val (SegNet layout, read in
place from ``--data-root``), one stage after another, each a project tool run
as a user would (``tools/train.py``, ``tools/derive_arch.py``,
``tools/sample_random_arch.py``, ``tools/test.py``; the commands are in the
log):

1. ``prepare``: paper-convention FLOPs and params of mv2+ASPP
   (``configs/demo/mv2-aspp_demo_camvid-360x480.py``) at the search config's
   ``derive.input_size`` (720x960); FLOPs target = ``--target-ratio`` x that.
2. ``search``: ``--search-config`` (default: the CamVid demo search, half/half
   split of train) with that target, ``--warmup-epochs`` + ``--search-epochs``
   epochs, seed ``--seed``; ``--search-options`` are extra ``--cfg-options``
   (e.g. a lean ``search_mode``).
3. ``derive``: the derived network; its confidence table is kept.
4. ``sample``: ``--num-random`` uniform architectures at the derived one's
   FLOPs +-10%.
5. ``retrain``: from scratch, the same schedule for all (the search config's
   ``derive.retrain_base``, ``--retrain-epochs``): the derived network and
   mv2+ASPP with ``--seeds`` seeds each (seed, seed + 1, ...), every random one
   with seed ``--seed``.
6. ``test``: ``tools/test.py`` on CamVid val (IoUMetric mIoU).
7. ``latency``: each network (first seed's weights) at 360x480, batch 1,
   PyTorch and onnxruntime, ``--threads`` threads, each in a fresh process
   (benchmarks/_common.py).
8. ``plots``: ``tools/plot_arch.py`` into ``WORK_DIR/plots`` (PNG; not
   copied to the results).
9. ``report``: ``results.md`` (the table: code, FLOPs, params, latency, mIoU
   mean +- std; ratios derived / mean random and derived / baseline; whether
   issue 9's goal is met) and ``results.json``, plus the arch files, the arch
   history and the test metrics, in ``--results-dir``.

Every stage writes ``WORK_DIR/<stage>/...done.json`` and is skipped when it
exists (the latencies of all networks are one stage, measured back to back); a
search or retrain that was interrupted resumes from its last checkpoint, so
re-running the same command continues. A re-run with other result options
stops (use another ``--work-dir``; benchmarks/_stages.py). Everything is
logged to ``WORK_DIR/run.log``. ``--smoke`` runs the whole chain on 8 train /
4 val images for one epoch (minutes; it refuses to write under docs/results).

``--arm NAME KEY=VALUE ...`` (repeatable) adds another search beside the main
one, e.g. a lean mode at the main search's wall time::

    --arm proxyless search_epochs=40 warmup_epochs=4 \
        model.backbone.search_mode=proxyless \
        model.decode_head.search_mode=proxyless find_unused_parameters=True

``search_epochs`` / ``warmup_epochs`` replace the main search's, every other
pair is a ``--cfg-options`` of that search. An arm searches, derives and
retrains its network (``--seeds`` seeds) in ``WORK_DIR/arms/NAME/``, and is
compared with the same random networks and mv2+ASPP runs as the main search
(which are not run again): adding an arm to a finished work dir costs one
search and its retrains. Its options are kept in
``WORK_DIR/arms/NAME/options.json``.
"""
import argparse
import logging
import os
import os.path as osp
import sys
import time
from typing import Any, Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from _common import confidence_of, set_threads, trained_latency  # noqa: E402
from _stages import (StageRunner, results_dir, start_run,  # noqa: E402
                     thread_env)
import _tools as tools  # noqa: E402
from camvid_report import (BASELINE_CONFIG, WINDOW, networks,  # noqa: E402
                           run_name, write_report)

from attnas_mmseg.utils.search_schedule import \
    search_schedule_options  # noqa: E402

SCRIPT = 'camvid_search_vs_random'
SEARCH_CONFIG = 'configs/demo/attnas-search_demo_camvid-120x160.py'
LATENCY_SIZE = (360, 480)
SMOKE_TRAIN, SMOKE_VAL = 8, 4
#: Options whose change makes earlier stages' outputs invalid.
RESULT_OPTIONS = ('data_root', 'search_config', 'target_ratio',
                  'search_epochs', 'warmup_epochs', 'search_options',
                  'num_random', 'seeds', 'retrain_epochs', 'seed', 'smoke')

log = logging.getLogger(SCRIPT)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='../shared/data/camvid')
    parser.add_argument('--work-dir', default='work_dirs/'
                        'camvid_search_vs_random')
    parser.add_argument('--results-dir', default=None,
                        help='default docs/results/camvid (smoke: '
                        'WORK_DIR/results)')
    parser.add_argument('--search-config', default=SEARCH_CONFIG)
    parser.add_argument('--target-ratio', type=float, default=0.7,
                        help='FLOPs target / mv2+ASPP FLOPs')
    parser.add_argument('--search-epochs', type=int, default=10,
                        help='epochs with arch steps, after the warm-up')
    parser.add_argument('--warmup-epochs', type=int, default=2)
    parser.add_argument('--search-options', nargs='+', default=[],
                        metavar='KEY=VALUE',
                        help='extra --cfg-options of the search')
    parser.add_argument('--num-random', type=int, default=3)
    parser.add_argument('--seeds', type=int, default=2,
                        help='seeds of the derived network and mv2+ASPP')
    parser.add_argument('--retrain-epochs', type=int, default=6)
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--threads', type=int, default=2,
                        help='intra-op threads (training, latency)')
    parser.add_argument('--latency-runs', type=int, default=10)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--stop-after', choices=['search', 'sample'],
                        default=None,
                        help='stop after this stage (e.g. search and sample '
                        'in one session, retrain in the next)')
    parser.add_argument('--arm', nargs='+', action='append', default=[],
                        metavar='NAME KEY=VALUE',
                        help='another search compared with the same random '
                        'and baseline runs (repeatable; see the docstring)')
    parser.add_argument('--smoke', action='store_true',
                        help='tiny data and schedule: checks the chain only')
    args = parser.parse_args(argv)
    for name in ('search_epochs', 'num_random', 'seeds', 'retrain_epochs',
                 'threads', 'latency_runs'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.warmup_epochs < 0:
        parser.error('--warmup-epochs must be >= 0')
    if args.smoke:
        args.search_epochs, args.warmup_epochs = 1, 0
        args.retrain_epochs, args.latency_runs = 1, 1
    args.work_dir = osp.abspath(args.work_dir)
    args.results_dir = results_dir(parser, args, 'camvid')
    args.data_root = osp.abspath(args.data_root)
    try:
        args.arms = [parse_arm(tokens, args) for tokens in args.arm]
    except ValueError as err:
        parser.error(str(err))
    names = [a['name'] for a in args.arms]
    if len(set(names)) != len(names):
        parser.error(f'--arm: names must differ, got {names}')
    return args


#: the script options an ``--arm`` may set; its other pairs are cfg-options
ARM_KEYS = ('search_epochs', 'warmup_epochs')


def parse_arm(tokens: List[str], args: argparse.Namespace) -> Dict[str, Any]:
    """``NAME KEY=VALUE ...`` of ``--arm`` -> name, epochs, cfg-options."""
    name, pairs = tokens[0], tokens[1:]
    if not name.isidentifier() or name in ('derived', 'random'):
        raise ValueError(f'--arm: NAME must be an identifier other than '
                         f'"derived"/"random", got {name!r}')
    arm = dict(name=name, search_epochs=args.search_epochs,
               warmup_epochs=args.warmup_epochs, search_options=[])
    for pair in pairs:
        key, sep, value = pair.partition('=')
        if not sep or not key:
            raise ValueError(f'--arm {name}: expected KEY=VALUE, got '
                             f'{pair!r}')
        if key in ARM_KEYS:
            if not value.isdigit():
                raise ValueError(f'--arm {name}: {key} must be a '
                                 f'non-negative integer, got {value!r}')
            arm[key] = int(value)
        else:
            arm['search_options'].append(pair)
    if args.smoke:
        arm['search_epochs'], arm['warmup_epochs'] = 1, 0
    if arm['search_epochs'] < 1:
        raise ValueError(f'--arm {name}: search_epochs must be >= 1')
    return arm


def main_arm(args: argparse.Namespace) -> Dict[str, Any]:
    """The main search, in the form of an ``--arm`` (its dirs at the top)."""
    return dict(name=None, search_epochs=args.search_epochs,
                warmup_epochs=args.warmup_epochs,
                search_options=list(args.search_options))


def arm_runner(st: StageRunner, arm: Dict[str, Any]) -> StageRunner:
    """Where an arm's stages live: ``WORK_DIR/arms/NAME``, its options kept
    there (an arm made with others is refused); the main search's at the
    top."""
    if arm['name'] is None:
        return st
    return st.sub(osp.join('arms', arm['name']), arm,
                  advice='use another arm name')


def search_options(args: argparse.Namespace, target_g: float,
                   arm: Dict[str, Any]) -> List[str]:
    """--cfg-options of a search: data, target, schedule, seed."""
    config = args.search_config
    warmup = arm['warmup_epochs']
    epochs = warmup + arm['search_epochs']
    opts = [f'{k}.data_root={args.data_root}' for k in (
        'train_dataloader.dataset.dataset', 'arch_dataloader.dataset.dataset')]
    opts += [tools.hook_option(config, 'flops_target', f'{target_g:.4f}'),
             *search_schedule_options(osp.join(REPO, config), epochs,
                                      warmup),
             'default_hooks.checkpoint.interval=1',
             f'randomness.seed={args.seed}']
    if args.smoke:
        opts += [f'{k}.indices={SMOKE_TRAIN}' for k in (
            'train_dataloader.dataset.dataset',
            'arch_dataloader.dataset.dataset')]
        opts.append(tools.hook_option(config, 'log_interval', 1))
    return opts + list(arm['search_options'])


def retrain_options(args: argparse.Namespace, seed: int) -> List[str]:
    """--cfg-options of every retrain and test: the same budget for all."""
    epochs = args.retrain_epochs
    opts = [f'{k}.data_root={args.data_root}' for k in (
        'train_dataloader.dataset', 'val_dataloader.dataset',
        'test_dataloader.dataset')]
    # tools/test.py evaluates each run; no val pass inside training
    opts += [f'train_cfg.max_epochs={epochs}',
             f'train_cfg.val_interval={epochs + 1}',
             f'param_scheduler.0.end={epochs}',
             'default_hooks.checkpoint.interval=1',
             f'randomness.seed={seed}']
    if args.smoke:
        opts += [f'train_dataloader.dataset.indices={SMOKE_TRAIN}',
                 f'val_dataloader.dataset.indices={SMOKE_VAL}',
                 f'test_dataloader.dataset.indices={SMOKE_VAL}']
    return opts


# ------------------------------------------------------------------- stages
def stage_prepare(args: argparse.Namespace) -> Dict[str, Any]:
    from mmengine.config import Config

    from attnas_mmseg.export.derived import measure
    size = tuple(Config.fromfile(osp.join(REPO, args.search_config)).get(
        'derive', {}).get('input_size', (1024, 2048)))
    model = Config.fromfile(osp.join(REPO, BASELINE_CONFIG)).model.to_dict()
    base = measure(model, size)
    target = args.target_ratio * base['flops_paper_G']
    log.info('mv2+ASPP at %dx%d: %.2fG (paper convention), %.2fM params; '
             'FLOPs target %.2fG (%.2fx)', size[0], size[1],
             base['flops_paper_G'], base['params_M'], target,
             args.target_ratio)
    return dict(baseline=base, flops_target_G=target, input_size=list(size))


def stage_derive(st: StageRunner, args: argparse.Namespace,
                 search: Dict[str, Any]) -> Dict[str, Any]:
    """The derived network (marker), with its confidence table computed from
    the checkpoint by this code's noise rule on every call: the marker does
    not keep it (one written by an older version held an outdated sigma)."""
    from attnas_mmseg.search import ArchSpec
    found = st.stage('derived', lambda: tools.derive(
        st, args.search_config, search['checkpoint'], st.path('derived')))
    spec = ArchSpec.load(found['arch_file'])
    conf = confidence_of(search['checkpoint'], int(spec.meta.get('topk', 4)))
    log.info('derived %s\n%s', spec, conf['table'])
    return dict(found, confidence=conf)


def stage_sample(st: StageRunner, args: argparse.Namespace,
                 derived: Dict[str, Any]) -> Dict[str, Any]:
    out = st.path('random')
    st.run([sys.executable, 'tools/sample_random_arch.py',
            args.search_config, '--num', str(args.num_random), '--seed',
            str(args.seed), '--out-dir', out, '--flops-window',
            derived['arch_file'], str(WINDOW), '--overwrite'])
    nets = [dict(name=f'random_{i}',
                 arch_file=osp.join(out, f'random_{i}', 'arch.json'),
                 retrain_config=osp.join(out, f'random_{i}', 'retrain.py'))
            for i in range(args.num_random)]
    return dict(networks=nets)


def stage_retrain_and_test(st: StageRunner, args: argparse.Namespace,
                           net: Dict[str, Any], seed: int) -> Dict[str, Any]:
    name = run_name(net, seed)
    run = tools.retrain_and_test(st, net['config'], st.path('runs', name),
                                 retrain_options(args, seed),
                                 args.retrain_epochs)
    log.info('%s: val mIoU %.2f', name, run['metrics']['mIoU'])
    return dict(checkpoint=run['checkpoint'], seed=seed,
                metrics=run['metrics'])


def stage_latency(st: StageRunner, args: argparse.Namespace,
                  nets: List[Dict[str, Any]],
                  runs: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """All networks in one go (one stage), so their latencies are measured
    back to back under the same conditions."""
    result = {}
    for net in nets:
        run = runs[run_name(net, net['seeds'][0])]
        onnx = st.path('latency', f'{net["name"].replace("+", "_")}.onnx')
        os.makedirs(osp.dirname(onnx), exist_ok=True)
        result[net['name']] = lat = trained_latency(
            osp.join(REPO, net['config']), run['checkpoint'], onnx,
            LATENCY_SIZE, args.latency_runs, args.threads, args.device)
        log.info('%s at %dx%d: PyTorch %.1f ms, onnxruntime %.1f ms',
                 net['name'], *LATENCY_SIZE, lat['torch']['median_ms'],
                 lat['onnxruntime']['median_ms'])
    return result


def stage_plots(st: StageRunner, search: Dict[str, Any],
                derived: Dict[str, Any]) -> Dict[str, Any]:
    """tools/plot_arch.py: the search's evolution and the derived module
    (PNG, in WORK_DIR/plots: images stay out of the results)."""
    out = st.path('plots')
    st.run([sys.executable, 'tools/plot_arch.py', '--history',
            *search['history'], '--arch', derived['arch_file'], '--out-dir',
            out, '--overwrite'])
    return dict(dir=out)


# --------------------------------------------------------------------- main
def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not osp.isdir(osp.join(args.data_root, 'trainannot')):
        sys.exit(f'{SCRIPT}: no CamVid (SegNet layout) at {args.data_root}')
    log_path = start_run(SCRIPT, args.work_dir, args.device)
    st = StageRunner(args.work_dir, {k: getattr(args, k)
                                     for k in RESULT_OPTIONS}, SCRIPT,
                     log_path, thread_env(args.threads, args.device))
    set_threads(args.threads)
    start = time.time()
    log.info('work dir %s, results %s', args.work_dir, args.results_dir)

    prepare = st.stage('prepare', lambda: stage_prepare(args))
    searches = {}
    for arm in [main_arm(args)] + args.arms:
        arm_st = arm_runner(st, arm)
        found = arm_st.stage('search', lambda: tools.search(
            arm_st, args.search_config, arm_st.path('search'),
            search_options(args, prepare['flops_target_G'], arm),
            arm['warmup_epochs'] + arm['search_epochs']))
        searches[arm['name']] = (arm, found,
                                 stage_derive(arm_st, args, found))
    _, main_search, derived = searches[None]
    if args.stop_after == 'search':
        return dict(searches=searches)
    random_nets = st.stage('random', lambda: stage_sample(st, args, derived))
    if args.stop_after == 'sample':
        return dict(searches=searches, random=random_nets)
    nets = networks(args, derived, random_nets,
                    [(a, d) for name, (a, _, d) in searches.items() if name])
    runs = {}
    for net in nets:
        for seed in net['seeds']:
            runs[run_name(net, seed)] = st.stage(
                f'runs/{run_name(net, seed)}',
                lambda: stage_retrain_and_test(st, args, net, seed))
    # measured again when a network was added since (e.g. an arm)
    latency = st.stage('latency', lambda: stage_latency(st, args, nets, runs),
                       reuse=lambda found: set(found) == {
                           net['name'] for net in nets})
    if main_search['history']:
        st.stage('plots', lambda: stage_plots(st, main_search, derived))
    result = write_report(args, st.options, prepare, searches, nets, runs,
                          latency)
    log.info('total %.1f min (this invocation)', (time.time() - start) / 60)
    return result


if __name__ == '__main__':
    main()
