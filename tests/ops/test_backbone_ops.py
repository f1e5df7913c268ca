"""Every backbone op (6 per block, §3.2) of every one of the 17 blocks.

The ops are read from :func:`backbone_ops` (the one table of (kernel,
expansion) pairs) and built by ``SearchableMobileNetV2.make_op``; block
widths, strides and map sizes are MobileNetV2's, written out below
independently of the backbone's own ``block_settings``.
"""
import itertools
from typing import List, Tuple

import pytest
import torch

from attnas_mmseg.search.cost.flops import count_paper_flops
from attnas_mmseg.search.space.candidates import (NUM_BLOCKS, NUM_OPS,
                                                  backbone_ops)

from ._supernet import DILATIONS, IMAGE, STRIDES, supernet

#: MobileNetV2 (Sandler et al. 2018, Table 2): output channels and number of
#: blocks of each stage, after a 32-channel stride-2 stem.
STEM_CHANNELS = 32
STAGES = ((16, 1), (24, 2), (32, 3), (64, 4), (96, 3), (160, 3), (320, 1))

Block = Tuple[int, int, int, int, int, int]


def blocks(image: Tuple[int, int]) -> List[Block]:
    """(in, out channels, stride, dilation, H, W of the input) per block."""
    h, w = -(-image[0] // 2), -(-image[1] // 2)        # the stride-2 stem
    cin, out = STEM_CHANNELS, []
    for (channels, num), stride, dilation in zip(STAGES, STRIDES, DILATIONS):
        for b in range(num):
            s, d = (stride, dilation) if b == 0 else (1, 1)
            out.append((cin, channels, s, d, h, w))
            cin, h, w = channels, -(-h // s), -(-w // s)
    return out


def inverted_residual_flops(block: Block, kernel: int, expansion: int) -> int:
    """Paper-convention FLOPs (thop rules, flops.py) of expand 1x1-BN
    (omitted at expansion 1), depthwise kxk-BN, project 1x1-BN; the convs
    have no bias (a BN follows each)."""
    cin, cout, stride, _, h, w = block
    hidden = cin * expansion
    out_hw = -(-h // stride) * -(-w // stride)
    flops = 0
    if expansion != 1:
        flops += h * w * hidden * cin + 2 * h * w * hidden
    flops += out_hw * hidden * kernel * kernel + 2 * out_hw * hidden
    flops += out_hw * cout * hidden + 2 * out_hw * cout
    return flops


CASES = list(itertools.product(range(NUM_BLOCKS), range(1, NUM_OPS + 1)))


def case_id(case) -> str:
    block, op = case
    kernel, expansion = backbone_ops()[op - 1]
    return f'block{block + 1}-op{op}-k{kernel}e{expansion}'


def test_blocks_cover_the_backbone():
    assert len(blocks(IMAGE)) == NUM_BLOCKS
    # output stride 16: the last block's map is the image / 16
    *_, h, w = blocks(IMAGE)[-1]
    assert (h, w) == (IMAGE[0] // 16, IMAGE[1] // 16)


@pytest.mark.parametrize('case', CASES, ids=case_id)
def test_forward_backward(case):
    """(B, in, H, W) -> (B, out, H / stride, W / stride), finite, and the
    loss depends on every parameter and on the input."""
    block, op = case
    cin, cout, stride, *_ = blocks(IMAGE)[block]
    model, _ = supernet()
    torch.manual_seed(0)
    module = model.backbone.make_op(block, op).train()
    x = torch.randn(2, cin, 6, 10, requires_grad=True)
    out = module(x)
    assert out.shape == (2, cout, -(-6 // stride), -(-10 // stride))
    assert torch.isfinite(out).all()
    # a random projection: a plain sum of a BN output is constant
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0
    for name, param in module.named_parameters():
        assert param.grad is not None, f'{name}: no gradient'
        assert torch.isfinite(param.grad).all(), f'{name}: non-finite'
        assert param.grad.abs().sum() > 0, f'{name}: zero gradient'


@pytest.mark.parametrize('case', CASES, ids=case_id)
def test_flops_equal_cost_table(case):
    """Table entry (block i, op j) = op j of block i counted on its own at
    the block's input size = the closed form."""
    block, op = case
    model, table = supernet()
    assert table.backbone.shape == (NUM_BLOCKS, NUM_OPS)
    kernel, expansion = backbone_ops()[op - 1]
    expected = inverted_residual_flops(blocks(IMAGE)[block], kernel,
                                       expansion)
    cin, _, _, _, h, w = blocks(IMAGE)[block]
    with torch.device('meta'):
        module = model.backbone.make_op(block, op)
    assert count_paper_flops(
        module, torch.empty(1, cin, h, w, device='meta')) == expected
    # the table stores counts as float32: compare after the same rounding
    assert table.backbone[block, op - 1] == torch.tensor(
        float(expected), dtype=table.backbone.dtype)
