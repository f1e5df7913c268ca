"""The top-k cut a target cannot settle (issue 20, item 2).

When the target lies between the derived network and the one with the k-th
and (k+1)-th attentions swapped, |Eq. 4| on the derived pricing flips the two
back and forth; with an arch lr decaying to 0 their logits lock into a tie.
``CostTable.predict(..., target=)`` withholds the cost gradient from those two
logits while the target straddles the cut.
"""
import math
import statistics

import pytest
import torch

from attnas_mmseg.search.cost.cost_loss import cost_loss
from attnas_mmseg.search.cost.cost_table import CostTable

# Att10 expensive, Att13 nearly free, the rest in between (G)
COSTS = (0.30, 0.32, 0.36, 0.42, 0.48, 1.10, 1.15, 1.20, 1.25, 2.50, 0.60,
         0.65, 0.001)
FIXED = 10.0
K = 4


def _table():
    return CostTable(input_size=(720, 960), fixed=FIXED,
                     attention=torch.tensor(COSTS), num_layers=2)


def _beta(expensive_ahead: bool = True) -> torch.Tensor:
    beta = torch.full((2, 13), -0.5)
    beta[0, :3] = 0.5
    beta[0, 9], beta[0, 12] = (0.01, 0.0) if expensive_ahead else (0.0, 0.01)
    return beta


def _cut_grads(target):
    beta = _beta().requires_grad_()
    pred = _table().predict(None, beta, 'derived', K, target=target)
    cost_loss(pred, target, 'abs').backward()
    return beta.grad


def test_derived_value_does_not_depend_on_the_guard():
    beta = _beta()
    top = FIXED + sum(COSTS[:3]) + COSTS[9]
    for target in (None, top - 1.0, 100.0):
        assert float(_table().predict(None, beta, 'derived', K,
                                      target=target)) == pytest.approx(top)


def test_straddled_cut_gets_no_cost_gradient():
    derived = FIXED + sum(COSTS[:3]) + COSTS[9]
    swapped = derived - COSTS[9] + COSTS[12]
    grad = _cut_grads(target=(derived + swapped) / 2)
    assert grad[0, 9] == 0 and grad[0, 12] == 0
    # the other cells are still priced
    assert grad[0, 5].abs() > 0 and grad[1, 0].abs() > 0


def test_cut_outside_the_target_is_pushed():
    derived = FIXED + sum(COSTS[:3]) + COSTS[9]
    # the target below both networks: swapping toward the cheap one helps
    grad = _cut_grads(target=derived - 5.0)
    assert grad[0, 9] > 0 > grad[0, 12]   # descent lowers Att10, raises Att13


def _final_gap(seed: int, guard: bool, steps: int = 1200) -> float:
    """A search's arch step with a pure-noise task gradient (module doc)."""
    table = _table()
    gen = torch.Generator().manual_seed(seed)
    beta = torch.nn.Parameter(_beta() + 1e-3 * torch.randn(
        2, 13, generator=gen))
    target = FIXED + sum(COSTS[:3]) + 1.25
    opt = torch.optim.Adam([beta], lr=3e-2, betas=(0.5, 0.999),
                           weight_decay=1e-5)
    for step in range(steps):
        for group in opt.param_groups:
            group['lr'] = 1.5e-2 * (1 + math.cos(math.pi * step / steps))
        pred = table.predict(None, beta, 'derived', K,
                             target=target if guard else None)
        opt.zero_grad()
        (0.1 * cost_loss(pred, target, 'abs')).backward()
        beta.grad += 0.005 * torch.randn(beta.shape, generator=gen)
        opt.step()
    top = beta.detach().flatten().sort(descending=True).values
    return float(top[K - 1] - top[K])


def test_the_tie_forms_without_the_guard_and_not_with_it():
    without = [_final_gap(s, guard=False) for s in range(4)]
    with_guard = [_final_gap(s, guard=True) for s in range(4)]
    assert statistics.median(without) < 1e-3
    assert min(with_guard) > 1e-3

