import math

import pytest
import torch

from attnas_mmseg.search import (ATTENTION_CANDIDATES, ArchSpec,
                                 build_attention, build_flops_table,
                                 count_paper_flops, search_space_size)
from attnas_mmseg.search.cost.flops import count_meta_flops
from attnas_mmseg.search.cost.cost_loss import cost_loss

from ..._builders import build_segmentor

HW = 64 * 128  # the attention map at 1024x2048, output stride 16
C = 320
BN = dict(type='BN')


def table1_flops(att_id):
    return count_meta_flops(
        lambda: build_attention(att_id, C, norm_cfg=BN), (1, C, 64, 128))[0]


def test_table1_closed_form():
    """Hand arithmetic under the thop 0.0.31 rules (docs/design.md)."""
    pool1 = (HW + 1) * C
    assert table1_flops(6) == HW * C * (C + 1)
    assert table1_flops(7) == HW * C * (C * 9 + 1)
    assert table1_flops(1) == pool1 + C * C + 2 * C
    pool3 = ((64 // 3) * (128 // 3) + 1) * 9 * C
    assert table1_flops(3) == pool3 + 9 * C * C + 2 * 9 * C
    assert table1_flops(13) == pool1 + C * (C // 16) * 2
    assert table1_flops(11) == ((64 // 6) * (128 // 6) + 1) * 36 * C
    strip = ((128 + 1) * 64 * C + (64 + 1) * 128 * C      # two strip pools
             + 64 * C * 3 * C + 128 * C * 3 * C           # conv3x1, conv1x3
             + 2 * 64 * C + 2 * 128 * C                   # their BNs
             + HW * C * 9 * C + 2 * HW * C)               # conv3x3 + BN
    assert table1_flops(10) == strip


@pytest.mark.parametrize('cand', ATTENTION_CANDIDATES, ids=lambda c: c.name)
def test_table1_matches_paper(cand):
    """Every row of Table 1, truncated to the paper's printed precision."""
    mflops = table1_flops(cand.id) / 1e6
    if cand.paper_mflops >= 100:   # printed as whole millions
        assert math.floor(mflops) == cand.paper_mflops
    else:                          # printed to 0.1M, truncated
        assert math.floor(mflops * 10) / 10 == pytest.approx(
            cand.paper_mflops)


def test_inverted_residual_closed_form():
    model = build_segmentor()
    op = model.backbone.make_op(3, 6)   # block 4: 24->32, stride 2, k5 e6
    cin, cout, hidden = 24, 32, 144
    x = torch.zeros(1, cin, 32, 64)
    out_hw = 16 * 32
    expected = (32 * 64 * hidden * cin + 2 * 32 * 64 * hidden
                + out_hw * hidden * 25 + 2 * out_hw * hidden
                + out_hw * cout * hidden + 2 * out_hw * cout)
    assert count_paper_flops(op, x) == expected


def test_search_space_size_matches_paper():
    assert search_space_size(2) == 6**17 * math.comb(26, 4)
    assert f'{search_space_size(2):.2e}' == '2.53e+17'


@pytest.mark.parametrize('spec', [
    ArchSpec.parse('AttSet1(12,13)+AttSet2(3,7)',
                   'mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1)'),
    ArchSpec.parse('AttSet2(10)', 'mv2(1,2,3,4,5,6,1,2,3,4,5,6,1,2,3,4,5)'),
])
def test_flops_pred_of_one_hot_equals_fixed_network(spec):
    size = (128, 256)
    search = build_segmentor()
    table = build_flops_table(search, size)
    alpha = torch.full((17, 6), -1e4)
    for i, op in enumerate(spec.backbone):
        alpha[i, op - 1] = 0
    beta = torch.full((2, 13), -1e4)
    for layer, ids in enumerate(spec.attention):
        for a in ids:
            beta[layer, a - 1] = 0
    fixed = build_segmentor(backbone_arch=spec.backbone,
                            head_arch=spec.attention)
    counted = count_paper_flops(
        torch.nn.Sequential(fixed.backbone, fixed.decode_head),
        torch.zeros(1, 3, *size))
    # one attention per one-hot weight: Eq. (2) weights sum to one overall,
    # so scale by the number of selected attentions for the comparison
    n = sum(len(ids) for ids in spec.attention)
    table.attention_scale = n
    pred = float(table.predict(alpha, beta))
    assert pred == pytest.approx(counted, rel=0.01)
    assert table.network_cost(spec) == pytest.approx(counted, rel=1e-6)


def test_flops_pred_is_differentiable_and_weighted():
    model = build_segmentor()
    table = build_flops_table(model, (128, 256))
    alpha = torch.zeros(17, 6, requires_grad=True)
    beta = torch.zeros(2, 13, requires_grad=True)
    pred = table.predict(alpha, beta)
    expected = table.fixed + table.backbone.mean(-1).sum() + \
        table.attention.mean()
    assert float(pred) == pytest.approx(float(expected), rel=1e-5)
    pred.backward()
    assert alpha.grad.abs().sum() > 0 and beta.grad.abs().sum() > 0


def test_cost_loss_modes_and_errors():
    pred = torch.tensor(20.0)
    assert float(cost_loss(pred, 40.0, 'eq4_signed')) == pytest.approx(-0.5)
    assert float(cost_loss(pred, 40.0)) == pytest.approx(0.5)   # abs default
    assert float(cost_loss(pred, 40.0, 'abs')) == pytest.approx(0.5)
    assert float(cost_loss(pred, 40.0, 'hinge')) == 0
    assert float(cost_loss(torch.tensor(50.), 40.0, 'hinge')) == \
        pytest.approx(0.25)
    with pytest.raises(ValueError, match='target'):
        cost_loss(pred, 0)
    with pytest.raises(ValueError, match='target'):
        cost_loss(pred, float('inf'))
    with pytest.raises(ValueError, match='mode'):
        cost_loss(pred, 1.0, 'square')
