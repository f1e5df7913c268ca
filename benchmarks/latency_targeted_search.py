"""A latency-targeted search, and its derived network timed against mv2+ASPP.

    python benchmarks/latency_targeted_search.py \
        --lut work_dirs/lut/torch_cpu_1t_512x1024.json [--ratio 0.7] \
        [--search-config configs/demo/attnas-search_demo_synthetic-cityscapes-64x128.py] \
        [--work-dir work_dirs/latency_search] [--seed 0]

The LUT must be built for ``--search-config`` (default: the synthetic demo's,
whose data ``bash scripts/demo.sh`` generates in ``data/synthetic_cityscapes``).

Stages (each skipped when its output exists, so an interrupted run continues):

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
import glob
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Any, Dict

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from _common import BASELINE, REPO, model_cfg, table  # noqa: E402

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


def stage(path: str, fn) -> Dict[str, Any]:
    """The JSON at ``path``, computed by ``fn`` and written if absent."""
    if osp.exists(path):
        with open(path) as f:
            return json.load(f)
    value = fn()
    with open(path + '.tmp', 'w') as f:
        json.dump(value, f, indent=1)
    os.replace(path + '.tmp', path)
    return value


def run(cmd) -> None:
    print('$ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True)


def main(argv=None) -> None:
    args = parse_args(argv)
    from attnas_mmseg.deploy import set_threads
    from attnas_mmseg.search.latency import LatencyLUT, time_network
    settings = LatencyLUT.load(args.lut).settings
    set_threads(settings['threads'])
    work = osp.join(REPO, args.work_dir)
    os.makedirs(work, exist_ok=True)
    base_cfg = model_cfg(BASELINE)

    baseline = stage(osp.join(work, 'baseline.json'), lambda: time_network(
        base_cfg, settings, args.runs, args.warmup))
    target = args.ratio * baseline['median_ms']
    print(f'{BASELINE}: {baseline["median_ms"]:.1f} ms -> latency target '
          f'{target:.1f} ms ({args.ratio} x)')

    search_dir = osp.join(work, 'search')
    if not glob.glob(osp.join(search_dir, 'epoch_*.pth')):
        run([sys.executable, 'tools/train.py', args.search_config,
             '--work-dir', search_dir, '--cfg-options',
             f'custom_hooks.0.latency_lut={osp.abspath(args.lut)}',
             f'custom_hooks.0.latency_target={target}',
             f'custom_hooks.0.latency_weight={args.latency_weight}',
             'custom_hooks.0.flops_weight=0.0',
             f'randomness.seed={args.seed}'])
    derived_dir = osp.join(work, 'derived')
    arch_file = osp.join(derived_dir, 'arch.json')
    if not osp.exists(arch_file):
        ckpt = sorted(glob.glob(osp.join(search_dir, 'epoch_*.pth')),
                      key=osp.getmtime)[-1]
        run([sys.executable, 'tools/derive_arch.py', args.search_config,
             ckpt, '--out-dir', derived_dir])

    def measure() -> Dict[str, Any]:
        from mmengine.config import Config

        from attnas_mmseg.search import ArchSpec
        from attnas_mmseg.search.export import apply_arch
        from attnas_mmseg.search.export import measure as flops_params
        spec = ArchSpec.load(arch_file)
        cfg = apply_arch(Config.fromfile(osp.join(
            REPO, args.search_config)).model.to_dict(), spec)
        size = tuple(settings['input_size'])
        nets = {'derived': cfg, BASELINE: base_cfg}
        times = {name: [] for name in nets}
        for _ in range(3):   # alternate, so drift hits both alike
            for name, net in nets.items():
                times[name].append(time_network(
                    net, settings, args.runs, args.warmup)['median_ms'])
        out = dict(settings=settings, seed=args.seed, ratio=args.ratio,
                   target_ms=target, arch=str(spec),
                   predicted_ms=spec.meta['search'].get(
                       'latency_derived_pred_ms'))
        for name, net in nets.items():
            out[name] = dict(median_ms=sorted(times[name])[1],
                             **flops_params(net, size))
        out['latency_ratio'] = (out['derived']['median_ms'] /
                                out[BASELINE]['median_ms'])
        return out

    result = stage(osp.join(work, 'measure.json'), measure)
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
