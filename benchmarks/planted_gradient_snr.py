"""How strongly does each search mode's arch gradient say "not the noise op"?

    python benchmarks/planted_gradient_snr.py
        [--data-root work_dirs/planted_signal/data/harmful]
        [--modes darts gumbel proxyless] [--warmup-epochs 4] [--draws 96]
        [--threads 1] [--seed 0] [--out docs/results/planted/gradient_snr.json]

Issue 16, item 4: the planted grid shows where a mode leaves the noise op
(op 7, ``attnas_mmseg/ops/noise.py``) among the real ops; this script
measures why. Per mode it trains the supernet of the planted *harmful*
search (``configs/planted/``) through its warm-up with the real Runner, so
each mode's own weight step shaped the weights, then freezes them and takes
``--draws`` arch gradients (the hook's arch pass: CE on arch-half batches,
no cost term). Per block it records

    d = dCE/dalpha[noise] - mean_{j != noise} dCE/dalpha[j]

(positive: a descent step lowers the noise op against the others), its mean
over the draws (zero where a draw did not run the noise op: the per-step
signal the optimiser sees), its standard deviation, and their ratio, the
per-step signal-to-noise ratio ``snr``. A logit that gets mean ``m`` and
noise ``s`` per step drifts ``T m`` while Adam's normalised random walk
spreads ``~sqrt(T) s``, so separating it by two standard deviations takes
``T ~ (2 / snr)^2`` arch steps (``steps_to_separate``). In the sampled
modes the means are also split by what the draw ran: the noise op in the
forward pass (weight > 0), drawn with weight 0 (a gumbel runner-up), or not
drawn, and ``share_cut`` counts the draws in which no gradient reached a
block at all: a sampled path through the noise op at weight 1 carries no
gradient upstream (the noise does not depend on its input). The same for
the noise attention's cells (Att14) in beta.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import tempfile
from typing import Any, Dict, List

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from attnas_mmseg.search.space.search_modes import (  # noqa: E402
    ARCH_STEP_MODES, arch_pass)

CONFIG = ('configs/planted/'
          'attnas-search_planted-harmful_synthetic-cityscapes-64x128.py')
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
NOISE_OP, NOISE_ATTENTION = 7, 14   # the planted config's user candidates


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--data-root',
                        default='work_dirs/planted_signal/data/harmful',
                        help='the harmful task\'s data (benchmarks/'
                        'planted_signal.py --stages data)')
    parser.add_argument('--modes', nargs='+', default=list(ARCH_STEP_MODES),
                        choices=list(ARCH_STEP_MODES))
    parser.add_argument('--warmup-epochs', type=int, default=4,
                        help='weight-only epochs before the weights freeze '
                        '(the planted search\'s warm-up)')
    parser.add_argument('--draws', type=int, default=96,
                        help='arch gradients per mode')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=None, help='write the JSON here')
    return parser.parse_args(argv)


def warmed_up_model(args, mode: str, work_dir: str):
    """The mode's supernet after ``--warmup-epochs`` of its own weight
    steps (the real Runner and hook; no arch step is reached)."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(osp.join(REPO, args.config))
    root = osp.abspath(args.data_root)
    for key in ('train_dataloader', 'arch_dataloader'):
        cfg[key].dataset.dataset.data_root = root
    cfg.model.backbone.search_mode = cfg.model.decode_head.search_mode = mode
    cfg.train_cfg.max_epochs = args.warmup_epochs
    cfg.custom_hooks[0].warmup_epochs = args.warmup_epochs
    # the weight schedule stays the search's (its first epochs), as do the
    # arch schedulers, which begin after the warm-up and so never act
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1,
                                        save_last=False)
    cfg.randomness = dict(seed=args.seed)
    cfg.work_dir = work_dir
    # mmengine keeps one logger and visualizer per experiment name for the
    # process: a fresh name per mode
    cfg.experiment_name = f'planted_gradient_snr_{mode}'
    if mode != 'darts':
        cfg.find_unused_parameters = True
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def _drawn(weights_log: List, block: int, op: int) -> str:
    """What a draw ran of ``op`` in ``block``: 'forward', 'zero' or 'no'."""
    weights, active = weights_log[block]
    if active is not None and op not in active:
        return 'no'
    return 'forward' if float(weights[op]) > 0 else 'zero'


def gradients(runner, draws: int) -> Dict[str, Any]:
    """``draws`` arch gradients of the frozen supernet; the per-block and
    per-layer statistics of the module doc."""
    model = runner.model
    backbone, attention = model.backbone, model.decode_head.attention
    alpha, beta = backbone.alpha, attention.beta
    log: List = []
    hooks = [op.register_forward_pre_hook(
        lambda m, a: log.append((a[1].detach(), a[2])))
        for name in backbone.layers for op in getattr(backbone, name)]
    loader = runner.build_dataloader(runner.cfg.arch_dataloader)
    batches = iter(loader)
    op, att = NOISE_OP - 1, NOISE_ATTENTION - 1
    d_alpha, d_beta, kinds, cut = [], [], [], []
    model.train()
    for _ in range(draws):
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(loader)
            batch = next(batches)
        log.clear()
        data = model.data_preprocessor(batch, True)
        with arch_pass([backbone, attention]):
            losses = model._run_forward(data, mode='loss')
        ce, _ = model.parse_losses(losses)
        # a sampled noise op (or noise attention) at weight 1 cuts every
        # gradient upstream of it: its output does not depend on its input;
        # with one in the last layer nothing reaches alpha at all
        g_alpha, g_beta = (torch.zeros_like(p) if g is None else g
                           for p, g in zip((alpha, beta), torch.autograd.grad(
                               ce, [alpha, beta], allow_unused=True)))
        others = torch.cat([g_alpha[:, :op], g_alpha[:, op + 1:]], 1)
        d_alpha.append(g_alpha[:, op] - others.mean(1))
        others = torch.cat([g_beta[:, :att], g_beta[:, att + 1:]], 1)
        d_beta.append(g_beta[:, att] - others.mean(1))
        kinds.append([_drawn(log, b, op) for b in range(alpha.shape[0])])
        cut.append((g_alpha.abs().sum(1) == 0).double())
    for h in hooks:
        h.remove()
    out = dict(alpha=_stats(torch.stack(d_alpha), kinds),
               beta=_stats(torch.stack(d_beta), None))
    # draws in which no gradient at all reached the block's alpha
    out['alpha']['share_cut'] = torch.stack(cut).mean(0).tolist()
    return out


def _stats(d: torch.Tensor, kinds) -> Dict[str, Any]:
    """Per row of ``d`` (draws, rows): mean, std, snr, steps to separate and,
    with ``kinds``, the mean over the draws of each kind and their share."""
    mean, std = d.mean(0), d.std(0)
    snr = (mean / std.clamp_min(1e-30)).tolist()
    out = dict(mean=mean.tolist(), std=std.tolist(), snr=snr,
               steps_to_separate=[(2 / s) ** 2 if s > 0 else None
                                  for s in snr])
    if kinds is not None:
        for kind in ('forward', 'zero', 'no'):
            means, shares = [], []
            for row in range(d.shape[1]):
                picked = [float(d[i, row]) for i in range(d.shape[0])
                          if kinds[i][row] == kind]
                shares.append(len(picked) / d.shape[0])
                means.append(statistics.fmean(picked) if picked else None)
            out[f'mean_{kind}'], out[f'share_{kind}'] = means, shares
    positive = [s for s in snr if s > 0]
    out['summary'] = dict(
        rows=len(snr), rows_positive=len(positive),
        median_snr=statistics.median(snr),
        median_steps_to_separate=statistics.median(
            (2 / s) ** 2 if s > 0 else float('inf') for s in snr))
    return out


def main(argv=None) -> Dict[str, Any]:
    args = parse_args(argv)
    os.environ.setdefault('OMP_NUM_THREADS', str(args.threads))
    torch.set_num_threads(args.threads)
    if not osp.isdir(args.data_root):
        raise SystemExit(f'--data-root: {args.data_root} does not exist; '
                         'make it with python benchmarks/planted_signal.py '
                         '--stages data')
    results = dict(settings=dict(vars(args), torch=torch.__version__),
                   modes={})
    root = tempfile.TemporaryDirectory()
    for mode in args.modes:
        runner = warmed_up_model(args, mode, osp.join(root.name, mode))
        torch.manual_seed(args.seed + 1)
        results['modes'][mode] = gradients(runner, args.draws)
        a = results['modes'][mode]['alpha']['summary']
        b = results['modes'][mode]['beta']['summary']
        print(f'{mode:10s} alpha: noise op pushed down in '
              f'{a["rows_positive"]}/{a["rows"]} blocks, median snr '
              f'{a["median_snr"]:+.3f}, median steps to separate '
              f'{a["median_steps_to_separate"]:.0f}; beta: '
              f'{b["rows_positive"]}/{b["rows"]} layers, median snr '
              f'{b["median_snr"]:+.3f}', flush=True)
    root.cleanup()
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == '__main__':
    main()
