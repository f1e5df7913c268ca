"""Inference latency and peak memory: AttNAS-S and -L vs mv2+ASPP.

    python benchmarks/bench_inference.py [--sizes 512x1024 1024x2048]
        [--runs 3] [--warmup 1] [--threads 1] [--device cpu|cuda]
        [--backends eager eager+fused eager+fused+channels_last compile
         onnxruntime] [--batch 1]

For each model, input size and backend it prints the median latency over
``--runs`` runs after ``--warmup`` runs and the peak memory
(benchmarks/_common.py says exactly what is measured), each in a fresh
process, the ratios to mv2+ASPP in the same run, and each row's speed-up over
``eager+fused`` (the eager default before channels_last). Backends, side by
side as MMSeg users measure inference:

* ``eager``: PyTorch eager (``inference_mode``), the model as built;
* ``eager+fused``: the same with BN folded into the convolutions (mmcv's
  ``fuse_conv_bn``, ``attnas_mmseg.deploy.fuse_conv_bn``);
* ``eager+fused+channels_last``: also weights and input in channels_last
  (``attnas_mmseg.deploy.prepare_for_inference``, the project's default for
  eager inference);
* ``compile``: ``torch.compile`` (inductor) of that model; the first call,
  which compiles, is reported as the compile time (with an empty inductor
  cache / reusing it) and not timed. A compile that fails (e.g. no C++
  toolchain) is reported in its row;
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
import os
import os.path as osp
import sys
import tempfile
import time
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
BACKENDS = ('eager', 'eager+fused', 'eager+fused+channels_last', 'compile',
            'onnxruntime')
#: The row each row's speed-up is against.
REFERENCE = 'eager+fused'


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
    from attnas_mmseg.models import build_segmentor
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
    from attnas_mmseg.models import build_segmentor
    from attnas_mmseg.search.cost.flops import (FLOPS_PER_G,
                                                count_paper_flops)
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
    # shapes only: no memory, no arithmetic
    meta_model = build_segmentor(model_cfg(name), device='meta')
    x = torch.empty(1, 3, *FLOPS_SIZE, device='meta')
    flops = count_paper_flops(DenseLogits(meta_model), x)
    params = sum(p.numel() for p in model.parameters())
    return dict(state=state, onnx=onnx, flops_G=flops / FLOPS_PER_G,
                params_M=params / 1e6)


def eager_model(name: str, backend: str, state: str):
    """The dense-logits module a PyTorch backend runs."""
    from attnas_mmseg.deploy import (DenseLogits, fuse_conv_bn,
                                     prepare_for_inference)
    model = DenseLogits(build(name, state))
    if backend == 'eager':
        return model
    if backend == 'eager+fused':
        return fuse_conv_bn(model, inplace=True)
    return prepare_for_inference(model, inplace=True)


def compiled_step(model, x, device: str, cache_dir: str):
    """``torch.compile`` (inductor) of ``model``: (the step, seconds of its
    first call with an empty cache in ``cache_dir``, seconds of the first
    call of a second compile reusing that cache). The first is what a first
    deployment on a machine pays, inductor's one-off C++ set-up included;
    the second what a restart pays."""
    import torch

    from attnas_mmseg.deploy import inference_step, synchronize
    os.environ['TORCHINDUCTOR_CACHE_DIR'] = cache_dir
    model = model.to(device)
    seconds = []
    for _ in range(2):
        torch._dynamo.reset()
        step = inference_step(x, model=torch.compile(model), device=device)
        start = time.perf_counter()
        step()
        synchronize(device)
        seconds.append(time.perf_counter() - start)
    return step, seconds[0], seconds[1]


def measure(name: str, backend: str, size: Tuple[int, int], batch: int,
            runs: int, warmup: int, threads: int, device: str,
            state: str, onnx: str) -> Dict[str, Any]:
    """One (model, backend, size) in this (fresh) process."""
    import torch

    from attnas_mmseg.deploy import inference_step
    set_threads(threads)
    x = torch.randn(batch, 3, *size,
                    generator=torch.Generator().manual_seed(0))
    extra = {}
    if backend == 'onnxruntime':
        step = inference_step(x, onnx=onnx, device=device, threads=threads)
    elif backend == 'compile':
        try:
            step, extra['compile_s'], extra['recompile_s'] = \
                compiled_step(eager_model(name, backend, state), x, device,
                              tempfile.mkdtemp(prefix='inductor_',
                                               dir=osp.dirname(state)))
        except Exception as err:  # reported in its row, not raised
            lines = str(err).strip().splitlines() or ['']
            return dict(error=f'{type(err).__name__}: {lines[0][:200]}')
    else:
        step = inference_step(x, model=eager_model(name, backend, state),
                              device=device)
    mem_device = device if backend != 'onnxruntime' else 'cpu'
    if device.startswith('cuda') and backend == 'onnxruntime':
        times = time_runs(step, runs, warmup, device)
        return dict(summarize(times), peak_mib=None, how='n/a (ORT arena)')
    with PeakMemory(mem_device) as peak:
        times = time_runs(step, runs, warmup, device)
    return dict(summarize(times), peak_mib=peak.mib, how=peak.how, **extra)


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
                    print(f'  measured {name:<9} {backend:<25} '
                          f'{size[0]}x{size[1]}: ' +
                          (f'failed ({r["error"]})' if 'error' in r else
                           f'{r["median_ms"]:.0f} ms'), flush=True)

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
          f'{BASELINE} at the same size and backend; speed-up: '
          f'{REFERENCE} ms / this row\'s ms, same model and size; compile s: '
          'first call of torch.compile, empty inductor cache / cache reused')
    print(table(latency_rows(results, args.sizes, args.backends, models),
                ['size', 'backend', 'model', 'median ms', 'min ms',
                 'lat ratio', 'speed-up', 'peak MiB', 'mem ratio',
                 'compile s']))
    hows = {r['how'] for r in results.values() if 'how' in r}
    print('peak memory: ' + '; '.join(sorted(hows)))
    for (name, backend, size), r in results.items():
        if 'error' in r:
            print(f'failed: {backend} {name} {size[0]}x{size[1]}: '
                  f'{r["error"]}')


def latency_rows(results: Dict[tuple, Dict[str, Any]],
                 sizes: List[Tuple[int, int]], backends: List[str],
                 models: List[str]) -> List[List[str]]:
    """The latency table's rows; a failed measurement says so in its row."""
    def ratio(num, den, key):
        if 'error' in num or den is None or 'error' in den or \
                not den.get(key) or num.get(key) is None:
            return '-'
        return f'{num[key] / den[key]:.2f}'

    rows = []
    for size in sizes:
        for backend in backends:
            ref = results[(BASELINE, backend, size)]
            for name in models:
                r = results[(name, backend, size)]
                head = [f'{size[0]}x{size[1]}', backend, name]
                if 'error' in r:
                    rows.append(head + ['failed (below)'] + ['-'] * 6)
                    continue
                fused = results.get((name, REFERENCE, size))
                speedup = ratio(fused, r, 'median_ms') if fused else '-'
                mem = '-' if r['peak_mib'] is None else \
                    f'{r["peak_mib"]:.0f}'
                rows.append(head + [
                    f'{r["median_ms"]:.0f}', f'{r["min_ms"]:.0f}',
                    ratio(r, ref, 'median_ms'), speedup, mem,
                    ratio(r, ref, 'peak_mib'),
                    f'{r["compile_s"]:.0f} / {r["recompile_s"]:.0f}'
                    if 'compile_s' in r else '-'])
    return rows


if __name__ == '__main__':
    main()
