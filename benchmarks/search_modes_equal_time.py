"""Search modes at the same wall time: does sampling buy a clearer answer?

    python benchmarks/search_modes_equal_time.py
        [--config configs/demo/attnas-search_demo_synthetic-cityscapes-64x128.py]
        [--scale darts=1 gumbel=4 proxyless=3.5] [--seeds 2] [--seed 0]
        [--threads 2] [--work-dir work_dirs/search_modes_equal_time]
        [--results-dir docs/results/search/modes_equal_time] [--data-root DIR]
        [--options KEY=VALUE ...]

Issue 8 asks whether a sampled-path search (``search_mode='gumbel'`` or
``'proxyless'``, attnas_mmseg/search/search_modes.py) of the demo's budget
ends with larger alpha margins than the full mixture. A sampled step costs
about a quarter of a DARTS step (docs/benchmarks.md, "Search modes"), so at
the same *wall time* a sampled search makes several times the arch steps.
This script runs ``--config`` (default: the synthetic demo search) in each
mode with its warm-up and search epochs multiplied by ``--scale MODE=R``
(rounded; R is the mode's speed-up, so that the runs take about the same
time: the measured wall time of each run is in the table), ``--seeds``
times each (seed, seed + 1, ...), and reports per mode:

* arch steps and search wall time (from the mmengine logs);
* the confidence table's numbers (attnas_mmseg/search/confidence.py): mean /
  median / max top-two margin of softmax(alpha) over the 17 blocks, the
  median logit gap in units of the noise sigma, and how many blocks (and
  whether the attention top-k) are clear of noise;
* for ``--seeds`` > 1, the agreement of the derived networks across seeds
  (blocks on which all seeds agree, beside chance).

A raw margin grows with the number of arch steps even on pure noise (the
null's sigma is lr * sqrt(steps)), so the columns that compare modes fairly
are the noise-normalised ones (gap / sigma, blocks clear) and the agreement
across seeds. Every run is a ``tools/train.py`` search in
``WORK_DIR/<mode>-x<R>-s<seed>``, a stage (benchmarks/_stages.py) that is
skipped when finished and resumed when interrupted (the tools' output:
``WORK_DIR/run.log``); the results (``results.json``, ``results.md``, each
run's ``arch_history.jsonl``) go to ``--results-dir``.
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

from _common import confidence_from, environment, table  # noqa: E402
from _stages import StageRunner, thread_env  # noqa: E402
import _tools as tools  # noqa: E402

from attnas_mmseg.search.space.search_modes import SEARCH_MODES  # noqa: E402
from attnas_mmseg.utils.search_schedule import \
    search_schedule_options  # noqa: E402

SCRIPT = 'search_modes_equal_time'
CONFIG = 'configs/demo/attnas-search_demo_synthetic-cityscapes-64x128.py'
#: measured speed-ups of one search step over 'darts' (docs/benchmarks.md,
#: "Search modes": gumbel 0.23-0.24x, proxyless 0.27x of a DARTS step)
DEFAULT_SCALE = dict(darts=1.0, gumbel=4.0, proxyless=3.5)

log = logging.getLogger(SCRIPT)


def parse_scale(pairs: List[str]) -> Dict[str, float]:
    """``MODE=R`` pairs -> {mode: R}; modes from SEARCH_MODES, R > 0."""
    scale = {}
    for pair in pairs:
        mode, sep, value = pair.partition('=')
        if not sep or mode not in SEARCH_MODES:
            raise ValueError(f'--scale: expected MODE=R with MODE one of '
                             f'{SEARCH_MODES}, got {pair!r}')
        try:
            ratio = float(value)
        except ValueError:
            ratio = float('nan')
        if not ratio > 0 or ratio == float('inf'):
            raise ValueError(f'--scale {mode}: R must be a number > 0, got '
                             f'{value!r}')
        scale[mode] = ratio
    return scale


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--scale', nargs='+', metavar='MODE=R',
                        default=[f'{m}={r:g}' for m, r in
                                 DEFAULT_SCALE.items()],
                        help='modes to run, each with its epoch multiplier')
    parser.add_argument('--seeds', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--data-root', default=None,
                        help='data_root of both search loaders (default: '
                        "the config's)")
    parser.add_argument('--options', nargs='+', default=[],
                        metavar='KEY=VALUE',
                        help='extra --cfg-options of every search (e.g. the '
                        'hook\'s flops_target)')
    parser.add_argument('--work-dir',
                        default='work_dirs/search_modes_equal_time')
    parser.add_argument('--results-dir',
                        default='docs/results/search/modes_equal_time')
    args = parser.parse_args(argv)
    try:
        args.scale = parse_scale(args.scale)
    except ValueError as err:
        parser.error(str(err))
    if args.seeds < 1 or args.threads < 1:
        parser.error('--seeds and --threads must be >= 1')
    args.work_dir = osp.abspath(args.work_dir)
    args.results_dir = osp.abspath(args.results_dir)
    return args


def schedule(config: str, ratio: float) -> Dict[str, int]:
    """The config's warm-up and total epochs, each multiplied by ``ratio``."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, config))
    hook = next(h for h in cfg.custom_hooks if h['type'] == 'ArchUpdateHook')
    warmup = round(int(hook.get('warmup_epochs', 0)) * ratio)
    search = max(1, round((cfg.train_cfg.max_epochs -
                           int(hook.get('warmup_epochs', 0))) * ratio))
    return dict(warmup_epochs=warmup, epochs=warmup + search)


def run_search(st: StageRunner, args: argparse.Namespace, mode: str,
               ratio: float, seed: int) -> Dict[str, Any]:
    """One search, measured: a stage, skipped when done (its search resumed
    when interrupted)."""
    name = f'{mode}-x{ratio:g}-s{seed}'

    def run() -> Dict[str, Any]:
        sched = schedule(args.config, ratio)
        opts = [*search_schedule_options(osp.join(REPO, args.config),
                                         sched['epochs'],
                                         sched['warmup_epochs']),
                f'randomness.seed={seed}',
                f'model.backbone.search_mode={mode}',
                f'model.decode_head.search_mode={mode}',
                'default_hooks.checkpoint.interval=1']
        if mode != 'darts':  # each step leaves unsampled ops without gradient
            opts.append('find_unused_parameters=True')
        if args.data_root:
            opts += [f'{k}.dataset.dataset.data_root={args.data_root}'
                     for k in ('train_dataloader', 'arch_dataloader')]
        opts += list(args.options)
        found = tools.search(st, args.config, st.path(name), opts,
                             sched['epochs'])
        result = dict(name=name, mode=mode, scale=ratio, seed=seed, **found,
                      **sched)
        result.update(measure(found['checkpoint']))
        return result

    return st.stage(name, run)


def measure(checkpoint: str) -> Dict[str, Any]:
    """Arch steps, margins and noise flags of a finished search."""
    from attnas_mmseg.search import derive_arch
    from attnas_mmseg.search.confidence import (attention_confidence,
                                                backbone_confidence)
    from attnas_mmseg.export import load_search_checkpoint
    ckpt, alpha, beta = load_search_checkpoint(checkpoint)
    topk = int((ckpt.get('arch_update_hook') or {}).get('settings', {})
               .get('topk', 4))
    conf = confidence_from(ckpt, alpha, beta, topk)
    sigma = conf['sigma']
    blocks = backbone_confidence(alpha, sigma)
    att = attention_confidence(beta, topk, sigma)
    margins = [b.margin for b in blocks]
    return dict(
        arch=str(derive_arch(alpha, beta, topk)),  # plain argmax, no fit
        arch_steps=int(ckpt['arch_update_hook']['arch_steps']),
        sigma=sigma, table=conf['table'],
        margin_mean=statistics.mean(margins),
        margin_median=statistics.median(margins), margin_max=max(margins),
        gap_sigma_median=statistics.median(b.gap / sigma for b in blocks),
        blocks_clear=sum(not b.uncertain for b in blocks),
        num_blocks=len(blocks), attention_margin=att.margin,
        attention_clear=not att.uncertain)


def summarize_mode(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Means over seeds, and the agreement of the seeds' derived networks."""
    from attnas_mmseg.search import ArchSpec
    from attnas_mmseg.export import agreement_summary
    keys = ('minutes', 'arch_steps', 'margin_mean', 'margin_median',
            'margin_max', 'gap_sigma_median', 'blocks_clear')
    out = {k: statistics.mean(r[k] for r in runs) for k in keys}
    out['attention_clear'] = sum(r['attention_clear'] for r in runs)
    out['runs'] = len(runs)
    if len(runs) > 1:
        out['agreement'] = agreement_summary(
            [ArchSpec.parse(r['arch'].split(' ', 1)[1],
                            backbone=r['arch'].split(' ', 1)[0])
             for r in runs])
    return out


def report(args: argparse.Namespace, runs: List[Dict[str, Any]],
           modes: Dict[str, Dict[str, Any]]) -> str:
    lines = ['# Search modes at the same wall time', '',
             '`python benchmarks/search_modes_equal_time.py ' +
             ' '.join(args.argv) + '`', '',
             f'Config `{args.config}`'
             + (f' with `{" ".join(args.options)}`' if args.options else '')
             + '; warm-up and search epochs multiplied by each mode\'s scale; '
             f'{args.threads} thread(s); means over {args.seeds} seed(s).',
             '', environment(args.threads, 'cpu'), '',
             '| mode | scale | epochs (warm-up) | arch steps | wall min | '
             'mean margin | median margin | max margin | median gap/σ | '
             'blocks clear | attention clear | blocks all seeds agree |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for mode, m in modes.items():
        run0 = next(r for r in runs if r['mode'] == mode)
        agree = m.get('agreement')
        agree_text = '-' if agree is None else (
            f'{agree["backbone"]["unanimous"]} of 17 (chance '
            f'{agree["backbone"]["chance_unanimous"]:.1f})')
        lines.append(
            f'| {mode} | {run0["scale"]:g} | {run0["epochs"]} '
            f'({run0["warmup_epochs"]}) | {m["arch_steps"]:.0f} | '
            f'{m["minutes"]:.1f} | {m["margin_mean"]:.4f} | '
            f'{m["margin_median"]:.4f} | {m["margin_max"]:.4f} | '
            f'{m["gap_sigma_median"]:.2f} | {m["blocks_clear"]:.1f} of 17 | '
            f'{m["attention_clear"]} of {m["runs"]} | {agree_text} |')
    lines += ['', 'Derived networks:', '']
    lines += [f'- {r["name"]}: `{r["arch"]}`' for r in runs]
    return '\n'.join(lines) + '\n'


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
    # the run names carry only mode, scale and seed: a work dir made with
    # another config, data or options is refused
    st = StageRunner(args.work_dir, dict(config=args.config,
                                         data_root=args.data_root,
                                         options=list(args.options)),
                     SCRIPT, log_path=osp.join(args.work_dir, 'run.log'),
                     env=thread_env(args.threads))
    start = time.time()
    runs = []
    for mode, ratio in args.scale.items():
        for i in range(args.seeds):
            run = run_search(st, args, mode, ratio, args.seed + i)
            log.info('%s: %s, %d arch steps, %.1f min, %d/17 blocks clear',
                     run['name'], run['arch'], run['arch_steps'],
                     run['minutes'] or 0, run['blocks_clear'])
            runs.append(run)
    modes = {mode: summarize_mode([r for r in runs if r['mode'] == mode])
             for mode in args.scale}
    os.makedirs(args.results_dir, exist_ok=True)
    for run in runs:
        for i, hist in enumerate(run['history']):
            shutil.copy(hist, osp.join(
                args.results_dir, f'{run["name"]}_arch_history'
                + (f'_{i}' if i else '') + '.jsonl'))
    text = report(args, runs, modes)
    result = dict(config=args.config, scale=args.scale, seeds=args.seeds,
                  threads=args.threads, options=args.options,
                  data_root=args.data_root, runs=runs, modes=modes)
    with open(osp.join(args.results_dir, 'results.json'), 'w') as f:
        json.dump(result, f, indent=2)
    with open(osp.join(args.results_dir, 'results.md'), 'w') as f:
        f.write(text)
    print(table([[m, f'{v["arch_steps"]:.0f}', f'{v["minutes"]:.1f}',
                  f'{v["margin_mean"]:.4f}', f'{v["gap_sigma_median"]:.2f}',
                  f'{v["blocks_clear"]:.1f}'] for m, v in modes.items()],
                ['mode', 'arch steps', 'min', 'mean margin', 'gap/sigma',
                 'blocks clear']))
    log.info('total %.1f min; wrote %s', (time.time() - start) / 60,
             args.results_dir)
    return result


if __name__ == '__main__':
    main()
