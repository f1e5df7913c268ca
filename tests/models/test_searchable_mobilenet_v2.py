import pytest
import torch

from attnas_mmseg.models import SearchableMobileNetV2
from attnas_mmseg.search import BACKBONE_OP_ORDERS, MixedOp
from attnas_mmseg.ops import InvertedResidual

ATTNAS_S = (3, 3, 2, 3, 2, 3, 2, 3, 2, 6, 3, 6, 5, 3, 2, 5, 1)


def test_search_mode_shapes_alpha_and_backward():
    net = SearchableMobileNetV2(out_indices=(1, 2, 4, 6))
    net.init_weights()
    assert net.alpha.shape == (17, 6)
    assert net.arch_parameters() == [net.alpha]
    blocks = [m for m in net.modules() if isinstance(m, MixedOp)]
    assert len(blocks) == 17 and all(len(b) == 6 for b in blocks)
    outs = net(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(2, 24, 16, 16),
                                              (2, 32, 8, 8), (2, 96, 4, 4),
                                              (2, 320, 2, 2)]
    sum(o.mean() for o in outs).backward()
    assert net.alpha.grad is not None and net.alpha.grad.abs().sum() > 0
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


def test_fixed_mode_builds_only_chosen_ops():
    net = SearchableMobileNetV2(arch='mv2(' + ','.join(map(str, ATTNAS_S))
                                + ')', out_indices=(6, ))
    assert not hasattr(net, 'alpha') and net.arch_parameters() == []
    blocks = [m for m in net.modules() if isinstance(m, InvertedResidual)]
    assert len(blocks) == 17
    assert not any(isinstance(m, MixedOp) for m in net.modules())
    ops = BACKBONE_OP_ORDERS['kernel_major']
    for block, op in zip(blocks, ATTNAS_S):
        kernel, expansion = ops[op - 1]
        dw = block.conv[-2].conv
        assert dw.kernel_size == (kernel, kernel)
        assert dw.out_channels == round(dw.groups) and (
            expansion == 1 or block.conv[0].conv.out_channels ==
            block.conv[0].conv.in_channels * expansion)
    out, = net(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, 320, 2, 2)


def test_op_orders_differ_and_apply():
    a = SearchableMobileNetV2(arch=[2] * 17, op_order='kernel_major')
    b = SearchableMobileNetV2(arch=[2] * 17, op_order='expansion_major')
    assert a.layer1[0].conv[-2].conv.kernel_size == (3, 3)   # k3 e3
    assert b.layer1[0].conv[-2].conv.kernel_size == (5, 5)   # k5 e1
    with pytest.raises(ValueError, match='op_order'):
        SearchableMobileNetV2(arch=[1] * 17, op_order='random')


def test_dilated_output_stride_8_like_mmseg():
    net = SearchableMobileNetV2(arch=[1] * 17, strides=(1, 2, 2, 1, 1, 1, 1),
                                dilations=(1, 1, 1, 2, 2, 4, 4),
                                out_indices=(6, ))
    assert net(torch.randn(1, 3, 64, 64))[0].shape == (1, 320, 8, 8)


@pytest.mark.parametrize('arch,field', [([1] * 16, 'backbone'),
                                        ([7] + [1] * 16, 'backbone'),
                                        ('mv2(1,2)', 'backbone')])
def test_bad_arch(arch, field):
    with pytest.raises(ValueError, match=field):
        SearchableMobileNetV2(arch=arch)


@pytest.mark.parametrize('widen_factor', [-1, 0, 0.0, float('inf'),
                                          float('nan'), True, '1'])
def test_widen_factor_must_be_a_positive_number(widen_factor):
    # issue 19: -1 built a backbone that failed only in its first forward
    with pytest.raises(ValueError, match=f'widen_factor must be a finite '
                       f'number > 0, got {widen_factor!r}'):
        SearchableMobileNetV2(arch=[1] * 17, widen_factor=widen_factor)
