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
re-running the same command continues. The options that change results are
stored in ``WORK_DIR/options.json``; a re-run with different ones stops (use
another ``--work-dir``). Everything is logged to ``WORK_DIR/run.log``.
``--smoke`` runs the whole chain on 8 train / 4 val images for one epoch
(minutes; it refuses to write under docs/results).

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
import glob
import json
import logging
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from _common import (check_work_dir_options, confidence_of,  # noqa: E402
                     environment, run_isolated, set_threads, summarize,
                     table, time_runs, train_minutes)

from attnas_mmseg.utils.search_schedule import \
    search_schedule_options  # noqa: E402

SEARCH_CONFIG = 'configs/demo/attnas-search_demo_camvid-120x160.py'
BASELINE_CONFIG = 'configs/demo/mv2-aspp_demo_camvid-360x480.py'
BASELINE = 'mv2+ASPP'
LATENCY_SIZE = (360, 480)
#: Issue 9's goal: derived mIoU >= baseline's at <= this FLOPs ratio.
GOAL_FLOPS_RATIO = 0.75
WINDOW = 0.1
SMOKE_TRAIN, SMOKE_VAL = 8, 4
#: Options whose change makes earlier stages' outputs invalid.
RESULT_OPTIONS = ('data_root', 'search_config', 'target_ratio',
                  'search_epochs', 'warmup_epochs', 'search_options',
                  'num_random', 'seeds', 'retrain_epochs', 'seed', 'smoke')

log = logging.getLogger('camvid_search_vs_random')


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
    results = args.results_dir or (
        osp.join(args.work_dir, 'results') if args.smoke else
        osp.join(REPO, 'docs', 'results', 'camvid'))
    args.results_dir = osp.abspath(results)
    docs_results = osp.join(REPO, 'docs', 'results')
    if args.smoke and osp.commonpath([args.results_dir, docs_results]) == \
            docs_results:
        parser.error('--smoke must not write under docs/results; give '
                     'another --results-dir')
    args.work_dir = osp.abspath(args.work_dir)
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


# ------------------------------------------------------------------ helpers
class Stages:
    """Runs commands with the shared environment and keeps the markers."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = args.work_dir
        self.log_path = osp.join(self.work, 'run.log')
        self.env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
                        MKL_NUM_THREADS=str(args.threads))
        if args.device == 'cpu':
            self.env['CUDA_VISIBLE_DEVICES'] = ''

    def path(self, *parts: str) -> str:
        return osp.join(self.work, *parts)

    def run(self, cmd: List[str]) -> None:
        """Run ``cmd`` in the repo; its output goes to the log file."""
        line = ' '.join(cmd)
        log.info('$ %s', line)
        start = time.time()
        with open(self.log_path, 'a') as f:
            f.write(f'\n$ {line}\n')
            f.flush()
            proc = subprocess.run(cmd, cwd=REPO, env=self.env, stdout=f,
                                  stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            with open(self.log_path) as f:
                tail = f.read()[-3000:]
            raise RuntimeError(f'command failed ({proc.returncode}): {line}\n'
                               f'--- end of {self.log_path} ---\n{tail}')
        log.info('  done in %.1f min', (time.time() - start) / 60)

    def done(self, marker: str) -> Optional[Dict[str, Any]]:
        path = self.path(marker)
        if osp.exists(path):
            with open(path) as f:
                return json.load(f)
        return None

    def mark(self, marker: str, value: Dict[str, Any]) -> Dict[str, Any]:
        path = self.path(marker)
        os.makedirs(osp.dirname(path), exist_ok=True)
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(value, f, indent=2)
        os.replace(tmp, path)
        return value


def hook_index(config: str, hook_type: str = 'ArchUpdateHook') -> int:
    from mmengine.config import Config
    hooks = Config.fromfile(osp.join(REPO, config)).get('custom_hooks', [])
    for i, hook in enumerate(hooks):
        if hook.get('type') == hook_type:
            return i
    raise ValueError(f'search-config: {config} has no {hook_type} in '
                     'custom_hooks')


def main_arm(args: argparse.Namespace) -> Dict[str, Any]:
    """The main search, in the form of an ``--arm`` (its dirs at the top)."""
    return dict(name=None, search_epochs=args.search_epochs,
                warmup_epochs=args.warmup_epochs,
                search_options=list(args.search_options))


def arm_dir(arm: Dict[str, Any], *parts: str) -> str:
    """Where an arm's stages live, relative to the work dir."""
    return osp.join(*(('arms', arm['name']) if arm['name'] else ()), *parts)


def search_options(args: argparse.Namespace, target_g: float,
                   arm: Dict[str, Any]) -> List[str]:
    """--cfg-options of a search: data, target, schedule, seed."""
    hook = f'custom_hooks.{hook_index(args.search_config)}'
    warmup = arm['warmup_epochs']
    epochs = warmup + arm['search_epochs']
    opts = [f'{k}.data_root={args.data_root}' for k in (
        'train_dataloader.dataset.dataset', 'arch_dataloader.dataset.dataset')]
    opts += [f'{hook}.flops_target={target_g:.4f}',
             *search_schedule_options(osp.join(REPO, args.search_config),
                                      epochs, warmup),
             'default_hooks.checkpoint.interval=1',
             f'randomness.seed={args.seed}']
    if args.smoke:
        opts += [f'{k}.indices={SMOKE_TRAIN}' for k in (
            'train_dataloader.dataset.dataset',
            'arch_dataloader.dataset.dataset')]
        opts += [f'{hook}.log_interval=1']
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


def last_checkpoint(work_dir: str) -> Optional[str]:
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.exists(path):
        return None
    with open(path) as f:
        ckpt = f.read().strip()
    return ckpt if osp.exists(ckpt) else None


def train(st: Stages, config: str, work_dir: str, options: List[str],
          epochs: int) -> str:
    """tools/train.py, resumed if interrupted; the final checkpoint."""
    final = osp.join(work_dir, f'epoch_{epochs}.pth')
    if not osp.exists(final):
        cmd = [sys.executable, 'tools/train.py', config, '--work-dir',
               work_dir]
        if last_checkpoint(work_dir):
            cmd.append('--resume')
        st.run(cmd + ['--cfg-options', *options])
    if not osp.exists(final):
        raise RuntimeError(f'{final} was not written')
    return final


def test_metrics(work_dir: str) -> Dict[str, float]:
    """The metrics tools/test.py dumped as json in its timestamped dir."""
    paths = sorted(glob.glob(osp.join(work_dir, '*', '*.json')),
                   key=osp.getmtime)
    if not paths:
        raise RuntimeError(f'no metrics json under {work_dir}')
    with open(paths[-1]) as f:
        return dict(json.load(f), metrics_file=paths[-1])


# ------------------------------------------------------------------- stages
def stage_prepare(st: Stages) -> Dict[str, Any]:
    found = st.done('prepare/done.json')
    if found:
        return found
    from mmengine.config import Config

    from attnas_mmseg.search.export import measure
    args = st.args
    size = tuple(Config.fromfile(osp.join(REPO, args.search_config)).get(
        'derive', {}).get('input_size', (1024, 2048)))
    model = Config.fromfile(osp.join(REPO, BASELINE_CONFIG)).model.to_dict()
    base = measure(model, size)
    target = args.target_ratio * base['flops_paper_G']
    log.info('mv2+ASPP at %dx%d: %.2fG (paper convention), %.2fM params; '
             'FLOPs target %.2fG (%.2fx)', size[0], size[1],
             base['flops_paper_G'], base['params_M'], target,
             args.target_ratio)
    return st.mark('prepare/done.json', dict(
        baseline=base, flops_target_G=target, input_size=list(size)))


def stage_search(st: Stages, target_g: float,
                 arm: Dict[str, Any]) -> Dict[str, Any]:
    marker = arm_dir(arm, 'search', 'done.json')
    found = st.done(marker)
    if found:
        return found
    args = st.args
    work = st.path(arm_dir(arm, 'search'))
    ckpt = train(st, args.search_config, work,
                 search_options(args, target_g, arm),
                 arm['warmup_epochs'] + arm['search_epochs'])
    history = sorted(glob.glob(osp.join(work, '*', 'arch_history.jsonl')),
                     key=osp.getmtime)
    return st.mark(marker, dict(checkpoint=ckpt, history=history,
                                minutes=train_minutes(work)))


def stage_derive(st: Stages, search: Dict[str, Any],
                 arm: Dict[str, Any]) -> Dict[str, Any]:
    """The derived network (marker), with its confidence table computed from
    the checkpoint by this code's noise rule on every call: the marker does
    not keep it (one written by an older version held an outdated sigma)."""
    from attnas_mmseg.search import ArchSpec
    marker = arm_dir(arm, 'derived', 'done.json')
    found = st.done(marker)
    if not found:
        out = st.path(arm_dir(arm, 'derived'))
        st.run([sys.executable, 'tools/derive_arch.py', st.args.search_config,
                search['checkpoint'], '--out-dir', out, '--overwrite'])
        found = st.mark(marker, dict(
            arch=str(ArchSpec.load(osp.join(out, 'arch.json'))),
            arch_file=osp.join(out, 'arch.json'),
            retrain_config=osp.join(out, 'retrain.py')))
    spec = ArchSpec.load(found['arch_file'])
    conf = confidence_of(search['checkpoint'], int(spec.meta.get('topk', 4)))
    log.info('derived %s\n%s', spec, conf['table'])
    return dict(found, confidence=conf)


def stage_sample(st: Stages, derived: Dict[str, Any]) -> Dict[str, Any]:
    found = st.done('random/done.json')
    if found:
        return found
    args = st.args
    out = st.path('random')
    st.run([sys.executable, 'tools/sample_random_arch.py',
            args.search_config, '--num', str(args.num_random), '--seed',
            str(args.seed), '--out-dir', out, '--flops-window',
            derived['arch_file'], str(WINDOW), '--overwrite'])
    nets = [dict(name=f'random_{i}',
                 arch_file=osp.join(out, f'random_{i}', 'arch.json'),
                 retrain_config=osp.join(out, f'random_{i}', 'retrain.py'))
            for i in range(args.num_random)]
    return st.mark('random/done.json', dict(networks=nets))


def networks(st: Stages, derived: Dict[str, Any],
             random_nets: Dict[str, Any],
             arms: Optional[List[Tuple[Dict[str, Any], Dict[str, Any]]]] = None
             ) -> List[Dict[str, Any]]:
    """Every network to retrain, with its config and seeds; ``arms`` are
    (arm, its derived stage) pairs."""
    seeds = [st.args.seed + i for i in range(st.args.seeds)]
    nets = [dict(name='derived', role='derived', config=
                 derived['retrain_config'], arch_file=derived['arch_file'],
                 seeds=seeds)]
    nets += [dict(name=f'derived_{arm["name"]}', role='arm', arm=arm['name'],
                  config=d['retrain_config'], arch_file=d['arch_file'],
                  seeds=seeds) for arm, d in (arms or [])]
    nets += [dict(name=n['name'], role='random', config=n['retrain_config'],
                  arch_file=n['arch_file'], seeds=[st.args.seed])
             for n in random_nets['networks']]
    nets.append(dict(name=BASELINE, role='baseline', config=BASELINE_CONFIG,
                     arch_file=None, seeds=seeds))
    return nets


def run_name(net: Dict[str, Any], seed: int) -> str:
    return f'{net["name"].replace("+", "_")}-s{seed}'


def stage_retrain_and_test(st: Stages, net: Dict[str, Any],
                           seed: int) -> Dict[str, Any]:
    name = run_name(net, seed)
    marker = f'runs/{name}/done.json'
    found = st.done(marker)
    if found:
        return found
    opts = retrain_options(st.args, seed)
    work = st.path('runs', name)
    ckpt = train(st, net['config'], osp.join(work, 'train'), opts,
                 st.args.retrain_epochs)
    test_dir = osp.join(work, 'test')
    st.run([sys.executable, 'tools/test.py', net['config'], ckpt,
            '--work-dir', test_dir, '--cfg-options', *opts])
    metrics = test_metrics(test_dir)
    log.info('%s: val mIoU %.2f', name, metrics['mIoU'])
    return st.mark(marker, dict(checkpoint=ckpt, seed=seed, metrics=metrics))


def _export(config: str, checkpoint: str, out: str,
            size: Tuple[int, int]) -> Dict[str, float]:
    """ONNX of a trained network, checked against PyTorch (own process)."""
    from attnas_mmseg.deploy import build_from_config, check_onnx, export_onnx
    model = build_from_config(config, checkpoint)
    export_onnx(model, out, size, overwrite=True)
    diff, scale = check_onnx(model, out, shape=size)
    return dict(max_abs_diff=diff, max_abs_logit=scale)


def _latency(config: str, checkpoint: str, onnx: str, backend: str,
             size: Tuple[int, int], runs: int, threads: int,
             device: str) -> Dict[str, float]:
    """Latency of one network and backend, batch 1 (own process)."""
    import torch

    from attnas_mmseg.deploy import inference_step
    set_threads(threads)
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    if backend == 'torch':
        from attnas_mmseg.deploy import DenseLogits, build_from_config
        step = inference_step(
            x, model=DenseLogits(build_from_config(config, checkpoint)),
            device=device)
    else:
        step = inference_step(x, onnx=onnx, device=device, threads=threads)
    return summarize(time_runs(step, runs, warmup=1, device=device))


def stage_latency(st: Stages, nets: List[Dict[str, Any]],
                  runs: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """All networks in one go (one marker), so their latencies are measured
    back to back under the same conditions."""
    found = st.done('latency/done.json')
    if found and set(found) == {net['name'] for net in nets}:
        return found  # else (e.g. an arm was added) measure all again
    args = st.args
    result = {}
    for net in nets:
        run = runs[run_name(net, net['seeds'][0])]
        onnx = st.path('latency', f'{net["name"].replace("+", "_")}.onnx')
        os.makedirs(osp.dirname(onnx), exist_ok=True)
        config = osp.join(REPO, net['config'])
        check = run_isolated(_export, config=config,
                             checkpoint=run['checkpoint'], out=onnx,
                             size=LATENCY_SIZE)
        result[net['name']] = dict(onnx_check=check, size=list(LATENCY_SIZE),
                                   batch=1, threads=args.threads,
                                   device=args.device)
        for backend in ('torch', 'onnxruntime'):
            result[net['name']][backend] = run_isolated(
                _latency, config=config, checkpoint=run['checkpoint'],
                onnx=onnx, backend=backend, size=LATENCY_SIZE,
                runs=args.latency_runs, threads=args.threads,
                device=args.device)
            log.info('%s %s %dx%d: %.1f ms', net['name'], backend,
                     *LATENCY_SIZE, result[net['name']][backend]['median_ms'])
        os.remove(onnx)
    return st.mark('latency/done.json', result)


def stage_plots(st: Stages, search: Dict[str, Any],
                derived: Dict[str, Any]) -> None:
    """tools/plot_arch.py: the search's evolution and the derived module
    (PNG, in WORK_DIR/plots: images stay out of the results)."""
    out = st.path('plots')
    if osp.exists(osp.join(out, 'done.json')) or not search['history']:
        return
    st.run([sys.executable, 'tools/plot_arch.py', '--history',
            *search['history'], '--arch', derived['arch_file'], '--out-dir',
            out, '--overwrite'])
    st.mark('plots/done.json', dict(dir=out))


# ------------------------------------------------------------------- report
def _mean_std(values: List[float]) -> Tuple[float, Optional[float]]:
    return statistics.mean(values), (statistics.stdev(values)
                                     if len(values) > 1 else None)


def _pm(values: List[float]) -> str:
    mean, std = _mean_std(values)
    return f'{mean:.2f}' if std is None else f'{mean:.2f} ± {std:.2f}'


def compare(d: Dict[str, Any], random_rows: List[Dict[str, Any]],
            b: Dict[str, Any], target: float) -> Dict[str, Any]:
    """One searched network's row against the random and baseline rows:
    the numbers and the goal issue 9 asks for."""
    d_miou, b_miou = _mean_std(d['miou'])[0], _mean_std(b['miou'])[0]
    random_means = [_mean_std(r['miou'])[0] for r in random_rows]
    r_mean, r_std = _mean_std(random_means)
    flops_ratio = d['flops_G'] / b['flops_G']
    beats_random = r_std is not None and d_miou > r_mean + r_std
    beats_baseline = d_miou >= b_miou and flops_ratio <= GOAL_FLOPS_RATIO
    return dict(
        flops_target_G=target,
        derived_flops_G=d['flops_G'],
        target_error=d['flops_G'] / target - 1,
        target_within_10pct=abs(d['flops_G'] / target - 1) <= 0.1,
        derived_miou=d_miou, baseline_miou=b_miou,
        random_miou_mean=r_mean, random_miou_std=r_std,
        ratio_derived_random=d_miou / r_mean,
        ratio_derived_baseline=d_miou / b_miou,
        flops_ratio_derived_baseline=flops_ratio,
        goal_beats_random=beats_random,
        goal_beats_baseline=beats_baseline,
        goal_met=beats_random and beats_baseline)


def summarize_results(args: argparse.Namespace, prepare: Dict[str, Any],
                      derived: Dict[str, Any], rows: List[Dict[str, Any]],
                      arm_derived: Optional[Dict[str, Dict[str, Any]]] = None
                      ) -> Dict[str, Any]:
    """The main search's comparison, and each arm's under ``arms`` (with
    whether its FLOPs lie in the random networks' window, which is centred
    on the main derived network)."""
    by_role = {r: [x for x in rows if x['role'] == r]
               for r in ('derived', 'random', 'baseline', 'arm')}
    d, b = by_role['derived'][0], by_role['baseline'][0]
    target = prepare['flops_target_G']
    summary = compare(d, by_role['random'], b, target)
    summary['uncertain_choices'] = derived['confidence']['uncertain']
    summary['arms'] = {}
    for row in by_role['arm']:
        arm = compare(row, by_role['random'], b, target)
        arm['uncertain_choices'] = \
            (arm_derived or {})[row['arm']]['confidence']['uncertain']
        arm['in_random_window'] = \
            abs(row['flops_G'] / d['flops_G'] - 1) <= WINDOW
        summary['arms'][row['arm']] = arm
    return summary


def _goal_lines(summary: Dict[str, Any], label: str) -> List[str]:
    std = summary['random_miou_std']
    return [
        f'- {label} / mean random mIoU: '
        f'{summary["ratio_derived_random"]:.3f} ({label} '
        f'{summary["derived_miou"]:.2f}, random '
        f'{summary["random_miou_mean"]:.2f}'
        + ('' if std is None else f' ± {std:.2f}') + ')',
        f'- {label} / {BASELINE} mIoU: '
        f'{summary["ratio_derived_baseline"]:.3f} at '
        f'{summary["flops_ratio_derived_baseline"]:.2f}x its FLOPs',
        f'- goal (issue 9) for {label}: above mean random + std: '
        f'{"yes" if summary["goal_beats_random"] else "no"}; >= '
        f'{BASELINE} at <= {GOAL_FLOPS_RATIO}x FLOPs: '
        f'{"yes" if summary["goal_beats_baseline"] else "no"} -> goal '
        f'{"met" if summary["goal_met"] else "not met"}']


def _search_line(label: str, arm: Dict[str, Any], search: Dict[str, Any],
                 summary: Dict[str, Any]) -> str:
    minutes = search.get('minutes')
    if minutes is None:  # a marker written before the field existed
        minutes = train_minutes(osp.dirname(search['checkpoint']))
    return (f'{label}: {arm["warmup_epochs"]} warm-up + '
            f'{arm["search_epochs"]} search epochs'
            + (f', options `{" ".join(arm["search_options"])}`'
               if arm['search_options'] else '')
            + (f', {minutes:.1f} min' if minutes is not None else '')
            + f'; derived {summary["derived_flops_G"]:.2f}G '
            f'({summary["target_error"]:+.1%} of the target).')


def markdown(args: argparse.Namespace, prepare: Dict[str, Any],
             derived: Dict[str, Any], rows: List[Dict[str, Any]],
             summary: Dict[str, Any], searches: Dict[str, Any]) -> str:
    """results.md; ``searches`` maps None (main) / arm name to
    (arm, search stage, derived stage)."""
    size = prepare['input_size']
    base_flops = prepare['baseline']['flops_paper_G']
    arm0, search0, _ = searches[None]
    h = [f'# CamVid: searched vs random vs {BASELINE}', '',
         '`python benchmarks/camvid_search_vs_random.py ' +
         ' '.join(args.argv) + '`', '',
         f'Search config `{args.search_config}`, FLOPs target '
         f'{summary["flops_target_G"]:.2f}G ({args.target_ratio}x '
         f'{BASELINE}), seed {args.seed}. '
         + _search_line('Main search (`derived`)', arm0, search0, summary)]
    for name, arm_summary in summary['arms'].items():
        arm, search, _ = searches[name]
        h[-1] += ' ' + _search_line(f'Arm `{name}` (`derived_{name}`)', arm,
                                     search, arm_summary)
    h[-1] += (f' Retrain: {args.retrain_epochs} epochs for every network '
              '(the search config\'s `derive.retrain_base`). mIoU: CamVid '
              'val, `tools/test.py`. Latency: 360x480, batch 1, '
              f'{args.threads} thread(s), device {args.device}, median.')
    h += ['', f'| network | role | code | FLOPs {size[0]}x{size[1]} (G) | '
          f'/ {BASELINE} | params (M) | PyTorch ms | onnxruntime ms | seeds |'
          ' val mIoU |', '|---|---|---|---:|---:|---:|---:|---:|---:|---:|']
    for r in rows:
        h.append(f'| {r["name"]} | {r["role"]} | `{r["code"]}` | '
                 f'{r["flops_G"]:.2f} | '
                 f'{r["flops_G"] / base_flops:.2f} | '
                 f'{r["params_M"]:.2f} | {r["torch_ms"]:.1f} | '
                 f'{r["ort_ms"]:.1f} | {len(r["miou"])} | {_pm(r["miou"])} |')
    h += [''] + _goal_lines(summary, 'derived')
    for name, arm_summary in summary['arms'].items():
        h += _goal_lines(arm_summary, f'derived_{name}')
        if not arm_summary['in_random_window']:
            h.append(f'- derived_{name} lies outside the random networks\' '
                     f'FLOPs window (±{WINDOW:.0%} of derived\'s)')
    for name, (_, _, d) in searches.items():
        label = 'the main search' if name is None else f'arm `{name}`'
        h += ['', f'Confidence of {label} '
              '(attnas_mmseg/search/confidence.py):', '', '```',
              d['confidence']['table'], '```']
    return '\n'.join(h) + '\n'


#: histories above this size are committed thinned to about
#: THIN_TO records (first and last kept) and gzipped: a 3,680-step search
#: logs ~3 MB of JSON lines; the full one stays in the work dir
GZIP_ABOVE = 1 << 20
THIN_TO = 100


def copy_history(src: str, dest: str) -> str:
    """Copy an ``arch_history.jsonl``; when large, every n-th record (and
    the last) gzipped to ``dest + '.gz'`` (``zcat`` / ``gzip.open``)."""
    import gzip
    if osp.getsize(src) <= GZIP_ABOVE:
        shutil.copy(src, dest)
        return dest
    with open(src) as f:
        lines = f.readlines()
    step = -(-len(lines) // THIN_TO)
    kept = lines[::step] + ([lines[-1]] if (len(lines) - 1) % step else [])
    # mtime 0: the same history gives the same bytes on every re-run
    with gzip.GzipFile(dest + '.gz', 'wb', mtime=0) as g:
        g.write(''.join(kept).encode())
    if osp.exists(dest):
        os.remove(dest)
    return dest + '.gz'


def stage_report(st: Stages, prepare: Dict[str, Any],
                 searches: Dict[Optional[str], Tuple[Dict[str, Any], ...]],
                 nets: List[Dict[str, Any]],
                 runs: Dict[str, Dict[str, Any]],
                 latency: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """``searches``: None (main) / arm name -> (arm, search, derived)."""
    from attnas_mmseg.search import ArchSpec
    _, search, derived = searches[None]
    args = st.args
    out = args.results_dir
    os.makedirs(osp.join(out, 'metrics'), exist_ok=True)
    rows = []
    for net in nets:
        if net['arch_file']:
            spec = ArchSpec.load(net['arch_file'])
            code, meta = str(spec), spec.meta
            shutil.copy(net['arch_file'], osp.join(out, f'{net["name"]}'
                                                   '_arch.json'))
        else:
            code, meta = 'MobileNetV2 (OS16) + ASPPHead(256)', \
                prepare['baseline']
        for seed in net['seeds']:
            name = run_name(net, seed)
            shutil.copy(runs[name]['metrics']['metrics_file'],
                        osp.join(out, 'metrics', f'{name}.json'))
        lat = latency[net['name']]
        rows.append(dict(
            name=net['name'], role=net['role'], arm=net.get('arm'), code=code,
            flops_G=meta['flops_paper_G'],
            flops_complete_G=meta['flops_complete_G'],
            params_M=meta['params_M'], torch_ms=lat['torch']['median_ms'],
            ort_ms=lat['onnxruntime']['median_ms'], seeds=net['seeds'],
            miou=[runs[run_name(net, s)]['metrics']['mIoU']
                  for s in net['seeds']]))
    for name, (_, arm_search, _) in searches.items():
        dest = out if name is None else osp.join(out, 'arms', name)
        os.makedirs(dest, exist_ok=True)
        for i, hist in enumerate(arm_search['history']):
            copy_history(hist, osp.join(dest, 'arch_history.jsonl' if i == 0
                                        else f'arch_history_{i}.jsonl'))
    summary = summarize_results(
        args, prepare, derived, rows,
        {name: d for name, (_, _, d) in searches.items() if name})
    result = dict(options={k: getattr(args, k) for k in RESULT_OPTIONS},
                  environment=environment(args.threads, args.device),
                  baseline_config=BASELINE_CONFIG, networks=rows,
                  summary=summary, confidence=derived['confidence'],
                  arms={name: dict(arm=arm, search_minutes=srch.get('minutes'),
                                   confidence=d['confidence'])
                        for name, (arm, srch, d) in searches.items() if name},
                  latency=latency)
    with open(osp.join(out, 'results.json'), 'w') as f:
        json.dump(result, f, indent=2)
    text = markdown(args, prepare, derived, rows, summary, searches)
    with open(osp.join(out, 'results.md'), 'w') as f:
        f.write(text)
    print(table([[r['name'], f'{r["flops_G"]:.2f}', f'{r["params_M"]:.2f}',
                  f'{r["torch_ms"]:.1f}', f'{r["ort_ms"]:.1f}',
                  _pm(r['miou'])] for r in rows],
                ['network', 'FLOPs G', 'params M', 'torch ms', 'ORT ms',
                 'mIoU']))
    log.info('goal %s; wrote %s and results.json',
             'met' if summary['goal_met'] else 'not met',
             osp.join(out, 'results.md'))
    for name, arm_summary in summary['arms'].items():
        log.info('arm %s: goal %s', name,
                 'met' if arm_summary['goal_met'] else 'not met')
    return result


# --------------------------------------------------------------------- main
def check_options(st: Stages) -> None:
    """Refuse to continue a work dir made with other result options."""
    check_work_dir_options(st.work, {k: getattr(st.args, k)
                                     for k in RESULT_OPTIONS},
                           'camvid_search_vs_random')


def check_arm_options(st: Stages, arm: Dict[str, Any]) -> None:
    """Refuse to continue an arm made with other options."""
    path = st.path(arm_dir(arm, 'options.json'))
    if osp.exists(path):
        with open(path) as f:
            before = json.load(f)
        if before != arm:
            sys.exit(f'camvid_search_vs_random: arm {arm["name"]} in '
                     f'{st.work} was made with {before}, now {arm}; use '
                     'another arm name')
    else:
        st.mark(arm_dir(arm, 'options.json'), arm)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not osp.isdir(osp.join(args.data_root, 'trainannot')):
        sys.exit(f'camvid_search_vs_random: no CamVid (SegNet layout) at '
                 f'{args.data_root}')
    if args.device == 'cuda':
        import torch
        if not torch.cuda.is_available():
            sys.exit('camvid_search_vs_random: --device cuda but torch sees '
                     'no GPU')
    os.makedirs(args.work_dir, exist_ok=True)
    st = Stages(args)
    logging.basicConfig(
        level=logging.INFO, format='%(asctime)s %(message)s',
        handlers=[logging.StreamHandler(sys.stdout),
                  logging.FileHandler(st.log_path)])
    check_options(st)
    set_threads(args.threads)
    start = time.time()
    log.info('work dir %s, results %s', args.work_dir, args.results_dir)

    prepare = stage_prepare(st)
    searches = {}
    for arm in [main_arm(args)] + args.arms:
        if arm['name']:
            check_arm_options(st, arm)
        search = stage_search(st, prepare['flops_target_G'], arm)
        searches[arm['name']] = (arm, search,
                                 stage_derive(st, search, arm))
    _, search, derived = searches[None]
    if args.stop_after == 'search':
        return dict(searches=searches)
    random_nets = stage_sample(st, derived)
    if args.stop_after == 'sample':
        return dict(searches=searches, random=random_nets)
    nets = networks(st, derived, random_nets,
                    [(a, d) for name, (a, _, d) in searches.items() if name])
    runs = {}
    for net in nets:
        for seed in net['seeds']:
            runs[run_name(net, seed)] = stage_retrain_and_test(st, net, seed)
    latency = stage_latency(st, nets, runs)
    stage_plots(st, search, derived)
    result = stage_report(st, prepare, searches, nets, runs, latency)
    log.info('total %.1f min (this invocation)', (time.time() - start) / 60)
    return result


if __name__ == '__main__':
    main()
