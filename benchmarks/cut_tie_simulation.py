"""Does the top-k cut lock into a tie when the target lies across it?

    python benchmarks/cut_tie_simulation.py [--seeds 20] [--steps 3680]
        [--out docs/results/search/cut_tie_simulation.json]

Issue 20: in both proxyless CamVid searches Att10 (~2.5G at 720x960) and
Att13 (~0.001G) ended as the 4th and 5th attentions with logits equal to
1e-7, the derived FLOPs alternating around the target. This simulation
isolates the arch step: beta (2 x 13) under Adam with the searches' settings
(lr 3e-2 decaying to 0 by a cosine, betas (0.5, 0.999), weight decay 1e-5),
a task gradient that is pure noise, and the cost term of Eq. (3)-(4)
(``flops_weight`` 0.1, |Eq. 4|, the derived pricing) with the target between
the network holding the expensive cell at the cut and the one holding the
cheap cell. It prints the final logit gap at the cut per seed, with the
cost table's cut guard (``CostTable.predict(target=...)``) and without it
(the same run with the target withheld from the pricing). CPU, seconds.
"""
import argparse
import json
import math
import os.path as osp
import statistics
import sys
from typing import Dict, List

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from attnas_mmseg.search.cost.cost_loss import cost_loss  # noqa: E402
from attnas_mmseg.search.cost.cost_table import CostTable  # noqa: E402
from attnas_mmseg.search.cost.flops import FLOPS_PER_G  # noqa: E402

#: Attention costs (G at 720x960) shaped like Table 1's: two expensive
#: atrous/strip cells, a few pools, Att13 (SE) nearly free.
ATTENTION_G = (0.30, 0.32, 0.36, 0.42, 0.48, 1.10, 1.15, 1.20, 1.25, 2.50,
               0.60, 0.65, 0.001)
FIXED_G = 10.0
TOPK = 4


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seeds', type=int, default=20)
    parser.add_argument('--steps', type=int, default=3680)
    parser.add_argument('--noise', type=float, default=0.005,
                        help='std of the pure-noise task gradient per logit')
    parser.add_argument('--out', default=None)
    return parser.parse_args(argv)


def start_beta(seed: int) -> torch.Tensor:
    """Three cells clearly in the top-k, Att10 and Att13 of layer 1 at the
    cut (Att10 ahead by 0.01), the rest clearly out."""
    gen = torch.Generator().manual_seed(seed)
    beta = -0.5 + 1e-3 * torch.randn(2, 13, generator=gen)
    beta[0, :3] = 0.5
    beta[0, 9] = 0.01    # Att10, expensive
    beta[0, 12] = 0.0    # Att13, cheap
    return beta


def cut_gap(beta: torch.Tensor) -> float:
    top = beta.flatten().sort(descending=True).values
    return float(top[TOPK - 1] - top[TOPK])


def simulate(seed: int, steps: int, noise: float, guard: bool) -> float:
    table = CostTable(input_size=(720, 960), fixed=FIXED_G * FLOPS_PER_G,
                      attention=torch.tensor(ATTENTION_G) * FLOPS_PER_G,
                      num_layers=2)
    beta = torch.nn.Parameter(start_beta(seed))
    # between the derived network with Att10 (FIXED + 3 pools + 2.5G) and
    # the one with Att13 (+0.001G)
    top3 = sum(ATTENTION_G[:3])
    target = (FIXED_G + top3 + 1.25) * FLOPS_PER_G
    opt = torch.optim.Adam([beta], lr=3e-2, betas=(0.5, 0.999),
                           weight_decay=1e-5)
    gen = torch.Generator().manual_seed(1000 + seed)
    for step in range(steps):
        lr = 3e-2 * 0.5 * (1 + math.cos(math.pi * step / steps))
        for group in opt.param_groups:
            group['lr'] = lr
        pred = table.predict(None, beta, 'derived', TOPK,
                             target=target if guard else None)
        loss = 0.1 * cost_loss(pred, target, 'abs')
        opt.zero_grad()
        loss.backward()
        beta.grad += noise * torch.randn(beta.shape, generator=gen)
        opt.step()
    return cut_gap(beta.detach())


def main(argv=None) -> Dict[str, List[float]]:
    args = parse_args(argv)
    torch.set_num_threads(1)
    gaps = {name: [simulate(s, args.steps, args.noise, guard)
                   for s in range(args.seeds)]
            for name, guard in (('without_guard', False),
                                ('with_guard', True))}
    for name, values in gaps.items():
        print(f'{name:>14}: final cut gap median {statistics.median(values):.2e}'
              f', min {min(values):.2e}, max {max(values):.2e}; '
              f'{sum(v < 1e-3 for v in values)}/{len(values)} below 1e-3')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(settings=vars(args), gaps=gaps), f, indent=1)
    return gaps


if __name__ == '__main__':
    main()
