"""A latency-targeted search, and its derived network timed against mv2+ASPP.

    python benchmarks/latency_targeted_search.py \
        --lut work_dirs/lut/torch_cpu_1t_512x1024.json [--ratio 0.7] \
        [--search-config configs/demo/attnas-search_demo_synthetic-cityscapes-64x128.py] \
        [--work-dir work_dirs/latency_search] [--seed 0]

The LUT must be built for ``--search-config`` (default: the synthetic demo's,
whose data ``bash scripts/demo.sh`` generates in ``data/synthetic_cityscapes``).

Stages (benchmarks/_stages.py: each skipped when finished, a search resumed
when interrupted, so re-running the command continues; a work dir made with
other options than the LUT, config, ratio, weight, runs, warm-up and seed is
refused):

1. **baseline**: mv2+ASPP (``benchmarks/_common.py``'s baseline) timed end to
   end as the LUT was built (its backend, device, threads and input size,
   batch 1, BN folded); the latency target is ``--ratio`` times it.
2. **search**: ``tools/train.py SEARCH_CONFIG`` with ``ArchUpdateHook``'s
   latency cost (``latency_lut``, ``latency_target`` in ms,
   ``latency_weight``) in place of FLOPs (``flops_weight=0``).
3. **derive**: ``tools/derive_arch.py`` (prints the predicted latency).
4. **measure**: the derived network and mv2+ASPP timed alternately in one
   process (``--runs`` each, medians), with FLOPs (paper convention) and
   params at the LUT's size; the JSON goes to ``--out``.
"""
import argparse
import json
import logging
import os
import os.path as osp
import sys
from typing import Dict

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from _common import BASELINE, REPO, model_cfg, table  # noqa: E402
from _stages import Result, Stage, StageRunner, run_stages  # noqa: E402
import _tools as tools  # noqa: E402

SCRIPT = 'latency_targeted_search'

DEFAULT_SEARCH = 'configs/demo/attnas-search_demo_synthetic-cityscapes-64x128.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--lut', required=True,
                        help='a LUT of tools/build_latency_lut.py for the '
                        'search config')
    parser.add_argument('--search-config', default=DEFAULT_SEARCH)
    parser.add_argument('--ratio', type=float, default=0.7,
                        help='latency target / mv2+ASPP measured latency')
    parser.add_argument('--latency-weight', type=float, default=0.1)
    parser.add_argument('--work-dir', default='work_dirs/latency_search')
    parser.add_argument('--out', default='docs/results/latency/'
                        'latency_targeted_search.json')
    parser.add_argument('--runs', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from attnas_mmseg.deploy import set_threads
    from attnas_mmseg.deploy.latency_measure import time_network
    from attnas_mmseg.search.cost.latency_table import LatencyLUT
    settings = LatencyLUT.load(args.lut).settings
    set_threads(settings['threads'])
    base_cfg = model_cfg(BASELINE)
    config = args.search_config

    def target_ms(done: Dict[str, Result]) -> float:
        return args.ratio * done['baseline']['median_ms']

    def baseline(st: StageRunner, done: Dict[str, Result]) -> Result:
        return time_network(base_cfg, settings, args.runs, args.warmup)

    def search(st: StageRunner, done: Dict[str, Result]) -> Result:
        from mmengine.config import Config
        epochs = Config.fromfile(osp.join(REPO, config)).train_cfg.max_epochs
        return tools.search(st, config, st.path('search'), [
            tools.hook_option(config, 'latency_lut', osp.abspath(args.lut)),
            tools.hook_option(config, 'latency_target', target_ms(done)),
            tools.hook_option(config, 'latency_weight', args.latency_weight),
            tools.hook_option(config, 'flops_weight', 0.0),
            f'randomness.seed={args.seed}'], epochs)

    def derive(st: StageRunner, done: Dict[str, Result]) -> Result:
        return tools.derive(st, config, done['search']['checkpoint'],
                            st.path('derived'))

    def measure(st: StageRunner, done: Dict[str, Result]) -> Result:
        from mmengine.config import Config

        from attnas_mmseg.search import ArchSpec
        from attnas_mmseg.models import apply_arch
        from attnas_mmseg.export.derived import measure as flops_params
        spec = ArchSpec.load(done['derived']['arch_file'])
        cfg = apply_arch(Config.fromfile(osp.join(
            REPO, config)).model.to_dict(), spec)
        size = tuple(settings['input_size'])
        nets = {'derived': cfg, BASELINE: base_cfg}
        times = {name: [] for name in nets}
        for _ in range(3):   # alternate, so drift hits both alike
            for name, net in nets.items():
                times[name].append(time_network(
                    net, settings, args.runs, args.warmup)['median_ms'])
        out = dict(settings=settings, seed=args.seed, ratio=args.ratio,
                   target_ms=target_ms(done), arch=str(spec),
                   predicted_ms=spec.meta['search'].get(
                       'latency_derived_pred_ms'))
        for name, net in nets.items():
            out[name] = dict(median_ms=sorted(times[name])[1],
                             **flops_params(net, size))
        out['latency_ratio'] = (out['derived']['median_ms'] /
                                out[BASELINE]['median_ms'])
        return out

    logging.basicConfig(level=logging.INFO, format='%(message)s')
    options = dict(lut=osp.abspath(args.lut), search_config=config,
                   ratio=args.ratio, latency_weight=args.latency_weight,
                   runs=args.runs, warmup=args.warmup, seed=args.seed)
    done = run_stages(osp.join(REPO, args.work_dir), [
        Stage('baseline', baseline, marker='baseline.json'),
        Stage('search', search), Stage('derived', derive),
        Stage('measure', measure, marker='measure.json')], options, SCRIPT)
    print(f'{BASELINE}: {done["baseline"]["median_ms"]:.1f} ms -> latency '
          f'target {target_ms(done):.1f} ms ({args.ratio} x)')
    result = done['measure']
    rows = [[name, f'{result[name]["median_ms"]:.1f}',
             f'{result[name]["flops_paper_G"]:.2f}',
             f'{result[name]["params_M"]:.2f}'] for name in
            ('derived', BASELINE)]
    h, w = settings['input_size']
    print(f'\n{result["arch"]}\npredicted {result["predicted_ms"]:.1f} ms, '
          f'target {result["target_ms"]:.1f} ms; {settings["backend"]} '
          f'{settings["device"]}, {settings["threads"]} thread(s), {h}x{w}')
    print(table(rows, ['network', 'ms (median)', 'FLOPs G', 'params M']))
    print(f'latency ratio derived / {BASELINE}: '
          f'{result["latency_ratio"]:.2f} (goal <= 0.75)')
    out = osp.join(REPO, args.out)
    os.makedirs(osp.dirname(out), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
