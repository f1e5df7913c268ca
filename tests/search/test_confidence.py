"""Margins and the within-noise rule (search/confidence.py)."""
import math

import pytest
import torch

from attnas_mmseg.search.confidence import (
    attention_confidence, backbone_confidence, confidence_record,
    confidence_table, gap_quantile, noise_sigma, noise_sigma_from_checkpoint,
    noise_variance_step, weight_decay_pull)


def alpha_with_probs(rows):
    """Logits whose softmax is exactly ``rows``."""
    return torch.tensor(rows, dtype=torch.float64).log()


def test_backbone_margin_is_top_two_gap():
    rows = [[0.5, 0.2, 0.1, 0.1, 0.05, 0.05],
            [0.1, 0.1, 0.1, 0.1, 0.3, 0.3]]
    out = backbone_confidence(alpha_with_probs(rows))
    assert out[0].block == 1 and out[0].op == 1
    assert out[0].p1 == pytest.approx(0.5) and out[0].p2 == pytest.approx(0.2)
    assert out[0].margin == pytest.approx(0.3)
    assert out[0].gap == pytest.approx(math.log(0.5 / 0.2))
    assert out[1].margin == pytest.approx(0.0, abs=1e-12)
    assert out[1].op in (5, 6)
    assert out[0].uncertain is None   # no sigma: not judged


def test_attention_margin_kth_vs_next_of_unified_softmax():
    beta = torch.zeros(2, 13)
    beta[0, 11], beta[0, 12] = 5.0, 4.0
    beta[1, 2], beta[1, 6] = 4.5, 3.0
    beta[1, 0] = 2.0
    att = attention_confidence(beta, 4)
    w = beta.flatten().softmax(0)
    assert att.last == (2, 7) and att.first_out == (2, 1)
    assert att.w_k == pytest.approx(float(w[13 + 6]))
    assert att.w_next == pytest.approx(float(w[13]))
    assert att.margin == pytest.approx(float(w[13 + 6] - w[13]))
    assert att.gap == pytest.approx(1.0)
    with pytest.raises(ValueError, match='topk'):
        attention_confidence(beta, 26)


def test_gap_quantile_matches_closed_form_for_two_normals():
    # z1 - z2 of two normals: |N(0, 2)|; its 95th percentile is
    # sqrt(2) * 1.95996
    assert gap_quantile(2, 1) == pytest.approx(math.sqrt(2) * 1.95996,
                                               abs=0.02)
    assert gap_quantile(6, 1) > gap_quantile(26, 4) > 0
    with pytest.raises(ValueError, match='rank'):
        gap_quantile(6, 6)


def test_noise_sigma_and_checkpoint():
    assert noise_sigma(46, 0.03, init_std=0.0) == pytest.approx(
        0.03 * math.sqrt(46))
    assert noise_sigma(0, 0.03) == pytest.approx(1e-3)
    ckpt = dict(arch_update_hook=dict(arch_steps=100),
                optimizer=dict(arch=dict(param_groups=[dict(lr=0.01)])))
    assert noise_sigma_from_checkpoint(ckpt) == pytest.approx(
        math.sqrt(1e-6 + 1e-4 * 100))
    assert noise_sigma_from_checkpoint(dict(state_dict={})) is None
    with pytest.raises(ValueError, match='arch_steps'):
        noise_sigma(-1, 0.1)


def adam_walk(steps, lr, drift, blocks=4000, seed=0):
    """alpha after ``steps`` Adam steps (the search's settings) on gradients
    N(0, 1) plus ``drift`` towards op 1."""
    gen = torch.Generator().manual_seed(seed)
    alpha = torch.nn.Parameter(1e-3 * torch.randn(blocks, 6, generator=gen))
    opt = torch.optim.Adam([alpha], lr=lr, betas=(0.5, 0.999),
                           weight_decay=1e-3)
    push = torch.zeros(6)
    push[0] = -drift
    for _ in range(steps):
        alpha.grad = torch.randn(blocks, 6, generator=gen) + push
        opt.step()
    return alpha.detach()


def decayed_walk(steps, lr, wd, scale, opt_type=torch.optim.Adam,
                 blocks=2000, seed=0):
    """Adam (coupled L2) or AdamW on pure noise N(0, scale**2), tracking the
    null's variance step by step as the hook does: (alpha, predicted var)."""
    gen = torch.Generator().manual_seed(seed)
    alpha = torch.nn.Parameter(1e-3 * torch.randn(blocks, 6, generator=gen))
    opt = opt_type([alpha], lr=lr, betas=(0.5, 0.999), weight_decay=wd)
    var = 1e-6
    for _ in range(steps):
        alpha.grad = scale * torch.randn(blocks, 6, generator=gen)
        opt.step()
        var = noise_variance_step(var, lr, weight_decay_pull(opt, alpha))
    return alpha.detach(), var


@pytest.mark.parametrize('opt_type,scale', [
    (torch.optim.Adam, 7e-3),   # the CamVid search's gradient RMS
    (torch.optim.Adam, 1.0),    # L2 negligible against the gradient
    (torch.optim.AdamW, 7e-3),  # decoupled: lr * wd whatever the scale
])
def test_weight_decay_null_matches_the_simulated_spread(opt_type, scale):
    steps, lr, wd = 1500, 3e-2, 1e-3
    alpha, var = decayed_walk(steps, lr, wd, scale, opt_type)
    spread = float(alpha.std())
    assert spread == pytest.approx(math.sqrt(var), rel=0.1)
    walk = noise_sigma(steps, lr)
    if opt_type is torch.optim.Adam and scale < 1:
        # the decayed walk saturates: the plain null overstates it 3x
        assert spread < 0.5 * walk
    elif scale == 1.0:
        assert spread == pytest.approx(walk, rel=0.1)


def test_variance_step_without_decay_is_the_plain_walk():
    var = 1e-6
    for lr in (0.03, 0.02, 0.01):
        var = noise_variance_step(var, lr, 0.0)
    assert math.sqrt(var) == pytest.approx(
        noise_sigma(3, math.sqrt((0.03**2 + 0.02**2 + 0.01**2) / 3)))
    with pytest.raises(ValueError, match='decay'):
        noise_variance_step(1.0, 0.1, 1.0)
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    assert weight_decay_pull(opt, opt.param_groups[0]['params'][0]) == 0


def test_noise_rule_flags_pure_noise_and_clears_a_real_preference():
    steps, lr = 100, 0.03
    sigma = noise_sigma(steps, lr)
    noise = backbone_confidence(adam_walk(steps, lr, 0.0), sigma)
    flagged = sum(b.uncertain for b in noise) / len(noise)
    # a 5% test: about 95% of pure-noise choices are within noise
    assert 0.92 < flagged < 0.98
    signal = backbone_confidence(adam_walk(steps, lr, 1.0, blocks=200), sigma)
    assert all(b.op == 1 and not b.uncertain for b in signal)


def test_table_names_the_uncertain_blocks():
    alpha = torch.zeros(17, 6)
    alpha[:, 2] = 2.0
    alpha[4, 3] = 1.99   # block 5: a near tie
    beta = torch.zeros(2, 13)
    beta[0, :4] = 3.0
    text, names = confidence_table(alpha, beta, 4, sigma=0.1)
    assert names == ['block 5']
    assert 'within noise' in text and 'block 5' in text
    # the 16 other blocks and the attention's clear top-4
    assert len([ln for ln in text.splitlines() if ln.endswith('clear')]) \
        == 17
    # a tie at the top-k boundary is named too
    beta[0, 4] = 3.0
    _, names = confidence_table(alpha, beta, 4, sigma=0.1)
    assert names == ['block 5', 'attention top-4']
    # no sigma: nothing judged, nothing named
    text, names = confidence_table(alpha, beta, 4)
    assert names == [] and 'not flagged' in text


def test_record_is_json_ready():
    import json
    alpha, beta = torch.randn(17, 6), torch.randn(2, 13)
    rec = confidence_record(alpha, beta, 4, sigma=0.5)
    assert len(rec['alpha_margin']) == 17
    assert all(m >= 0 for m in rec['alpha_margin'])
    assert rec['beta_margin'] >= 0
    json.dumps(rec)
    assert confidence_record(None, beta, 4)['alpha_margin'] is None
