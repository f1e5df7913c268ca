"""The cost table's two pricings: the paper's expectation and the derived network."""
import pytest
import torch

from attnas_mmseg.search import ArchSpec, CostTable, derive_arch


def table():
    torch.manual_seed(0)
    return CostTable(input_size=(8, 8), fixed=100.0,
                     backbone=torch.rand(17, 6) * 10,
                     attention=torch.rand(13) * 5, num_layers=2)


def test_expected_pricing_is_the_softmax_average():
    t = table()
    alpha, beta = torch.zeros(17, 6), torch.zeros(2, 13)
    expected = 100 + t.backbone.mean(-1).sum() + t.attention.mean()
    assert float(t.predict(alpha, beta)) == pytest.approx(float(expected))


@pytest.mark.parametrize('topk', [1, 4, 7])
def test_derived_pricing_equals_the_derived_network(topk):
    t = table()
    alpha = torch.randn(17, 6, requires_grad=True)
    beta = torch.randn(2, 13, requires_grad=True)
    pred = t.predict(alpha, beta, 'derived', topk)
    spec = derive_arch(alpha, beta, topk)
    assert float(pred) == pytest.approx(t.network_cost(spec), rel=1e-6)
    pred.backward()
    assert alpha.grad.abs().sum() > 0 and beta.grad.abs().sum() > 0


def test_derived_gradient_prices_k_attentions():
    t = table()
    alpha = torch.zeros(17, 6)
    beta = torch.zeros(2, 13, requires_grad=True)
    t.predict(alpha, beta, 'derived', 4).backward()
    grad_k = beta.grad.clone()
    beta.grad = None
    t.predict(alpha, beta, 'expected').backward()
    assert torch.allclose(grad_k, 4 * beta.grad)


def test_network_cost_is_the_sum_rule():
    t = table()
    spec = ArchSpec.parse('AttSet1(12,13)+AttSet2(3,7)',
                          backbone='mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1)')
    by_hand = 100 + sum(float(t.backbone[i, op - 1])
                        for i, op in enumerate(spec.backbone)) + \
        float(t.attention[[11, 12, 2, 6]].sum())
    assert t.network_cost(spec) == pytest.approx(by_hand)


def test_pricing_errors_name_the_field():
    t = table()
    with pytest.raises(ValueError, match='pricing'):
        t.predict(torch.zeros(17, 6), torch.zeros(2, 13), 'median')
    with pytest.raises(ValueError, match='topk'):
        t.predict(torch.zeros(17, 6), torch.zeros(2, 13), 'derived', 27)
    with pytest.raises(ValueError, match='alpha'):
        t.predict(None, torch.zeros(2, 13))


def _optimise(t, target, mode, pricing, steps=300, start=None):
    """Adam on ``cost_loss`` alone from near-uniform logits (plus ``start``,
    an (alpha, beta) offset); the cost of the network derived at the end."""
    from attnas_mmseg.search import cost_loss
    torch.manual_seed(0)
    alpha = 1e-3 * torch.randn(17, 6)
    beta = 1e-3 * torch.randn(2, 13)
    if start is not None:
        alpha, beta = alpha + start[0], beta + start[1]
    alpha.requires_grad_()
    beta.requires_grad_()
    opt = torch.optim.Adam([alpha, beta], lr=3e-2, betas=(0.5, 0.999))
    for _ in range(steps):
        loss = cost_loss(t.predict(alpha, beta, pricing, 4), target, mode)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return t.network_cost(derive_arch(alpha, beta, 4))


def _corner(t, end):
    """Logits (a margin of 1) that derive the cheapest or the costliest
    network: per block the op of extreme cost, and the 4 attentions of
    extreme cost (in layer 1)."""
    pick = torch.argmin if end == 'cheapest' else torch.argmax
    alpha = torch.zeros(17, 6)
    alpha[range(17), pick(t.backbone, -1)] = 1.0
    beta = torch.zeros(2, 13)
    beta[0, t.attention.argsort(descending=end == 'costliest')[:4]] = 1.0
    return alpha, beta


@pytest.mark.parametrize('end', ['cheapest', 'costliest'])
@pytest.mark.parametrize('fraction', [0.3, 0.5, 0.7])
def test_abs_on_the_derived_network_lands_on_the_target(fraction, end):
    t = table()
    low = t.fixed + float(t.backbone.min(-1).values.sum()) + \
        float(t.attention.sort().values[:4].sum())
    high = t.fixed + float(t.backbone.max(-1).values.sum()) + \
        float(t.attention.sort().values[-4:].sum())
    target = low + fraction * (high - low)
    start = _corner(t, end)
    # the search starts at one end of the range, outside the window
    before = _optimise(t, target, 'abs', 'derived', steps=0, start=start)
    assert before == pytest.approx(low if end == 'cheapest' else high)
    assert before != pytest.approx(target, rel=0.10)
    derived = _optimise(t, target, 'abs', 'derived', start=start)
    assert derived == pytest.approx(target, rel=0.10)


def test_eq4_as_printed_does_not_stop_at_the_target():
    t = table()
    high = t.fixed + float(t.backbone.max(-1).values.sum()) + \
        float(t.attention.sort().values[-4:].sum())
    target = 0.8 * high
    derived = _optimise(t, target, 'eq4_signed', 'expected')
    assert derived < 0.9 * target
