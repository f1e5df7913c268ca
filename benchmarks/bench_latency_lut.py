"""Validate latency lookup tables: predicted vs measured end-to-end latency.

    python benchmarks/bench_latency_lut.py SEARCH_CONFIG --luts LUT [LUT ...]
        [--num-samples 20] [--seed 0] [--runs 10] [--warmup 3]
        [--out-dir docs/results/latency] [--no-baseline]

For each LUT (built by tools/build_latency_lut.py from SEARCH_CONFIG; its
settings say the backend, device, threads, input size and memory format) it
times, end to end, batch 1, BN folded, in the LUT's memory format, the median
of ``--runs`` after ``--warmup``:

* ``--num-samples`` architectures drawn uniformly from the space (seeded):
  each block's op uniform over 1-6, the attention cells a uniform ``topk``-set
  of the ``num_layers x 13`` cells (the derived head of §3.3.3);
* AttNAS-S and AttNAS-L (their configs, Table 2's codes);
* mv2+ASPP (configs/baselines/, the baseline of docs/benchmarks.md), which is
  not in the space: predicted from its own parts, i.e. the LUT's stem, the
  ops of its fixed choice (kernel 3, expansion 6; block 1 expansion 1) and
  its ASPP head and final resize timed as fixed parts (added to the LUT if
  missing, same settings).

Prediction is the sum rule (fixed parts + chosen ops + chosen attentions,
``CostTable.network_cost``); nothing is fitted. It prints, per LUT, Spearman's
rho and the mean absolute percentage error (MAPE), the mean signed error (a
systematic bias of the sum rule, e.g. per-op overhead, shows here) and the
least-squares line measured = a * predicted + b, reported and not applied;
and writes the rows to
``--out-dir/<backend>_<device>_<threads>t_<H>x<W>.json``.
Goal (issue 10): rho >= 0.9 and MAPE <= 15% on torch and onnxruntime CPU.
The LUT must have been measured here (same device model and library
versions); otherwise it is refused with the differing keys named.
"""
import argparse
import copy
import json
import os.path as osp
import random
import sys
import time
from typing import Any, Dict, List, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import numpy as np  # noqa: E402

from _common import BASELINE, REPO, model_cfg, table  # noqa: E402
from attnas_mmseg.models import apply_arch, build_segmentor  # noqa: E402
from attnas_mmseg.search.space.arch_spec import ArchSpec  # noqa: E402
from attnas_mmseg.search.space.candidates import (NUM_ATTENTIONS,  # noqa: E402
                                            NUM_BLOCKS, NUM_OPS)
from attnas_mmseg.deploy.latency_measure import (build_lut,  # noqa: E402
                                                 lut_settings, time_network)
from attnas_mmseg.search.cost.latency_parts import latency_parts  # noqa: E402
from attnas_mmseg.search.cost.latency_table import (  # noqa: E402
    LatencyLUT, load_latency_table, part_latencies)

PAPER_NETS = ('AttNAS-S', 'AttNAS-L')
#: MobileNetV2's (kernel, expansion) per block: expansion 1 in block 1.
MV2_CHOICE = ((3, 1), ) + ((3, 6), ) * (NUM_BLOCKS - 1)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the search config the LUTs price')
    parser.add_argument('--luts', nargs='+', required=True)
    parser.add_argument('--num-samples', type=int, default=20)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--runs', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--out-dir', default=osp.join(REPO, 'docs', 'results',
                                                      'latency'))
    parser.add_argument('--no-baseline', action='store_true',
                        help=f'skip {BASELINE} (and the paper nets)')
    return parser.parse_args(argv)


def sample_specs(num: int, seed: int, num_layers: int,
                 topk: int) -> List[ArchSpec]:
    """``num`` architectures uniform over the derived-network space."""
    rng = random.Random(seed)
    specs = []
    for _ in range(num):
        backbone = tuple(rng.randint(1, NUM_OPS) for _ in range(NUM_BLOCKS))
        cells = rng.sample(range(num_layers * NUM_ATTENTIONS), topk)
        layers = [[] for _ in range(num_layers)]
        for cell in cells:
            layers[cell // NUM_ATTENTIONS].append(cell % NUM_ATTENTIONS + 1)
        specs.append(ArchSpec(attention=tuple(map(tuple, layers)),
                              backbone=backbone))
    return specs


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: Pearson's correlation of the (average) ranks."""
    def ranks(values):
        values = np.asarray(values, dtype=float)
        order = values.argsort(kind='mergesort')
        r = np.empty(len(values))
        r[order] = np.arange(len(values), dtype=float)
        for v in np.unique(values):  # ties share their mean rank
            r[values == v] = r[values == v].mean()
        return r
    rx, ry = ranks(x), ranks(y)
    return float(np.corrcoef(rx, ry)[0, 1])


def metrics(pred: Sequence[float], meas: Sequence[float]) -> Dict[str, float]:
    pred, meas = np.asarray(pred), np.asarray(meas)
    err = (pred - meas) / meas
    slope, intercept = np.polyfit(pred, meas, 1)
    return dict(spearman_rho=spearman(pred, meas),
                mape_pct=float(100 * np.abs(err).mean()),
                mean_signed_error_pct=float(100 * err.mean()),
                fit_slope=float(slope), fit_intercept_ms=float(intercept),
                n=len(pred))


def baseline_prediction(lut: LatencyLUT, search_cfg: dict, search_table,
                        runs: int, warmup: int) -> Dict[str, Any]:
    """mv2+ASPP from its own parts: stem + its fixed ops + ASPP + resize.

    The ASPP head, the resize and (for comparison) MMSeg's MobileNetV2 timed
    whole are added to the LUT if it lacks them.
    """
    size = lut.settings['input_size']
    base_cfg = model_cfg(BASELINE)
    base_parts = latency_parts(build_segmentor(base_cfg), size)
    build_lut(base_parts, lut.path, lut.settings, runs=runs, warmup=warmup,
              progress=False)
    lut = LatencyLUT.load(lut.path)
    priced = {p.name: ms for p, ms in part_latencies(lut, base_parts)}
    search = build_segmentor(search_cfg, device='meta')
    stem = next(ms for p, ms in part_latencies(
        lut, latency_parts(search, size)) if p.name == 'stem')
    ops = [search.backbone.ops.index(choice) + 1 for choice in MV2_CHOICE]
    backbone_sum = stem + sum(float(search_table.backbone[i, op - 1])
                              for i, op in enumerate(ops))
    return dict(predicted_ms=backbone_sum + priced['decode_head'] +
                priced['resize'], backbone_sum_ms=backbone_sum,
                backbone_whole_ms=priced['backbone'],
                ops='mv2(' + ','.join(map(str, ops)) + ')')


def validate(lut_path: str, args, search_cfg: dict,
             topk: int) -> Dict[str, Any]:
    lut = LatencyLUT.load(lut_path)
    s = lut.settings
    # Validate where the table was measured: same device, same libraries.
    lut.check(**lut_settings(s['backend'], s['device'], s['threads'],
                             s['input_size'], s['memory_format']))
    search_table = load_latency_table(
        lut_path, build_segmentor(search_cfg, device='meta'))
    nets = [(f'sample{i:02d}', spec, apply_arch(search_cfg, spec),
             search_table.network_cost(spec))
            for i, spec in enumerate(sample_specs(
                args.num_samples, args.seed, search_table.num_layers, topk))]
    notes = {}
    if not args.no_baseline:
        for name in PAPER_NETS:
            cfg = model_cfg(name)
            nets.append((name, None, cfg,
                         load_latency_table(
                             lut_path, build_segmentor(cfg, device='meta')).fixed))
        base = baseline_prediction(lut, search_cfg, search_table, args.runs,
                                   args.warmup)
        nets.append((BASELINE, None, model_cfg(BASELINE),
                     base['predicted_ms']))
        notes[BASELINE] = base
    rows = []
    for name, spec, cfg, pred in nets:
        meas = time_network(cfg, s, args.runs, args.warmup)
        rows.append(dict(name=name, arch=None if spec is None else str(spec),
                         predicted_ms=pred, measured_ms=meas['median_ms'],
                         measured_min_ms=meas['min_ms']))
        print(f'  {name:<10} predicted {pred:9.2f} ms  measured '
              f'{meas["median_ms"]:9.2f} ms', flush=True)
    result = dict(lut=osp.abspath(lut_path), settings=s, runs=args.runs,
                  warmup=args.warmup, seed=args.seed,
                  num_samples=args.num_samples, rows=rows,
                  all=metrics([r['predicted_ms'] for r in rows],
                              [r['measured_ms'] for r in rows]),
                  notes=notes, date=time.strftime('%Y-%m-%d %H:%M'),
                  command=' '.join(sys.argv))
    sampled = [r for r in rows if r['name'].startswith('sample')]
    if len(sampled) >= 3:
        result['sampled_only'] = metrics(
            [r['predicted_ms'] for r in sampled],
            [r['measured_ms'] for r in sampled])
    return result


def report(result: Dict[str, Any]) -> str:
    s = result['settings']
    lines = [f'\n{s["backend"]} on {s["device"]} ({s["device_name"]}), '
             f'{s["threads"]} thread(s), {s["input_size"][0]}x'
             f'{s["input_size"][1]}, batch 1, BN folded'
             + (f', {s["memory_format"]}' if s['memory_format'] else '')
             + f'; median of '
             f'{result["runs"]} after {result["warmup"]}']
    rows = [[r['name'], f'{r["predicted_ms"]:.2f}', f'{r["measured_ms"]:.2f}',
             f'{100 * (r["predicted_ms"] / r["measured_ms"] - 1):+.1f}%']
            for r in result['rows']]
    lines.append(table(rows, ['network', 'predicted ms', 'measured ms',
                              'error']))
    for key in ('all', 'sampled_only'):
        if key in result:
            m = result[key]
            lines.append(
                f'{key} (n={m["n"]}): Spearman rho {m["spearman_rho"]:.3f}, '
                f'MAPE {m["mape_pct"]:.1f}%, mean signed error '
                f'{m["mean_signed_error_pct"]:+.1f}%, fit measured = '
                f'{m["fit_slope"]:.3f} * predicted + '
                f'{m["fit_intercept_ms"]:.2f} ms (not applied)')
    base = result['notes'].get(BASELINE)
    if base:
        lines.append(
            f'{BASELINE} predicted from its parts: stem + {base["ops"]} = '
            f'{base["backbone_sum_ms"]:.2f} ms (MMSeg MobileNetV2 timed whole'
            f': {base["backbone_whole_ms"]:.2f} ms) + ASPP head + resize')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    search_cfg = cfg.model.to_dict()
    search_cfg.pop('pretrained', None)
    topk = int(cfg.get('derive', {}).get('topk', 4))
    for lut_path in args.luts:
        print(f'LUT {lut_path}')
        try:
            result = validate(lut_path, args, copy.deepcopy(search_cfg),
                              topk)
        except ValueError as err:
            sys.exit(f'bench_latency_lut: error: {err}')
        print(report(result))
        s = result['settings']
        out = osp.join(args.out_dir, f'{s["backend"]}_{s["device"]}_'
                       f'{s["threads"]}t_{s["input_size"][0]}x'
                       f'{s["input_size"][1]}.json')
        from mmengine.utils import mkdir_or_exist
        mkdir_or_exist(args.out_dir)
        with open(out, 'w') as f:
            json.dump(result, f, indent=1)
        print(f'wrote {out}')


if __name__ == '__main__':
    main()
