"""BN folding keeps the output; timing runs on both backends."""
import pytest
import torch

from attnas_mmseg.deploy import (DenseLogits, calibrate_bn, count_batchnorms,
                                 fuse_conv_bn, time_module)
from attnas_mmseg.search.space.candidates import NUM_ATTENTIONS

from .._builders import build_segmentor

BACKBONE = [3, 3, 2, 3, 2, 3, 2, 3, 2, 6, 3, 6, 5, 3, 2, 5, 1]
ALL_ATTENTIONS = [list(range(1, 8)), list(range(8, NUM_ATTENTIONS + 1))]


def _calibrated(**kwargs):
    torch.manual_seed(0)
    model = build_segmentor(**kwargs)
    return calibrate_bn(model, torch.randn(2, 3, 64, 128))


@pytest.mark.parametrize('kwargs', [
    dict(backbone_arch=BACKBONE, head_arch=ALL_ATTENTIONS, channels=96),
    dict(channels=96),  # the search supernet (Eq. 1-2 mixtures)
])
def test_fused_output_equals_unfused(kwargs):
    model = _calibrated(**kwargs)
    before = count_batchnorms(model)
    fused = fuse_conv_bn(model)
    assert count_batchnorms(fused) == 0
    assert count_batchnorms(model) == before > 0  # the original is kept
    x = torch.randn(1, 3, 64, 128, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = DenseLogits(model)(x)
        got = DenseLogits(fused)(x)
    assert ref.abs().max() > 1e-2  # calibrated: the logits are not vanishing
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


def test_fuse_inplace_returns_the_same_module():
    model = _calibrated(backbone_arch=BACKBONE, head_arch=[[12, 13], [3, 7]])
    assert fuse_conv_bn(model, inplace=True) is model
    assert count_batchnorms(model) == 0


@pytest.mark.parametrize('backend', ['torch', 'onnxruntime'])
def test_time_module(backend):
    module = fuse_conv_bn(torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8)))
    times = time_module(module, [torch.randn(1, 3, 16, 16)], backend=backend,
                        runs=3, warmup=1)
    assert len(times) == 3 and all(t > 0 for t in times)
    with pytest.raises(ValueError, match='backend'):
        time_module(module, [torch.randn(1, 3, 16, 16)], backend='tvm')
