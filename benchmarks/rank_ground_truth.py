"""A ground truth to rank architectures: each trained on its own (issue 17).

    python benchmarks/rank_ground_truth.py
        [--num-archs 16] [--pilot-archs 6] [--seeds 0 1]
        [--searched NAME=path/to/arch.json ...] [--window 0.4 1.0]
        [--strata K]
        [--height 120] [--width 160] [--epochs 30] [--batch-size 8]
        [--lr 0.05] [--lr-min 1e-4] [--schedule poly|cosine]
        [--data-root ../shared/data/camvid] [--no-cache] [--val-split blocks]
        [--proxy-config CONFIG] [--space-config CONFIG]
        [--stop-after cache|sample|pilot] [--ignore-pilot-goals]
        [--first NAME ...]
        [--threads 2] [--workers 1] [--device cpu|cuda] [--seed 0]
        [--work-dir work_dirs/rank_ground_truth]
        [--results-dir docs/results/camvid/ranking] [--smoke]

Networks of the AttNAS space trained from scratch, one by one, in a cheap
*proxy setting* (default: CamVid train, whole frames at 120x160, batch 8, 30
epochs, SGD lr 0.05 poly; tested on CamVid val at 120x160, MMSeg's IoUMetric,
11 classes), so that what a search ranks can be checked against them
(benchmarks/rank_correlation.py). Stages (benchmarks/_stages.py: a finished
stage is skipped, an interrupted training resumes from its last epoch, so the
same command continues; the tools' output goes to ``WORK_DIR/run.log``):

1. ``cache``: CamVid's train/val resized once to the proxy size (with
   ``--val-split blocks``, val/ made of held-out scenes of the train frames
   instead of SegNet's val, one 7-second clip; images as
   the pipeline's Resize would, labels nearest) in ``WORK_DIR/data`` (none
   with ``--no-cache``: the pipeline resizes every epoch). The setting is
   written as ``WORK_DIR/proxy.py`` (``--proxy-config`` + the options) and
   ``WORK_DIR/space.py`` (``--space-config`` retrained from proxy.py).
2. ``sample``: ``--num-archs`` networks (r00, r01, ...) drawn uniformly from
   the space inside ``--window`` x the FLOPs of mv2+ASPP
   (``configs/demo/mv2-aspp_demo_camvid-360x480.py``) at the space's
   ``derive.input_size`` (720x960), both priced by the search's FLOPs table
   (paper convention); with ``--strata K``, network i comes from the
   (i mod K)-th of K equal-width FLOPs bins of the window instead, uniformly
   inside it (``sample_archs_stratified``: uniform draws crowd the space's
   median, so matched-FLOPs networks differ by less than a seed); plus every
   ``--searched`` network; each gets
   ``WORK_DIR/nets/NAME/{arch.json,retrain.py}``. A longer draw starts with
   the shorter one's networks, so ``--num-archs`` and ``--searched`` may grow
   in a work dir.
3. ``pilot``: the first ``--pilot-archs`` networks x ``--seeds``
   (``tools/train.py``, val mIoU after the last epoch; ``tools/test.py``
   when that was interrupted); ``pilot.json``: their mIoU,
   the pooled seed std, the between-network std, their ratio, the
   seed-vs-seed Kendall tau (goals: tau >= 0.6, ratio >= 2) and, from the
   logged per-class table, which classes carry the seed noise. When a goal is
   missed the script stops here (``--ignore-pilot-goals`` goes on): change
   the setting and rerun the pilot into another ``--work-dir``.
   With ``--adopt GROUND_TRUTH_JSON`` (an earlier record of the same
   setting and draw, e.g. the committed one on a machine that lacks its work
   dir), its runs count as finished (stage ``adopt``, with the hours it
   records) and only what it lacks is trained.
4. ``train``: every other network x every seed, in the draw's order (r00,
   r01, ..., then the searched ones); ``--first NAME ...`` trains those
   networks before the others (e.g. the searches' picks, when a session has
   time for only part of the queue). The order changes nothing else.
5. ``report``: ``ground_truth.json`` (setting, networks with spec, FLOPs,
   params, mIoU per seed and mean, source; CPU hours per stage), rewritten
   after every finished training with the networks finished so far.

``--smoke`` runs the chain at a toy size (3 networks, 2 in the pilot, 1
epoch, 8 train / 4 val images; minutes) and refuses to write under
docs/results.
"""
import argparse
import copy
import logging
import os.path as osp
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import _ranking as rk  # noqa: E402
import _tools as tools  # noqa: E402
from _stages import (StageRunner, results_dir, start_run,  # noqa: E402
                     thread_env, write_json)

SCRIPT = 'rank_ground_truth'
PROXY_CONFIG = 'configs/ranking/attnas-proxy_mv2_1xb8-30e_camvid-120x160.py'
SPACE_CONFIG = 'configs/demo/attnas-search_demo_camvid-120x160.py'
REFERENCE_CONFIG = 'configs/demo/mv2-aspp_demo_camvid-360x480.py'
SMOKE = dict(num_archs=3, pilot_archs=2, epochs=1, num_train=8, num_val=4)
#: The options a work dir's results depend on (benchmarks/_stages.py); the
#: networks' number and the searched ones may grow (sample's docstring).
SETTING_KEYS = ('height', 'width', 'epochs', 'batch_size', 'lr', 'lr_min',
                'schedule', 'num_train', 'num_val', 'cache', 'val_split',
                'class_weight', 'data_root',
                'proxy_config', 'space_config')
RESULT_OPTIONS = SETTING_KEYS + ('reference_config', 'window', 'strata',
                                 'seed', 'smoke')

log = logging.getLogger(SCRIPT)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 2)[2])
    add = parser.add_argument
    add('--num-archs', type=int, default=16,
        help='random networks r00, r01, ... (default 16)')
    add('--pilot-archs', type=int, default=6,
        help='the first networks trained in the pilot (default 6)')
    add('--seeds', nargs='+', type=int, default=[0, 1],
        help='training seeds of every network (default 0 1)')
    add('--searched', action='append', default=[], metavar='NAME=ARCH_JSON',
        help='a searched network to add (repeatable)')
    add('--window', nargs=2, type=float, default=[0.4, 1.0],
        metavar=('LOW', 'HIGH'), help='FLOPs window of the random networks, '
        'x the reference\'s (default 0.4 1.0)')
    add('--strata', type=int, default=None, metavar='K',
        help='spread the random networks over K equal FLOPs bins of the '
        'window (default: uniform over the window)')
    add('--reference-config', default=REFERENCE_CONFIG,
        help='the window\'s reference network (default mv2+ASPP)')
    add('--seed', type=int, default=0, help='seed of the draw')
    setting = parser.add_argument_group('the proxy setting')
    setting.add_argument('--height', type=int, default=120)
    setting.add_argument('--width', type=int, default=160)
    setting.add_argument('--epochs', type=int, default=30)
    setting.add_argument('--batch-size', type=int, default=8)
    setting.add_argument('--lr', type=float, default=0.05,
                         help='SGD learning rate (default 0.05)')
    setting.add_argument('--lr-min', type=float, default=1e-4,
                         help='the schedule\'s final lr (default 1e-4)')
    setting.add_argument('--schedule', choices=rk.SCHEDULES, default='poly')
    setting.add_argument('--num-train', type=int, default=None,
                         help='only the first N train images (default all)')
    setting.add_argument('--num-val', type=int, default=None,
                         help='only the first N val images (default all)')
    setting.add_argument('--data-root', default='../shared/data/camvid',
                         help='CamVid in the SegNet layout (read only)')
    setting.add_argument(
        '--val-split', choices=rk.VAL_SPLITS, default=None,
        help='what the networks are tested on: segnet (default): CamVid\'s '
        'val, 101 frames of one 7-second clip; blocks: every 4th run of 8 '
        'consecutive train frames of each sequence, held out of training '
        '(needs the cache)')
    setting.add_argument(
        '--class-weight', choices=rk.CLASS_WEIGHTS, default=None,
        help='weight the cross-entropy per class: median-freq: median '
        'frequency balancing on the train split (SegNet\'s CamVid loss; '
        'default: unweighted, the retrain\'s)')
    setting.add_argument('--no-cache', dest='cache', action='store_false',
                         help='resize on the fly instead of once (needed '
                         'for data not in the SegNet layout)')
    setting.add_argument('--proxy-config', default=PROXY_CONFIG,
                         help='the retrain base the options are applied to '
                         '(default %(default)s)')
    setting.add_argument('--space-config', default=SPACE_CONFIG,
                         help='the search config whose space is sampled '
                         '(default %(default)s)')
    add('--stop-after', choices=['cache', 'sample', 'pilot'], default=None,
        help='stop after that stage (cache: e.g. a resized copy with '
        '--val-split blocks for the searches of benchmarks/rank_searches.py)')
    add('--ignore-pilot-goals', action='store_true',
        help='train every network even when the pilot misses its goals')
    add('--adopt', default=None, metavar='GROUND_TRUTH_JSON',
        help='take the runs of an earlier ground_truth.json of the same '
        'setting and draw as finished (e.g. the committed one, on a machine '
        'that lacks the work dir it came from): only what it lacks is '
        'trained')
    add('--first', nargs='+', default=[], metavar='NAME',
        help='networks trained before the others (after the pilot); all '
        'are trained in the end')
    add('--threads', type=int, default=2,
        help='intra-op threads of every run (default 2)')
    add('--workers', type=int, default=1,
        help='runs trained at the same time, each with --threads (default '
        '1; docs/benchmarks.md measures 2 x 1 thread on 2 cores)')
    add('--device', choices=['cpu', 'cuda'], default='cpu',
        help='where the runs train (default cpu)')
    add('--work-dir', default='work_dirs/rank_ground_truth',
        help='data, networks, runs, logs and stage markers (resume: the '
        'same command again)')
    add('--results-dir', default=None,
        help='default docs/results/camvid/ranking (smoke: WORK_DIR/results)')
    add('--smoke', action='store_true', help='a toy size end to end (%s)' %
        ', '.join(f'{k}={v}' for k, v in SMOKE.items()))
    args = parser.parse_args(argv)
    if args.smoke:
        for key, value in SMOKE.items():
            setattr(args, key, value)
        args.ignore_pilot_goals = True
    for key in ('num_archs', 'pilot_archs', 'height', 'width', 'epochs',
                'batch_size', 'threads', 'workers', 'num_train', 'num_val',
                'strata'):
        value = getattr(args, key)
        if value is not None and value < 1:
            parser.error(f'--{key.replace("_", "-")} must be >= 1')
    if not 0 < args.window[0] <= args.window[1]:
        parser.error(f'--window must be LOW HIGH with 0 < LOW <= HIGH, got '
                     f'{args.window}')
    if args.val_split == 'segnet':
        args.val_split = None   # the default (work dirs made before it)
    if args.val_split and not args.cache:
        parser.error('--val-split blocks needs the cache (not --no-cache)')
    if args.strata is not None and not args.window[0] < args.window[1]:
        parser.error('--strata needs a window with LOW < HIGH')
    if not args.lr > 0 or not 0 <= args.lr_min < args.lr:
        parser.error('--lr must be > 0 and --lr-min in [0, --lr)')
    if len(set(args.seeds)) < 2:
        parser.error('--seeds: the pilot needs >= 2 distinct seeds')
    args.seeds = sorted(set(args.seeds))
    try:
        args.searched = rk.parse_searched(args.searched)
    except ValueError as err:
        parser.error(str(err))
    if args.pilot_archs > args.num_archs + len(args.searched):
        parser.error('--pilot-archs must be <= the number of networks')
    if args.pilot_archs < 2:
        parser.error('--pilot-archs must be >= 2 (a ranking needs two)')
    names = all_names(args)
    unknown = [n for n in args.first if n not in names]
    if unknown:
        parser.error(f'--first: {unknown} are not networks of this draw '
                     f'(allowed: {", ".join(names)})')
    if args.adopt is not None:
        if not osp.isfile(args.adopt):
            parser.error(f'--adopt: no file {args.adopt}')
        args.adopt = osp.abspath(args.adopt)
    args.work_dir = osp.abspath(args.work_dir)
    args.results_dir = results_dir(parser, args, osp.join('camvid', 'ranking'))
    args.data_root = osp.abspath(args.data_root)
    for key in ('proxy_config', 'space_config', 'reference_config'):
        setattr(args, key, osp.relpath(osp.abspath(getattr(args, key)), REPO))
    return args


def all_names(args: argparse.Namespace) -> List[str]:
    """The draw's networks: r00, r01, ..., then the searched ones."""
    return rk.network_names(args.num_archs) + [n for n, _ in args.searched]


def result_options(args: argparse.Namespace) -> Dict[str, Any]:
    return {k: getattr(args, k) for k in RESULT_OPTIONS}


def setting_of(args: argparse.Namespace) -> Dict[str, Any]:
    """The proxy setting as recorded in the results."""
    return dict({k: getattr(args, k) for k in SETTING_KEYS},
                seeds=args.seeds, threads=args.threads, device=args.device,
                window=args.window, strata=args.strata,
                reference_config=args.reference_config,
                sample_seed=args.seed, smoke=args.smoke)


# ------------------------------------------------------------------ stages
def stage_cache(st: StageRunner, args: argparse.Namespace) -> Dict[str, Any]:
    start = time.time()
    root = st.path('data', f'camvid-{args.height}x{args.width}')
    counts = rk.write_resized_copy(args.data_root, root, args.height,
                                   args.width, args.val_split or 'segnet')
    log.info('cache: %s resized to %dx%d in %s', counts, args.height,
             args.width, root)
    return dict(root=root, files=counts, wall_s=time.time() - start,
                threads=1)


def stage_class_weight(args: argparse.Namespace,
                       data_root: str) -> Dict[str, Any]:
    """``--class-weight median-freq``: the weights of the proxy's loss,
    from the train split's labels (the first ``--num-train``)."""
    from mmengine.config import Config
    start = time.time()
    num = Config.fromfile(osp.join(REPO, args.proxy_config)).model[
        'decode_head']['num_classes']
    weights = rk.median_frequency_weights(
        osp.join(data_root, rk.SEGNET_SPLITS[0][1]), num,
        limit=args.num_train)
    log.info('class weight (%s): %s', args.class_weight,
             ', '.join(f'{w:.3f}' for w in weights))
    return dict(method=args.class_weight, weights=weights,
                wall_s=time.time() - start, threads=1)


def sample_networks(args: argparse.Namespace, space: str,
                    out_dir: str) -> Dict[str, Any]:
    """The ``sample`` stage: the window, the draw, each network's files."""
    from mmengine.config import Config

    from attnas_mmseg.export.derived import write_derived
    from attnas_mmseg.export.random_arch import (draw_archs, flops_range,
                                                 search_flops_table)
    from attnas_mmseg.search import ArchSpec
    from attnas_mmseg.search.cost.flops import FLOPS_PER_G
    from attnas_mmseg.search.space.extra_candidates import ExtraCandidates
    start = time.time()
    cfg = Config.fromfile(space)
    table = search_flops_table(space)
    size = tuple(table.input_size)
    topk = int(cfg.get('derive', {}).get('topk', 4))
    ref = rk.reference_cost(osp.join(REPO, args.reference_config), size)
    window = tuple(r * ref['flops_G'] for r in args.window)
    low, high = (f / FLOPS_PER_G for f in flops_range(table, topk))
    if window[1] < low or window[0] > high:
        raise ValueError(f'window: {window[0]:.3g}G - {window[1]:.3g}G holds '
                         f'no architecture of the space ({low:.3g}G - '
                         f'{high:.3g}G at {size[0]}x{size[1]})')
    log.info('reference %s: %.2fG at %dx%d; window %.2fG - %.2fG',
             args.reference_config, ref['flops_G'], *size, *window)
    specs = draw_archs(table, args.num_archs, args.seed, topk, window,
                       args.strata, ExtraCandidates.from_model_cfg(cfg.model))
    todo = [(name, spec, 'random') for name, spec in
            zip(rk.network_names(args.num_archs), specs)]
    todo += [(name, ArchSpec.load(path), f'searched:{path}')
             for name, path in args.searched]
    nets = []
    for name, spec, source in todo:
        out = osp.join(out_dir, name)
        spec = write_derived(spec, space, out, size, overwrite=True,
                             origin=f'{SCRIPT}: {name} ({source})')
        nets.append(dict(name=name, source=source, spec=str(spec),
                         flops_G=spec.meta['flops_paper_G'],
                         params_M=spec.meta['params_M'],
                         arch_file=osp.join(out, 'arch.json'),
                         config=osp.join(out, 'retrain.py')))
        log.info('%s: %s %.2fG %.2fM (%s)', name, spec,
                 nets[-1]['flops_G'], nets[-1]['params_M'], source)
    return dict(networks=nets, input_size=list(size),
                reference=ref,
                window_G=list(window), wall_s=time.time() - start,
                threads=args.threads)


def adopt(st: StageRunner, args: argparse.Namespace,
          nets: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """``--adopt FILE``: the runs of FILE kept as finished runs of this work
    dir (once; the ``adopt`` stage's hours are the ones FILE records for
    them). Refused when this work dir has trained one of them itself or
    adopted another file."""
    kept = st.done('adopt')
    if args.adopt is None or kept is not None:
        if kept is not None and args.adopt not in (None, kept['source']):
            sys.exit(f'{SCRIPT}: --adopt {args.adopt}: {args.work_dir} '
                     f'adopted {kept["source"]} already')
        return kept

    def run():
        try:
            runs, hours = rk.adopted_runs(args.adopt, setting_of(args), nets,
                                          args.seeds)
        except ValueError as err:
            sys.exit(f'{SCRIPT}: {err}')
        trained = [n for n in runs if st.done(f'runs/{n}') is not None]
        if trained:
            sys.exit(f'{SCRIPT}: --adopt {args.adopt}: {args.work_dir} '
                     f'trained {", ".join(trained)} itself; adopt into a '
                     'work dir whose runs have not started')
        for name, run in runs.items():
            write_json(st.marker(f'runs/{name}'), run)
        log.info('adopted %d runs of %s', len(runs), args.adopt)
        return dict(source=args.adopt, runs=sorted(runs),
                    wall_s=hours['wall'] * 3600,
                    threads=hours['cpu'] / hours['wall'] if hours['wall']
                    else 1)

    return st.stage('adopt', run)


def stage_run(st: StageRunner, args: argparse.Namespace,
              net: Dict[str, Any], seed: int) -> Dict[str, Any]:
    """One network, one seed: trained (resumed when interrupted), its val
    mIoU."""
    name = rk.run_name(net['name'], seed)

    def run():
        work = st.path('runs', name)
        opts = [f'randomness.seed={seed}']
        start = time.time()
        ckpt = tools.train(st, net['config'], osp.join(work, 'train'), opts,
                           args.epochs)
        # the logs span every invocation of a resumed run, this one's wall
        # time its start-up too: the larger of the two
        train_s = max((tools.train_minutes(osp.join(work, 'train')) or 0) *
                      60, time.time() - start)
        start = time.time()
        # tools/train.py validates after its last epoch (mmengine's loop
        # always does); tested again only when that was interrupted
        metrics = rk.final_val_metrics(osp.join(work, 'train'), args.epochs)
        if metrics is None:
            st.run([sys.executable, 'tools/test.py', net['config'], ckpt,
                    '--work-dir', osp.join(work, 'test'), '--cfg-options',
                    *opts])
            metrics = tools.read_test_metrics(osp.join(work, 'test'))
        return rk.kept_run(net['name'], seed, metrics['mIoU'], train_s,
                           time.time() - start, args.threads, args.device,
                           checkpoint=ckpt,
                           metrics_file=metrics['metrics_file'])

    found = st.stage(f'runs/{name}', run)
    log.info('%s: val mIoU %.2f (%.1f min)', name, found['miou'],
             (found['train_s'] + found['test_s']) / 60)
    return found


def report(args: argparse.Namespace, nets: List[Dict[str, Any]],
           runs: Dict[str, Dict[str, Any]], stages: Dict[str, Any],
           sample: Dict[str, Any]) -> Dict[str, Any]:
    setting = dict(setting_of(args), input_size=sample['input_size'],
                   reference=sample['reference'], window_G=sample['window_G'])
    if 'class_weight' in stages:
        setting['class_weight_values'] = stages['class_weight']['weights']
    truth = rk.ground_truth(setting, nets, runs, args.seeds,
                            [n['name'] for n in nets[:args.pilot_archs]],
                            stages)
    write_json(osp.join(args.results_dir, 'ground_truth.json'), truth)
    return truth


def first_in_queue(nets: List[Dict[str, Any]],
                   first: List[str]) -> List[Dict[str, Any]]:
    """``nets`` with those named in ``first`` moved to the front (in
    ``first``'s order), the others in their own order."""
    by_name = {n['name']: n for n in nets}
    front = [by_name[n] for n in dict.fromkeys(first) if n in by_name]
    return front + [n for n in nets if n['name'] not in first]


def train_all(st: StageRunner, args: argparse.Namespace,
              nets: List[Dict[str, Any]], runs: Dict[str, Dict[str, Any]],
              stages: Dict[str, Any], sample: Dict[str, Any]) -> None:
    """Every seed of every network in ``nets`` (in order; ``--workers`` of
    them at a time, each with its tools' output in its own
    ``runs/NAME/run.log``), the ground truth rewritten after each run. The
    runs finished before join it at once, wherever ``--first`` put them in
    the queue."""
    todo = [(net, seed) for net in nets for seed in args.seeds]
    for net, seed in todo:
        if st.done(f'runs/{rk.run_name(net["name"], seed)}') is not None:
            runs[rk.run_name(net['name'], seed)] = stage_run(st, args, net,
                                                             seed)
    todo = [(net, seed) for net, seed in todo
            if rk.run_name(net['name'], seed) not in runs]
    report(args, sample['networks'], runs, stages, sample)
    if args.workers == 1:
        for net, seed in todo:
            runs[rk.run_name(net['name'], seed)] = stage_run(st, args, net,
                                                             seed)
            report(args, sample['networks'], runs, stages, sample)
        return

    def one(net: Dict[str, Any], seed: int) -> Dict[str, Any]:
        name = rk.run_name(net['name'], seed)
        own = copy.copy(st)
        own.log_path = st.path('runs', name, 'run.log')
        return stage_run(own, args, net, seed)

    with ThreadPoolExecutor(args.workers) as pool:
        futures = {pool.submit(one, net, seed): rk.run_name(net['name'], seed)
                   for net, seed in todo}
        for future in as_completed(futures):
            runs[futures[future]] = future.result()
            report(args, sample['networks'], runs, stages, sample)


# --------------------------------------------------------------------- main
def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    if args.cache and not osp.isdir(osp.join(args.data_root, 'trainannot')):
        sys.exit(f'{SCRIPT}: no CamVid (SegNet layout) at {args.data_root} '
                 '(other data: --no-cache)')
    log_path = start_run(SCRIPT, args.work_dir, args.device)
    st = StageRunner(args.work_dir, result_options(args), SCRIPT, log_path,
                     thread_env(args.threads, args.device))
    import torch
    torch.set_num_threads(args.threads)
    start = time.time()
    log.info('work dir %s, results %s', args.work_dir, args.results_dir)

    stages = {}
    data_root = args.data_root
    if args.cache:
        stages['cache'] = st.stage('cache', lambda: stage_cache(st, args))
        data_root = stages['cache']['root']
    if args.stop_after == 'cache':
        return dict(cache=stages.get('cache'))
    weights = None
    if args.class_weight:
        stages['class_weight'] = st.stage(
            'class_weight', lambda: stage_class_weight(args, data_root))
        weights = stages['class_weight']['weights']
    proxy, space = st.path('proxy.py'), st.path('space.py')
    with open(proxy, 'w') as f:
        f.write(rk.proxy_config_text(osp.join(REPO, args.proxy_config),
                                     setting_of(args), data_root, weights))
    with open(space, 'w') as f:
        f.write(rk.space_config_text(osp.join(REPO, args.space_config),
                                     proxy))
    names = all_names(args)
    sources = dict(args.searched)
    sample = st.stage(
        'sample', lambda: sample_networks(args, space, st.path('nets')),
        # drawn again when a network was added (the old ones stay the same)
        reuse=lambda kept: [n['name'] for n in kept['networks']] == names
        and all(n['source'] == f'searched:{sources[n["name"]]}'
                for n in kept['networks'] if n['name'] in sources))
    stages['sample'] = sample
    nets = sample['networks']
    if args.stop_after == 'sample':
        return dict(sample=sample)

    adopted = adopt(st, args, nets)
    if adopted is not None:
        stages['adopt'] = adopted
    runs: Dict[str, Dict[str, Any]] = {}
    train_all(st, args, nets[:args.pilot_archs], runs, stages, sample)
    pilot = rk.pilot_stats({
        n['name']: {str(s): runs[rk.run_name(n['name'], s)]['miou']
                    for s in args.seeds} for n in nets[:args.pilot_archs]},
        flops={n['name']: n['flops_G'] for n in nets[:args.pilot_archs]})
    classes = {n['name']: {str(s): rk.class_iou(
        st.path('runs', rk.run_name(n['name'], s))) for s in args.seeds}
        for n in nets[:args.pilot_archs]}
    if all(c for per in classes.values() for c in per.values()):
        pilot['class_seed_std'] = rk.class_seed_std(classes)
    else:   # adopted runs: their logs are where they trained
        carried = rk.carried_class_seed_std(
            osp.join(args.results_dir, 'pilot.json'), pilot['miou'])
        if carried:
            pilot['class_seed_std'] = carried
    pilot['setting'] = setting_of(args)
    write_json(osp.join(args.results_dir, 'pilot.json'), pilot)
    for line in rk.pilot_lines(pilot):
        log.info(line)
    met = pilot['tau_goal_met'] and pilot['ratio_goal_met']
    if args.stop_after == 'pilot' or not (met or args.ignore_pilot_goals):
        log.info('stopped after the pilot%s', ' (--stop-after pilot)' if
                 args.stop_after == 'pilot' else ': its goals are not met '
                 '(change the setting in another --work-dir, or pass '
                 '--ignore-pilot-goals)')
        return dict(sample=sample, pilot=pilot,
                    ground_truth=report(args, nets, runs, stages, sample))

    train_all(st, args, first_in_queue(nets[args.pilot_archs:], args.first),
              runs, stages, sample)
    truth = report(args, nets, runs, stages, sample)
    log.info('ground truth: %d networks in %s; CPU hours %s; this '
             'invocation %.1f min', len(truth['networks']), args.results_dir,
             {k: round(v, 3) for k, v in truth['cpu_hours'].items()},
             (time.time() - start) / 60)
    return dict(sample=sample, pilot=pilot, ground_truth=truth)


if __name__ == '__main__':
    main()
