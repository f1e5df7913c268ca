"""One AttNAS search step in every search mode, against one path and the floor.

    python benchmarks/bench_search_step.py [--batch 2] [--crop 224 448]
        [--modes darts gumbel] [--floor] [--runs 3] [--warmup 1]
        [--threads 1] [--device cpu|cuda]

Each search mode (``search_mode`` of the backbone and head,
``attnas_mmseg/search/search_modes.py``) is timed in its own fresh process,
beside **one path**: the same two passes on one fixed network of the space
(AttNAS-S, a weight pass with backward into the weights and a second
forward+backward standing for the arch pass), which is what a sampled-path
mode can at best cost. The ratios against the full mixture ('darts') and
against one path are the issue's goals (<= 0.3x the mixture's time, <= 2x one
path's peak memory).

The step is what ``ArchUpdateHook`` does per iteration (§3.3.2), minus the
optimiser updates: forward+backward of the supernet's loss for the weights,
then forward + ``autograd.grad`` of ``CE + lambda * L_flops`` (Eq. 3-4) for
alpha/beta, on two batches at the paper's search crop (224x448).

The floor is the same two passes for every candidate built alone at its
position (17 blocks x 6 ops of Eq. 1, num_layers x 13 attentions of Eq. 2),
plus the fixed parts (stem; head bottleneck, classifier and loss), each on an
input of the shape it sees in the supernet. The weight pass back-propagates
into each candidate's weights and input; the arch pass into its input only,
and not at all for block 1, whose input depends on no architecture parameter
(that is what autograd does inside the supernet too). A DARTS mixture must
run all of this; the ratio supernet / floor is the cost of mixing itself
(``--floor``: slow, it times every candidate).

Memory: the peak of each measurement in a fresh process (benchmarks/_common
.py), and the bytes the forward of the weight pass saves for backward
(activations, parameters excluded, each storage once), for the supernet and
summed over the candidates (each position's shared input counted once).
"""
import argparse
import os.path as osp
import sys
from typing import Any, Dict, List, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from _common import (ATTNAS_BASE, REPO, PeakMemory,  # noqa: E402
                     environment, model_cfg, run_isolated, set_threads,
                     summarize, table, time_runs)

NUM_CLASSES = 19


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--crop', type=int, nargs=2, default=[224, 448],
                        metavar=('H', 'W'))
    parser.add_argument('--num-layers', type=int, default=2,
                        help='attention layers of the supernet (att2: 2)')
    parser.add_argument('--modes', nargs='+',
                        default=['darts', 'gumbel', 'proxyless'],
                        help='search modes to time (first: the reference)')
    parser.add_argument('--floor', action='store_true',
                        help='also time every candidate alone (slow)')
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def build_supernet(num_layers: int, search_mode: str = 'darts'):
    """The search-mode AttNAS segmentor (SearchableMobileNetV2 + AttNASHead),
    on the CPU, in train mode."""
    import torch
    from mmengine.config import Config

    from attnas_mmseg.models import build_segmentor
    cfg = Config.fromfile(osp.join(REPO, ATTNAS_BASE)).model.to_dict()
    cfg['decode_head'].update(num_layers=num_layers, arch=None,
                              num_classes=NUM_CLASSES,
                              search_mode=search_mode)
    cfg['backbone'].update(arch=None, search_mode=search_mode)
    torch.manual_seed(0)
    return build_segmentor(cfg).train()


def build_one_path():
    """AttNAS-S, a fixed network of the space, in train mode."""
    import torch

    from attnas_mmseg.models import build_segmentor
    cfg = model_cfg('AttNAS-S')
    cfg['decode_head']['num_classes'] = NUM_CLASSES
    torch.manual_seed(0)
    return build_segmentor(cfg).train()


def make_batch(batch: int, crop: Tuple[int, int], device: str, seed: int):
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, *crop, generator=gen).to(device)
    samples = []
    for _ in range(batch):
        label = torch.randint(0, NUM_CLASSES, (1, *crop), generator=gen)
        sample = SegDataSample(gt_sem_seg=PixelData(data=label.to(device)))
        sample.set_metainfo(dict(img_shape=crop, pad_shape=crop,
                                 ori_shape=crop))
        samples.append(sample)
    return x, samples


class SavedBytes:
    """Bytes saved for backward inside ``with`` (each storage once).

    Parameters, and the storages in ``exclude``, are not counted.
    """

    def __init__(self, module, exclude=()) -> None:
        self.skip = {p.untyped_storage().data_ptr()
                     for p in module.parameters()}
        self.skip |= {t.untyped_storage().data_ptr() for t in exclude}
        self.seen: Dict[int, int] = {}

    def _pack(self, t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in self.skip:
            self.seen[ptr] = t.untyped_storage().nbytes()
        return t

    def __enter__(self):
        import torch
        self._ctx = torch.autograd.graph.saved_tensors_hooks(
            self._pack, lambda t: t)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)

    @property
    def nbytes(self) -> int:
        return sum(self.seen.values())


def measure_step(model, step, weight_batch, runs: int, warmup: int,
                 device: str) -> Dict[str, Any]:
    """Time and peak memory of ``step``; bytes the model's forward on
    ``weight_batch`` saves for backward."""
    with PeakMemory(device) as peak:
        times = time_runs(step, runs, warmup, device)
    with SavedBytes(model) as saved:
        model.parse_losses(model.loss(*weight_batch))
    return dict(summarize(times), peak_mib=peak.mib, how=peak.how,
                saved_mib=saved.nbytes / 2**20,
                params_M=sum(p.numel() for p in model.parameters()) / 1e6)


def one_path_worker(batch: int, crop: Tuple[int, int], num_layers: int,
                    runs: int, warmup: int, threads: int,
                    device: str) -> Dict[str, Any]:
    """Two forward+backward passes of one fixed network, fresh process."""
    set_threads(threads)
    model = build_one_path().to(device)
    weight_batch = make_batch(batch, crop, device, seed=1)
    arch_batch = make_batch(batch, crop, device, seed=2)

    def step():
        for data in (weight_batch, arch_batch):
            loss, _ = model.parse_losses(model.loss(*data))
            loss.backward()
            model.zero_grad(set_to_none=True)

    return measure_step(model, step, weight_batch, runs, warmup, device)


def supernet_worker(batch: int, crop: Tuple[int, int], num_layers: int,
                    runs: int, warmup: int, threads: int, device: str,
                    search_mode: str = 'darts') -> Dict[str, Any]:
    """Time and memory of the supernet step, in this (fresh) process."""
    import torch

    from attnas_mmseg.search.space.arch_params import named_arch_parameters
    from attnas_mmseg.search.cost.flops import build_flops_table
    from attnas_mmseg.search.cost.cost_loss import cost_loss
    from attnas_mmseg.search.space.search_modes import arch_pass
    set_threads(threads)
    model = build_supernet(num_layers, search_mode)
    # build_flops_table runs the stem and head on CPU tensors: build it
    # before moving the model.
    flops_table = build_flops_table(model, (1024, 2048))
    model.to(device)
    arch = dict(named_arch_parameters(model))
    alpha = next(p for n, p in arch.items() if n.endswith('alpha'))
    beta = next(p for n, p in arch.items() if n.endswith('beta'))
    weight_batch = make_batch(batch, crop, device, seed=1)
    arch_batch = make_batch(batch, crop, device, seed=2)

    def step():
        loss, _ = model.parse_losses(model.loss(*weight_batch))
        loss.backward()
        model.zero_grad(set_to_none=True)
        with arch_pass([model.backbone, model.decode_head.attention]):
            ce, _ = model.parse_losses(model.loss(*arch_batch))
        pred = flops_table.predict(alpha, beta, 'derived', 4)
        total = ce + 0.1 * cost_loss(pred, 30e9, 'abs')
        torch.autograd.grad(total, list(arch.values()))

    return measure_step(model, step, weight_batch, runs, warmup, device)


def _candidates(model, batch: int, crop, device: str):
    """(group, label, module, input shape, arch-pass backward) of the floor."""
    import torch
    backbone, head = model.backbone, model.decode_head
    shapes: List[torch.Size] = []
    hooks = [op.register_forward_pre_hook(
        lambda m, args: shapes.append(args[0].shape))
        for name in backbone.layers for op in getattr(backbone, name)]
    with torch.no_grad():
        feat = head._transform_inputs(
            backbone(torch.zeros(batch, 3, *crop, device=device)))
    for h in hooks:
        h.remove()
    items = [('fixed', 'stem', backbone.conv1, (batch, 3, *crop), False)]
    for block, shape in enumerate(shapes):
        for op in range(1, len(backbone.ops) + 1):
            items.append(('backbone', f'block{block + 1}.op{op}',
                          backbone.make_op(block, op).to(device), shape,
                          block > 0))
    for layer in range(head.attention.num_layers):
        for att in range(1, 14):
            items.append(('attention', f'AttSet{layer + 1}.Att{att}',
                          head.attention.make_attention(att).to(device),
                          feat.shape, True))
    return items, feat.shape


def floor_worker(batch: int, crop: Tuple[int, int], num_layers: int,
                 runs: int, warmup: int, threads: int,
                 device: str) -> Dict[str, Any]:
    """Per-candidate step times and memory, in this (fresh) process."""
    import torch
    import torch.nn as nn
    set_threads(threads)
    model = build_supernet(num_layers).to(device)
    head = model.decode_head
    items, feat_shape = _candidates(model, batch, crop, device)
    _, samples = make_batch(batch, crop, device, seed=1)

    class HeadTail(nn.Module):
        """The head after the attentions: bottleneck, classifier, loss."""

        def __init__(self):
            super().__init__()
            self.head = head

        def forward(self, x):
            if self.head.bottleneck is not None:
                x = self.head.bottleneck(x)
            logits = self.head.cls_seg(x)
            losses = self.head.loss_by_feat(logits, samples)
            return sum(v for k, v in losses.items() if 'loss' in k)

    items.append(('fixed', 'head tail + loss', HeadTail(), feat_shape, True))
    gen = torch.Generator().manual_seed(0)
    inputs, work = {}, []
    for group, label, module, shape, arch_backward in items:
        module.train()
        needs_grad = label != 'stem'
        key = (tuple(shape), needs_grad, label.split('.')[0])
        if key not in inputs:  # one input per position, shared by its ops
            inputs[key] = torch.randn(*shape, generator=gen).to(
                device).requires_grad_(needs_grad)
        x = inputs[key]
        with torch.no_grad():
            out_shape = module(x).shape
        g = torch.randn(*out_shape, generator=gen).to(device) \
            if len(out_shape) else None

        def step(module=module, x=x, g=g, arch_backward=arch_backward):
            y = module(x)
            torch.autograd.backward(y, g)
            module.zero_grad(set_to_none=True)
            x.grad = None
            y = module(x)
            if arch_backward:
                torch.autograd.grad(y, x, g)

        work.append((group, label, module, x, step))
    # Peak first, from a clean state: every part once, in turn.
    with PeakMemory(device) as peak:
        for *_, step in work:
            step()
    rows = []
    for group, label, module, x, step in work:
        with SavedBytes(module, exclude=[x]) as saved:
            module(x)
        times = time_runs(step, runs, warmup, device)
        rows.append(dict(group=group, label=label, saved=saved.nbytes,
                         **summarize(times)))
    input_bytes = sum(t.numel() * t.element_size() for t in inputs.values()
                      if t.requires_grad)
    return dict(rows=rows, input_mib=input_bytes / 2**20, peak_mib=peak.mib,
                how=peak.how)


def print_modes(modes: List[str], results: Dict[str, Dict[str, Any]],
                one: Dict[str, Any]) -> None:
    ref = results[modes[0]]
    rows = []
    for mode in modes:
        r = results[mode]
        rows.append([mode, f'{r["median_ms"]:.0f}',
                     f'{r["median_ms"] / ref["median_ms"]:.2f}',
                     f'{r["median_ms"] / one["median_ms"]:.2f}',
                     f'{r["peak_mib"]:.0f}',
                     f'{r["peak_mib"] / one["peak_mib"]:.2f}'
                     if one['peak_mib'] else '-',
                     f'{r["saved_mib"]:.1f}'])
    rows.append(['one path (AttNAS-S)', f'{one["median_ms"]:.0f}',
                 f'{one["median_ms"] / ref["median_ms"]:.2f}', '1.00',
                 f'{one["peak_mib"]:.0f}', '1.00', f'{one["saved_mib"]:.1f}'])
    print(table(rows, ['mode', 'step ms', f'x {modes[0]}', 'x one path',
                       'peak MiB', 'peak x one path', 'saved MiB']))
    print(f'peak memory: {one["how"]}')


def print_floor(sup: Dict[str, Any], flo: Dict[str, Any]) -> None:
    groups: Dict[str, Dict[str, float]] = {}
    for r in flo['rows']:
        g = groups.setdefault(r['group'], dict(ms=0.0, saved=0, n=0))
        g['ms'] += r['median_ms']
        g['saved'] += r['saved']
        g['n'] += 1
    floor_ms = sum(g['ms'] for g in groups.values())
    floor_saved = (sum(g['saved'] for g in groups.values()) / 2**20 +
                   flo['input_mib'])

    print('\nFloor: the same step for each part alone (sum of medians)')
    rows = [[name, int(g['n']), f'{g["ms"]:.0f}',
             f'{g["saved"] / 2**20:.1f}'] for name, g in groups.items()]
    rows.append(['inputs (once per position)', '-', '-',
                 f'{flo["input_mib"]:.1f}'])
    print(table(rows, ['part', 'modules', 'ms', 'saved MiB']))
    heavy = sorted(flo['rows'], key=lambda r: -r['median_ms'])[:5]
    print('slowest alone: ' + ', '.join(
        f'{r["label"]} {r["median_ms"]:.0f} ms' for r in heavy))

    print('\nFull-mixture supernet step vs floor')
    rows = [
        ['time (ms)', f'{sup["median_ms"]:.0f}', f'{floor_ms:.0f}',
         f'{sup["median_ms"] / floor_ms:.2f}'],
        ['saved for backward, weight pass (MiB)', f'{sup["saved_mib"]:.1f}',
         f'{floor_saved:.1f}', f'{sup["saved_mib"] / floor_saved:.2f}'],
        ['peak memory (MiB)', f'{sup["peak_mib"]:.0f}',
         f'{flo["peak_mib"]:.0f}', f'{sup["peak_mib"] / flo["peak_mib"]:.2f}'
         if flo['peak_mib'] else '-'],
    ]
    print(table(rows, ['', 'supernet', 'floor', 'ratio']))
    print('floor column = the peak over running every part alone in turn '
          '(about the largest single part), not a sum')


def main(argv=None):
    args = parse_args(argv)
    set_threads(args.threads)
    crop = tuple(args.crop)
    print(environment(args.threads, args.device))
    print(f'search step at {crop[0]}x{crop[1]}, batch {args.batch} per '
          f'pass, {args.num_layers} attention layers; median of '
          f'{args.runs} run(s) after {args.warmup} warm-up; '
          'optimiser updates excluded')
    kwargs = dict(batch=args.batch, crop=crop, num_layers=args.num_layers,
                  runs=args.runs, warmup=args.warmup, threads=args.threads,
                  device=args.device)
    results = {}
    for mode in args.modes:
        results[mode] = run_isolated(supernet_worker, search_mode=mode,
                                     **kwargs)
        print(f'  {mode} step: {results[mode]["median_ms"]:.0f} ms',
              flush=True)
    one = run_isolated(one_path_worker, **kwargs)
    print(f'  one path step: {one["median_ms"]:.0f} ms', flush=True)
    print('\nSearch modes (one step = weight pass + arch pass)')
    print_modes(args.modes, results, one)
    if args.floor:
        print_floor(results.get('darts') or results[args.modes[0]],
                    run_isolated(floor_worker, **kwargs))


if __name__ == '__main__':
    main()
