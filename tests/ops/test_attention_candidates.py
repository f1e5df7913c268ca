"""Every attention candidate of Table 1 (Att1-Att13) on its own.

Parametrised over :data:`ATTENTION_CANDIDATES`, the one list of candidates:
a candidate added there is tested here without editing this file.
"""
import pytest
import torch

from attnas_mmseg.search.cost.flops import count_paper_flops
from attnas_mmseg.search.space.candidates import (ATTENTION_CANDIDATES,
                                                  PooledSelfAttention,
                                                  build_attention)

from ._supernet import HEAD_LAYER_CFG, IMAGE, supernet

#: Channels of the attention layers in the supernet: the backbone's last
#: stage (MobileNetV2: 320), which the head keeps (no projection).
WIDTH = 320
OUTPUT_STRIDE = 16

# Att11/Att12 also with the learned projections (``sa_projection=True``):
# those are parameters the search can build, so they must train too.
CASES = [(cand.id, False) for cand in ATTENTION_CANDIDATES] + [
    (cand.id, True) for cand in ATTENTION_CANDIDATES
    if cand.module is PooledSelfAttention]


def case_id(case) -> str:
    att_id, projection = case
    return f'Att{att_id}' + ('-projection' if projection else '')


@pytest.mark.parametrize('case', CASES, ids=case_id)
def test_forward_backward(case):
    """(B, C, H, W) -> (B, C, H, W), finite, and the loss depends on every
    parameter and on the input."""
    att_id, projection = case
    torch.manual_seed(0)
    module = build_attention(att_id, 32, sa_projection=projection,
                             **HEAD_LAYER_CFG).train()
    # A zero-initialised residual scale (Att11/12's gamma) hides everything
    # behind it from the gradient; give it a value so that a zero gradient
    # below means "not connected", not "multiplied by zero".
    with torch.no_grad():
        for param in module.parameters():
            if not param.any():
                param.fill_(0.5)
    # batch 4: train-mode BN on Att1's 1x1 map needs more than one value, and
    # with two its output would not depend on its input at all
    x = torch.randn(4, 32, 12, 20, requires_grad=True)
    out = module(x)
    assert out.shape == (4, 32, 12, 20)
    assert torch.isfinite(out).all()
    # a random projection: a plain sum of a BN output is constant
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0
    params = dict(module.named_parameters())
    assert params, 'every candidate has learnable parameters'
    for name, param in params.items():
        assert param.grad is not None, f'{name}: no gradient'
        assert torch.isfinite(param.grad).all(), f'{name}: non-finite'
        assert param.grad.abs().sum() > 0, f'{name}: zero gradient'


@pytest.mark.parametrize('cand', ATTENTION_CANDIDATES,
                         ids=lambda c: c.short_name)
def test_flops_equal_cost_table(cand):
    """The supernet's table entry for Att j is Att j counted on its own on
    the head's feature map."""
    _, table = supernet()
    assert table.attention.shape == (len(ATTENTION_CANDIDATES), )
    h, w = IMAGE
    feature = (1, WIDTH, h // OUTPUT_STRIDE, w // OUTPUT_STRIDE)
    with torch.device('meta'):
        module = build_attention(cand.id, WIDTH, **HEAD_LAYER_CFG)
    standalone = count_paper_flops(module, torch.empty(feature,
                                                       device='meta'))
    assert standalone > 0
    # the table stores counts as float32: compare after the same rounding
    expected = torch.tensor(float(standalone), dtype=table.attention.dtype)
    assert table.attention[cand.id - 1] == expected

