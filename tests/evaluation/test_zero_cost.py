"""Zero-cost proxies: hand formulas on hand-made nets, then AttNAS specs."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from attnas_mmseg.evaluation.zero_cost import (grad_norm, naswot,
                                               random_network, synflow)

from .._builders import segmentor_cfg

SMALL = 'mv2(1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1) AttSet1(1)+AttSet2(2)'
LARGE = 'mv2(6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6) AttSet1(11,12)+AttSet2(7,13)'


# ------------------------------------------------------------- synflow
def _two_linear(w1, w2, bn: bool = True) -> nn.Module:
    """Linear -> BN (stats that would change everything) -> ReLU6 -> Linear."""
    first = nn.Linear(2, 3, bias=False)
    second = nn.Linear(3, 1, bias=False)
    norm = nn.BatchNorm1d(3)
    with torch.no_grad():
        first.weight.copy_(torch.tensor(w1))
        second.weight.copy_(torch.tensor(w2))
        norm.running_mean.fill_(5.0)
        norm.running_var.fill_(100.0)
        norm.weight.fill_(7.0)
    layers = [first, norm, nn.ReLU6(), second] if bn else \
        [first, nn.ReLU6(), second]
    return nn.Sequential(*layers)


def test_synflow_of_two_linear_layers_is_twice_the_path_sum():
    # |W1| rows sum to 12, 14, 8 (> 6: a ReLU6 kept would saturate);
    # R = sum_k |W2_k| * rowsum_k = 2*12 + 1*14 + 0.5*8 = 42. For a bias-free
    # linear net of L layers every layer's sum |w * dR/dw| is R: 2R = 84.
    w1 = [[4.0, -8.0], [12.0, 2.0], [-4.0, 4.0]]
    w2 = [[2.0, -1.0, 0.5]]
    net = _two_linear(w1, w2)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert synflow(net, torch.randn(5, 2)) == pytest.approx(84.0, rel=1e-12)
    # the caller's network is untouched (signs, BN, no gradients)
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(p.grad is None for p in net.parameters())


def test_synflow_of_a_padded_conv_counts_each_tap_per_output_it_reaches():
    # 3x3 conv, padding 1, on a 3x3 ones image: tap (a, b) reaches
    # c_a * c_b outputs, c = (2, 3, 2); R = synflow = sum |w_ab| c_a c_b.
    w = torch.tensor([[1.0, -2.0, 0.5], [-3.0, 4.0, 1.0], [2.0, -1.0, -0.5]])
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(w.view(1, 1, 3, 3))
    c = [2, 3, 2]
    expected = sum(abs(float(w[a, b])) * c[a] * c[b]
                   for a in range(3) for b in range(3))
    assert synflow(conv, torch.zeros(4, 1, 3, 3)) == pytest.approx(expected)


# -------------------------------------------------------------- naswot
class _Signs(nn.Module):
    """ReLU6(x) and ReLU(-x): the second code is the first's complement."""

    def __init__(self, second: bool) -> None:
        super().__init__()
        self.first = nn.ReLU6()
        self.second = nn.ReLU() if second else None

    def forward(self, x):
        out = self.first(x.clone())
        return out if self.second is None else out + self.second(-x)


X = torch.tensor([[1.0, 2.0, -1.0, -3.0],     # code 1100
                  [0.5, -1.0, -2.0, 4.0],     # code 1001
                  [-1.0, 3.0, 2.0, 1.0]])     # code 0111


def test_naswot_is_the_log_det_of_the_agreement_counts():
    # K_ij = 4 - Hamming(c_i, c_j): d12 = 2, d13 = 3, d23 = 3
    # K = [[4, 2, 1], [2, 4, 1], [1, 1, 4]], det = 4*15 - 2*7 + 1*(-2) = 44
    assert naswot(_Signs(False), X) == pytest.approx(math.log(44.0))
    # a second ReLU agreeing on the same pairs doubles K: det 8 * 44
    assert naswot(_Signs(True), X) == pytest.approx(math.log(352.0))


def test_naswot_of_two_identical_images_is_minus_infinity():
    assert naswot(_Signs(False), X[[0, 0, 1]]) == -math.inf


def test_naswot_needs_a_batch_and_a_relu():
    with pytest.raises(ValueError, match='batch of >= 2'):
        naswot(_Signs(False), X[:1])
    with pytest.raises(ValueError, match='ReLU'):
        naswot(nn.Identity(), X)


# ----------------------------------------------------------- grad_norm
def test_grad_norm_sums_the_conv_and_linear_weight_gradient_norms():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                        nn.ReLU(), nn.Dropout(0.5), nn.Conv2d(4, 5, 1))
    x = torch.randn(2, 3, 6, 6)
    target = torch.randint(0, 5, (2, 6, 6))
    target[0, 0, 0] = 255
    ref = nn.Sequential(*[m for m in net if not isinstance(m, nn.Dropout)])
    loss = F.cross_entropy(ref.train()(x), target, ignore_index=255)
    grads = torch.autograd.grad(loss, [net[0].weight, net[4].weight])
    expected = sum(float(g.norm()) for g in grads)
    net.eval()
    running = net[1].running_mean.clone()
    assert grad_norm(net, x, target) == pytest.approx(expected, rel=1e-6)
    assert torch.equal(net[1].running_mean, running) and not net.training


def _batch(num: int = 3, size: int = 64, classes: int = 4):
    g = torch.Generator().manual_seed(0)
    inputs = torch.randn(num, 3, size, size, generator=g)
    samples = []
    for _ in range(num):
        sample = SegDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            pad_shape=(size, size)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, classes, (1, size, size), generator=g))
        samples.append(sample)
    return inputs, samples


def test_grad_norm_of_a_segmentor_uses_its_cross_entropy():
    inputs, samples = _batch()
    model = random_network(segmentor_cfg(), SMALL, seed=0)
    ref = random_network(segmentor_cfg(), SMALL, seed=0).train()
    logits = F.interpolate(ref(inputs, mode='tensor'), size=(64, 64),
                           mode='bilinear', align_corners=False)
    labels = torch.stack([s.gt_sem_seg.data[0] for s in samples])
    weights = [m.weight for m in ref.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    grads = torch.autograd.grad(F.cross_entropy(logits, labels), weights,
                                allow_unused=True)
    expected = sum(float(g.norm()) for g in grads if g is not None)
    assert grad_norm(model, inputs, samples) == pytest.approx(expected,
                                                              rel=1e-5)


# ----------------------------------------------------- AttNAS networks
def test_random_network_is_seeded_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = random_network(segmentor_cfg(), SMALL, seed=1)
    assert torch.equal(torch.rand(3), expected_next)
    b = random_network(segmentor_cfg(), SMALL, seed=1)
    c = random_network(segmentor_cfg(), SMALL, seed=2)
    key = 'backbone.layer1.0.conv.0.conv.weight'
    assert torch.equal(a.state_dict()[key], b.state_dict()[key])
    assert not torch.equal(a.state_dict()[key], c.state_dict()[key])


@pytest.fixture(scope='module')
def scores():
    inputs, samples = _batch()
    out = {}
    for arch in (SMALL, LARGE):
        runs = []
        for _ in range(2):
            net = random_network(segmentor_cfg(), arch, seed=0)
            runs.append((synflow(net, inputs), naswot(net, inputs),
                         grad_norm(net, inputs, samples)))
        out[arch] = runs
    return out


def test_proxies_are_finite_and_deterministic_on_attnas_specs(scores):
    for arch, (first, second) in scores.items():
        assert all(math.isfinite(v) for v in first), arch
        assert first == second, arch


def test_proxies_tell_a_narrow_network_from_a_wide_one(scores):
    small, large = scores[SMALL][0], scores[LARGE][0]
    assert all(s != b for s, b in zip(small, large))
    # synflow counts weighted input-output paths: expansion 6 and 5x5
    # kernels everywhere have many more than expansion 1 and 3x3
    assert large[0] > 1e6 * small[0]
