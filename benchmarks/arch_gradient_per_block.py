"""Does every block and the head get a task-loss gradient in every search mode?

    python benchmarks/arch_gradient_per_block.py [--modes darts gumbel proxyless]
        [--draws 16] [--threads 1] [--out docs/results/search/arch_gradient_per_block.json]

One arch pass per draw on one fixed, learnable batch (each pixel's class is
the image quadrant's colour, plus noise), with the same supernet weights in
every mode (same seed), BN on batch statistics as in training. Per block it
prints max_j |dCE/dalpha_ij| averaged over the draws, and |dCE/dbeta| (max
entry), per mode. A straight-through estimator that rates one op's output
scale is erased by the BN at the start of the next stage (blocks 0, 2, 5, 9,
12, 15 counted from 0 end a stage): those blocks then show a gradient orders of magnitude
below the others (issue 20; ``docs/design.md``, "Search modes").
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List

import torch
import torch.nn.functional as F
from mmengine.config import Config

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from attnas_mmseg.datasets.planted import quadrant_batch  # noqa: E402
from attnas_mmseg.models import build_segmentor  # noqa: E402
from attnas_mmseg.search.space.search_modes import (  # noqa: E402
    ARCH_STEP_MODES, arch_pass)

CONFIG = 'configs/demo/attnas-search_demo_synthetic-cityscapes-64x128.py'
#: The last block of each MobileNetV2 stage that feeds another stage
#: (0-based; blocks 1, 3, 6, 10, 13, 16 counted from 1, as issue 20 does).
STAGE_ENDS = (0, 2, 5, 9, 12, 15)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--modes', nargs='+', default=list(ARCH_STEP_MODES),
                        choices=list(ARCH_STEP_MODES))
    parser.add_argument('--draws', type=int, default=16,
                        help='arch passes averaged per mode (sampled modes '
                        'draw other paths each time)')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--size', type=int, nargs=2, default=(64, 128))
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=None, help='write the JSON here')
    return parser.parse_args(argv)


def mode_gradients(config: str, mode: str, images, labels, draws: int,
                   seed: int) -> Dict[str, List[float]]:
    """Mean over draws of per-block max |dCE/dalpha| and of max |dCE/dbeta|."""
    cfg = Config.fromfile(config)
    cfg.model.backbone.search_mode = cfg.model.decode_head.search_mode = mode
    torch.manual_seed(seed)  # the same supernet weights in every mode
    model = build_segmentor(cfg).train()
    alpha, beta = model.backbone.alpha, model.decode_head.attention.beta
    block = torch.zeros(alpha.shape[0])
    head = 0.0
    torch.manual_seed(seed + 1)
    for _ in range(draws):
        with arch_pass([model.backbone, model.decode_head.attention]):
            logits = model.decode_head(model.backbone(images))
        logits = F.interpolate(logits, size=labels.shape[1:],
                               mode='bilinear', align_corners=False)
        ce = F.cross_entropy(logits, labels)
        g_alpha, g_beta = torch.autograd.grad(ce, [alpha, beta])
        block += g_alpha.abs().amax(-1)
        head += float(g_beta.abs().max())
    return dict(alpha_block_max=(block / draws).tolist(),
                beta_max=head / draws)


def summary(result: Dict[str, List[float]]) -> Dict[str, float]:
    blocks = result['alpha_block_max']
    ends = [blocks[i] for i in STAGE_ENDS]
    rest = [g for i, g in enumerate(blocks) if i not in STAGE_ENDS]
    return dict(stage_end_min=min(ends), other_median=sorted(rest)[
        len(rest) // 2], ratio=sorted(rest)[len(rest) // 2] / max(
            min(ends), 1e-30))


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    model_probe = build_segmentor(args.config, device='meta')
    images, labels = quadrant_batch(args.batch, args.size,
                                    model_probe.decode_head.num_classes,
                                    args.seed)
    results = {}
    for mode in args.modes:
        results[mode] = mode_gradients(args.config, mode, images, labels,
                                       args.draws, args.seed)
        results[mode]['summary'] = summary(results[mode])
    print(f'max_j |dCE/dalpha_ij| per block, mean over {args.draws} draws '
          f'({args.threads} thread(s), batch {args.batch}, '
          f'{args.size[0]}x{args.size[1]}); * ends a stage')
    print('block ' + ''.join(f'{m:>12}' for m in args.modes))
    for i in range(len(results[args.modes[0]]['alpha_block_max'])):
        mark = '*' if i in STAGE_ENDS else ' '
        print(f'{i:>4}{mark} ' + ''.join(
            f'{results[m]["alpha_block_max"][i]:>12.3e}' for m in args.modes))
    print('beta  ' + ''.join(f'{results[m]["beta_max"]:>12.3e}'
                             for m in args.modes))
    print('other-block median / weakest stage end: ' + ', '.join(
        f'{m} {results[m]["summary"]["ratio"]:.3g}x' for m in args.modes))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(settings=vars(args), results=results), f,
                      indent=1)
    return results


if __name__ == '__main__':
    main()
