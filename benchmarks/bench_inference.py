"""Inference latency and peak memory: AttNAS-S and -L vs mv2+ASPP.

    python benchmarks/bench_inference.py [--sizes 512x1024 1024x2048]
        [--runs 3] [--warmup 1] [--threads 1] [--device cpu|cuda]
        [--backends eager eager+fused onnxruntime] [--batch 1]

For each model, input size and backend it prints the median latency over
``--runs`` runs after ``--warmup`` runs and the peak memory
(benchmarks/_common.py says exactly what is measured), each in a fresh
process, and the ratios to mv2+ASPP in the same run. Backends, side by side as
MMSeg users measure inference:

* ``eager``: PyTorch eager (``inference_mode``), the model as built;
* ``eager+fused``: the same with BN folded into the convolutions (mmcv's
  ``fuse_conv_bn``, ``attnas_mmseg.deploy.fuse_conv_bn``), as deployed;
* ``onnxruntime``: the ONNX export of the fused model (CPU provider, or CUDA
  with ``--device cuda`` when onnxruntime-gpu is installed).

It also prints paper-convention FLOPs (thop rules,
attnas_mmseg/search/flops.py) and params at 1024x2048, and the ratio
AttNAS-S / mv2+ASPP beside the paper's 28.2G / 41.4G = 0.68.

The weights are freshly initialised and the BN statistics set from a random
batch (attnas_mmseg.deploy.calibrate_bn), so activations are O(1) as in a
trained net; the same weights go to every backend.
"""
import argparse
import os.path as osp
import sys
import tempfile
from typing import Any, Dict, List, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from _common import (BASELINE, MODEL_CONFIGS, PeakMemory,  # noqa: E402
                     environment, model_cfg, model_source, run_isolated,
                     set_threads, summarize, table, time_runs)

#: Table 2: (FLOPs G, params M) at 1024x2048.
PAPER = {'AttNAS-S': (28.2, 2.3), 'AttNAS-L': (40.6, 4.2),
         'mv2+ASPP': (41.4, 4.5)}
FLOPS_SIZE = (1024, 2048)
BACKENDS = ('eager', 'eager+fused', 'onnxruntime')


def parse_size(text: str) -> Tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'size must be HxW, got {text!r}')
    return h, w


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=parse_size, nargs='+',
                        default=[(512, 1024), (1024, 2048)])
    parser.add_argument('--models', nargs='+', default=list(MODEL_CONFIGS),
                        choices=list(MODEL_CONFIGS))
    parser.add_argument('--backends', nargs='+', default=list(BACKENDS),
                        choices=list(BACKENDS))
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--threads', type=int, default=1,
                        help='intra-op threads of torch and onnxruntime')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def build(name: str, state_path: str = None):
    from attnas_mmseg.deploy import build_segmentor
    model = build_segmentor(model_cfg(name))
    if state_path is not None:
        import torch
        model.load_state_dict(torch.load(state_path, map_location='cpu'))
    return model


def prepare(name: str, sizes: List[Tuple[int, int]], batch: int,
            workdir: str) -> Dict[str, Any]:
    """Weights (BN calibrated), ONNX files per size, FLOPs and params."""
    import torch

    from attnas_mmseg.deploy import (DenseLogits, calibrate_bn, export_onnx,
                                     fuse_conv_bn)
    from attnas_mmseg.search.flops import count_paper_flops
    torch.manual_seed(0)
    model = build(name)
    calibrate_bn(model, torch.randn(2, 3, 256, 512))
    state = osp.join(workdir, f'{name}.pth')
    torch.save(model.state_dict(), state)
    onnx, fused = {}, fuse_conv_bn(model)
    for h, w in sizes:
        onnx[(h, w)] = str(export_onnx(
            fused, osp.join(workdir, f'{name}_{h}x{w}.onnx'), (h, w),
            batch_size=batch))
    from mmengine.model import revert_sync_batchnorm
    from mmseg.registry import MODELS
    with torch.device('meta'):  # shapes only: no memory, no arithmetic
        meta_model = revert_sync_batchnorm(MODELS.build(model_cfg(name)))
        x = torch.empty(1, 3, *FLOPS_SIZE)
    flops = count_paper_flops(DenseLogits(meta_model), x)
    params = sum(p.numel() for p in model.parameters())
    return dict(state=state, onnx=onnx, flops_G=flops / 1e9,
                params_M=params / 1e6)


def measure(name: str, backend: str, size: Tuple[int, int], batch: int,
            runs: int, warmup: int, threads: int, device: str,
            state: str, onnx: str) -> Dict[str, Any]:
    """One (model, backend, size) in this (fresh) process."""
    import torch

    from attnas_mmseg.deploy import inference_step
    set_threads(threads)
    x = torch.randn(batch, 3, *size,
                    generator=torch.Generator().manual_seed(0))
    if backend != 'onnxruntime':
        from attnas_mmseg.deploy import DenseLogits, fuse_conv_bn
        model = build(name, state)
        if backend == 'eager+fused':
            model = fuse_conv_bn(model, inplace=True)
        step = inference_step(x, model=DenseLogits(model), device=device)
    else:
        step = inference_step(x, onnx=onnx, device=device, threads=threads)
    mem_device = device if backend != 'onnxruntime' else 'cpu'
    if device.startswith('cuda') and backend == 'onnxruntime':
        times = time_runs(step, runs, warmup, device)
        return dict(summarize(times), peak_mib=None, how='n/a (ORT arena)')
    with PeakMemory(mem_device) as peak:
        times = time_runs(step, runs, warmup, device)
    return dict(summarize(times), peak_mib=peak.mib, how=peak.how)


def main(argv=None):
    args = parse_args(argv)
    set_threads(args.threads)
    print(environment(args.threads, args.device))
    print(f'batch {args.batch}, {args.runs} timed run(s) after '
          f'{args.warmup} warm-up run(s), median reported; fresh process '
          'per row')
    models = list(dict.fromkeys(args.models + [BASELINE]))
    if args.device.startswith('cuda') and 'onnxruntime' in args.backends:
        import onnxruntime as ort
        if 'CUDAExecutionProvider' not in ort.get_available_providers():
            print('onnxruntime has no CUDAExecutionProvider: skipping it')
            args.backends.remove('onnxruntime')
    results, info = {}, {}
    with tempfile.TemporaryDirectory(prefix='bench_inference_') as workdir:
        for name in models:
            info[name] = prepare(name, args.sizes, args.batch, workdir)
        for size in args.sizes:
            for backend in args.backends:
                for name in models:
                    results[(name, backend, size)] = run_isolated(
                        measure, name=name, backend=backend, size=size,
                        batch=args.batch, runs=args.runs,
                        warmup=args.warmup, threads=args.threads,
                        device=args.device, state=info[name]['state'],
                        onnx=info[name]['onnx'][size])
                    r = results[(name, backend, size)]
                    print(f'  measured {name:<9} {backend:<12} '
                          f'{size[0]}x{size[1]}: {r["median_ms"]:.0f} ms',
                          flush=True)

    print('\nModels')
    print(table([[n, model_source(n)] for n in models], ['model', 'from']))
    print(f'\nFLOPs (paper convention, multiply-adds) and params at '
          f'{FLOPS_SIZE[0]}x{FLOPS_SIZE[1]}')
    base = info[BASELINE]
    rows = []
    for name in models:
        paper_flops, paper_params = PAPER[name]
        rows.append([name, f'{info[name]["flops_G"]:.2f}',
                     f'{paper_flops:.1f}',
                     f'{info[name]["flops_G"] / base["flops_G"]:.3f}',
                     f'{paper_flops / PAPER[BASELINE][0]:.3f}',
                     f'{info[name]["params_M"]:.2f}', f'{paper_params:.1f}'])
    print(table(rows, ['model', 'FLOPs G', 'paper G', f'/ {BASELINE}',
                       'paper ratio', 'params M', 'paper M']))
    if 'AttNAS-S' in info:
        ours = info['AttNAS-S']['flops_G'] / base['flops_G']
        paper = PAPER['AttNAS-S'][0] / PAPER[BASELINE][0]
        print(f'FLOPs ratio AttNAS-S / {BASELINE}: ours {ours:.3f}, paper '
              f'{paper:.3f} (28.2/41.4)')

    print('\nLatency (median ms) and peak memory (MiB); ratios to '
          f'{BASELINE} at the same size and backend')
    rows, hows = [], set()
    for size in args.sizes:
        for backend in args.backends:
            ref = results[(BASELINE, backend, size)]
            for name in models:
                r = results[(name, backend, size)]
                hows.add(r['how'])
                mem = '-' if r['peak_mib'] is None else f'{r["peak_mib"]:.0f}'
                mem_ratio = '-' if r['peak_mib'] is None or not \
                    ref['peak_mib'] else \
                    f'{r["peak_mib"] / ref["peak_mib"]:.2f}'
                rows.append([f'{size[0]}x{size[1]}', backend, name,
                             f'{r["median_ms"]:.0f}', f'{r["min_ms"]:.0f}',
                             f'{r["median_ms"] / ref["median_ms"]:.2f}', mem,
                             mem_ratio])
    print(table(rows, ['size', 'backend', 'model', 'median ms', 'min ms',
                       'lat ratio', 'peak MiB', 'mem ratio']))
    print('peak memory: ' + '; '.join(sorted(hows)))


if __name__ == '__main__':
    main()
