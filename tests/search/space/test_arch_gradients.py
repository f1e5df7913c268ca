"""The arch gradient of every search mode, against references computed here.

Every expectation is built from the candidate modules called one by one (the
network of Eq. 1-2 written out by hand, with the mixture weights as leaf
tensors), never from the search modes' own weight functions: the mixing value
of Eq. (1)-(2), darts' soft relaxation ``p_j (c_j - sum p c)`` and finite
differences, gumbel's straight-through estimator over the two ops it computes,
proxyless' pair form, a task-loss gradient in every block and in beta, and the
sign of a darts step. ``c_j = dL/dw_j = <G, op_j(x)>`` below is the gradient
of the loss with respect to candidate j's mixture weight.
"""
import pytest
import torch
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from attnas_mmseg.datasets.planted import quadrant_batch
from attnas_mmseg.models import SearchableMobileNetV2
from attnas_mmseg.search.space import search_modes
from attnas_mmseg.search.space.attention_space import (AttentionLayers,
                                                       attention_weights)
from attnas_mmseg.search.space.search_modes import arch_pass

from ..._builders import segmentor_cfg

BN = dict(type='BN')


# ------------------------------------------------------------ helpers ----
def tiny_backbone(mode='darts', seed=0):
    """A searching backbone at half width, float64, in train mode."""
    torch.manual_seed(seed)
    net = SearchableMobileNetV2(search_mode=mode, widen_factor=0.5,
                                out_indices=(6, ), norm_cfg=BN).double()
    with torch.no_grad():
        net.alpha.normal_()   # away from uniform, so the weights differ
    return net.train()


def tiny_attention(mode='darts', k=2, seed=0, channels=16):
    """Searching attention layers (2 x 13 cells), float64, in train mode."""
    torch.manual_seed(seed)
    layers = AttentionLayers(channels, num_layers=2, search_mode=mode,
                             sample_topk=k, norm_cfg=BN).double()
    with torch.no_grad():
        layers.beta.normal_()
    return layers.train()


def blocks(net):
    """The 17 MixedOps of a searching backbone, in order."""
    return [mixed for name in net.layers for mixed in getattr(net, name)]


def hand_backbone(net, x, weights, active=None):
    """Eq. (1) written out: the stem, then ``x <- sum_j w_ij Op_ij(x)`` over
    the ops ``active[i]`` of each block (all six if None)."""
    x = net.conv1(x)
    for i, mixed in enumerate(blocks(net)):
        ops = range(len(mixed)) if active is None else active[i]
        x = sum(weights[i, j] * mixed[j](x) for j in ops)
    return x


def hand_attention(layers, x, weights, picked=None, sampled=None):
    """Eq. (2) written out layer by layer with ``weights`` (L, 13).

    With ``picked`` (cells per layer that run) it is the sampled form: a layer
    none of whose picked cells is ``sampled`` keeps its input (the derived
    empty layer) and adds its weight-0 runners-up; a layer with nothing
    picked passes its input through."""
    for li, layer in enumerate(layers.layers):
        atts = list(layer.values())
        cells = range(len(atts)) if picked is None else picked[li]
        if not cells:
            continue
        out = sum(weights[li, j] * atts[j](x) for j in cells)
        empty = sampled is not None and not any(
            (li, j) in sampled for j in cells)
        x = x + out if empty else out
    return x


def hand_softmax(logits, dim=-1):
    """softmax by its definition (no torch.softmax)."""
    e = (logits - logits.max(dim, keepdim=True).values).exp()
    return e / e.sum(dim, keepdim=True)


def classify_loss(feature, seed=5, classes=4):
    """CE of a fixed random 1x1 classifier against fixed random labels."""
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(classes, feature.shape[1], 1, 1, generator=gen,
                         dtype=feature.dtype) / feature.shape[1]**0.5
    labels = torch.randint(classes, (feature.shape[0], *feature.shape[2:]),
                           generator=gen)
    return F.cross_entropy(F.conv2d(feature, weight), labels)


def image(batch=2, channels=3, size=64, seed=1):
    """At 64 the last stage is 2x2: BN statistics over 8 values per channel
    (over 2, BN would amplify rounding differences 1e4-fold)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, channels, size, size, generator=gen,
                       dtype=torch.float64)


def freeze_bn(module, *inputs):
    """Eval mode with every BN's statistics set to those of ``inputs``."""
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.momentum = None   # a cumulative average: one batch is exact
            m.reset_running_stats()
    module.train()
    with torch.no_grad():
        module(*inputs)
    return module.eval()


def weight_grads(loss_of_weights, weights):
    """c = dL/dW at ``weights`` (through a leaf copy)."""
    w = weights.detach().clone().requires_grad_()
    return torch.autograd.grad(loss_of_weights(w), w)[0]


# ---------------------------------------------------- Eq. (1) and (2) ----
def test_eq1_backbone_output_is_the_softmax_mixture_of_its_ops():
    net = tiny_backbone()
    x = image()
    probs = hand_softmax(net.alpha.detach())
    with torch.no_grad():
        expected = hand_backbone(net, x, probs)
        out = net(x)[0]
        # one MixedOp on its own: sum_j w_j Op_j(x) with the weights given
        mixed, w = blocks(net)[3], probs[3]
        inp = torch.randn(2, mixed[0].conv[0].conv.in_channels, 8, 8,
                          dtype=torch.float64)
        assert torch.allclose(mixed(inp, w),
                              sum(w[j] * mixed[j](inp) for j in range(6)),
                              rtol=1e-12, atol=1e-12)
    assert torch.allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_eq2_one_softmax_over_all_layers():
    layers = tiny_attention()
    x = image(channels=16, size=12)
    beta = layers.beta.detach()
    unified = hand_softmax(beta.flatten(), 0).view_as(beta)
    assert float(attention_weights(beta).sum()) == pytest.approx(1.0)
    assert torch.allclose(attention_weights(beta), unified, atol=1e-12)
    with torch.no_grad():
        out = layers(x)
        expected = hand_attention(layers, x, unified)
        per_layer = hand_attention(layers, x, hand_softmax(beta))
    assert torch.allclose(out, expected, rtol=1e-10, atol=1e-10)
    # the test tells the unified softmax from one softmax per layer
    assert not torch.allclose(out, per_layer, rtol=1e-3, atol=1e-6)


# -------------------------------------------------------------- darts ----
def test_darts_alpha_gradient_is_the_soft_relaxation_in_every_block():
    net = tiny_backbone()
    x = image()
    classify_loss(net(x)[0]).backward()
    probs = hand_softmax(net.alpha.detach())
    c = weight_grads(lambda w: classify_loss(hand_backbone(net, x, w)),
                        probs)
    expected = probs * (c - (probs * c).sum(-1, keepdim=True))
    assert (expected.abs().amax(-1) > 0).all()
    assert torch.allclose(net.alpha.grad, expected, rtol=1e-8, atol=1e-12)


def test_darts_beta_gradient_is_the_unified_soft_relaxation():
    layers = tiny_attention()
    x = image(channels=16, size=12)
    classify_loss(layers(x)).backward()
    w = hand_softmax(layers.beta.detach().flatten(), 0).view(2, 13)
    c = weight_grads(lambda v: classify_loss(hand_attention(layers, x, v)),
                        w)
    # one softmax over both layers: the mean is taken over all 26 cells
    expected = w * (c - (w * c).sum())
    assert torch.allclose(layers.beta.grad, expected, rtol=1e-8, atol=1e-12)


def test_darts_gradients_match_finite_differences():
    # ReLU6's kinks, met by the thousands across 17 blocks, make central
    # differences wander at every step size; SiLU and BN statistics frozen
    # from one batch make the network a smooth function of alpha.
    torch.manual_seed(0)
    net = SearchableMobileNetV2(widen_factor=0.5, out_indices=(6, ),
                                norm_cfg=BN, act_cfg=dict(type='SiLU'))
    net = net.double()
    with torch.no_grad():
        net.alpha.normal_()
    x = image()
    freeze_bn(net, x)

    def loss_at(alpha):
        with torch.no_grad():
            net.alpha.copy_(alpha)
            return float(classify_loss(net(x)[0]))

    alpha0 = net.alpha.detach().clone()
    classify_loss(net(x)[0]).backward()
    grad = net.alpha.grad.clone()
    gen = torch.Generator().manual_seed(3)
    h = 1e-5
    for _ in range(3):   # directional derivatives cover every entry
        v = torch.randn(alpha0.shape, generator=gen, dtype=torch.float64)
        fd = (loss_at(alpha0 + h * v) - loss_at(alpha0 - h * v)) / (2 * h)
        assert fd == pytest.approx(float((grad * v).sum()), rel=1e-6)
    # beta, entry by entry, on the attention layers
    layers = tiny_attention()
    x = image(channels=16, size=12)
    classify_loss(layers(x)).backward()
    beta0 = layers.beta.detach().clone()
    for index in range(beta0.numel()):
        v = torch.zeros(beta0.numel(), dtype=torch.float64)
        v[index] = 1
        v = v.view_as(beta0)
        with torch.no_grad():
            layers.beta.copy_(beta0 + h * v)
            up = float(classify_loss(layers(x)))
            layers.beta.copy_(beta0 - h * v)
            down = float(classify_loss(layers(x)))
        assert (up - down) / (2 * h) == pytest.approx(
            float(layers.beta.grad.flatten()[index]), rel=1e-5, abs=1e-10)


# ------------------------------------------------------------- gumbel ----
def fixed_noise(monkeypatch, noise):
    """Make every Gumbel draw return ``noise`` (the draw is then known)."""
    monkeypatch.setattr(search_modes, '_gumbel_like',
                        lambda logits: noise.to(logits).view_as(logits))


@pytest.mark.parametrize('tau', [1.0, 0.5])
def test_gumbel_arch_pass_is_straight_through_over_the_computed_pair(
        monkeypatch, tau):
    net = tiny_backbone('gumbel')
    net.set_step_state(tau=tau)
    gen = torch.Generator().manual_seed(7)
    noise = -torch.empty(17, 6, dtype=torch.float64).exponential_(
        generator=gen).log()
    fixed_noise(monkeypatch, noise)
    x = image()
    with arch_pass([net]):
        out = net(x)[0]
    classify_loss(out).backward()

    perturbed = net.alpha.detach() + noise
    pair = perturbed.argsort(-1, descending=True)[:, :2]   # sample, runner-up
    sampled = [[int(a)] for a in pair[:, 0]]
    hard = torch.zeros(17, 6, dtype=torch.float64)
    hard[range(17), pair[:, 0]] = 1
    c = weight_grads(lambda w: classify_loss(
        hand_backbone(net, x, w, pair.tolist())), hard)
    s = hand_softmax(perturbed.gather(1, pair) / tau)
    c_pair = c.gather(1, pair)
    expected = torch.zeros(17, 6, dtype=torch.float64).scatter(
        1, pair, s / tau * (c_pair - (s * c_pair).sum(-1, keepdim=True)))
    assert torch.allclose(net.alpha.grad, expected, rtol=1e-8, atol=1e-12)
    # the value is the sampled network: one op per block, weight 1
    with torch.no_grad():
        alone = hand_backbone(net, x, hard, sampled)
    assert torch.allclose(out, alone, rtol=1e-10, atol=1e-10)


# (sampled cells, runners-up) in (layer, att index) of the 2 x 13 grid
HEAD_DRAWS = {
    'mixed layers': ([(0, 3), (1, 5)], [(0, 7), (1, 1)]),
    'runners-up only in layer 1': ([(0, 2), (0, 9)], [(1, 4), (1, 12)]),
    'k=1, runner-up alone in layer 0': ([(1, 3)], [(0, 6)]),
}


def by_layer(cells, num_layers=2):
    """The att indices of ``cells`` ((layer, index) pairs) in each layer."""
    return [[j for li, j in cells if li == layer]
            for layer in range(num_layers)]


def noise_for(beta, order):
    """Noise that makes ``order`` the top cells of beta + noise, the rest
    far below."""
    target = torch.full(beta.shape, -5.0, dtype=torch.float64)
    for rank, (li, j) in enumerate(order):
        target[li, j] = 3.0 - 0.4 * rank
    return target - beta.detach()


@pytest.mark.parametrize('draw', list(HEAD_DRAWS))
def test_gumbel_head_arch_pass_is_straight_through_over_2k_cells(
        monkeypatch, draw):
    sampled, runners = HEAD_DRAWS[draw]
    k, tau = len(sampled), 0.7
    layers = tiny_attention('gumbel', k=k)
    layers.set_step_state(tau=tau)
    noise = noise_for(layers.beta, sampled + runners)
    fixed_noise(monkeypatch, noise)
    x = image(channels=16, size=12)
    with arch_pass([layers]):
        out = layers(x)
    classify_loss(out).backward()

    cells = sampled + runners
    picked = by_layer(cells)
    hard = torch.zeros(2, 13, dtype=torch.float64)
    for li, j in sampled:
        hard[li, j] = 1
    c = weight_grads(lambda w: classify_loss(
        hand_attention(layers, x, w, picked, sampled)), hard)
    perturbed = layers.beta.detach() + noise
    logit = torch.stack([perturbed[li, j] for li, j in cells])
    s = hand_softmax(logit / tau, 0)
    c_cells = torch.stack([c[li, j] for li, j in cells])
    expected = torch.zeros(2, 13, dtype=torch.float64)
    for i, (li, j) in enumerate(cells):
        expected[li, j] = k * s[i] / tau * (c_cells[i] - (s * c_cells).sum())
    assert (expected != 0).sum() == 2 * k
    assert torch.allclose(layers.beta.grad, expected, rtol=1e-8, atol=1e-12)
    # the value is the sampled network (layers without a sampled cell empty)
    only = by_layer(sampled)
    with torch.no_grad():
        alone = hand_attention(layers, x, hard, only)
    assert torch.allclose(out, alone, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------- proxyless ----
def test_proxyless_alpha_gradient_is_the_pair_form(monkeypatch):
    net = tiny_backbone('proxyless')
    draws = []
    draw = search_modes._draw

    def recorded(probs, n):
        drawn = draw(probs, n)
        draws.append(drawn.clone())
        return drawn

    monkeypatch.setattr(search_modes, '_draw', recorded)
    x = image()
    with arch_pass([net]):
        out = net(x)[0]
    classify_loss(out).backward()
    (pair, ) = draws
    assert pair.shape == (17, 2) and (pair[:, 0] != pair[:, 1]).all()

    logit = net.alpha.detach().gather(1, pair)
    q = logit.exp() / logit.exp().sum(-1, keepdim=True)
    weights = torch.zeros(17, 6, dtype=torch.float64).scatter(1, pair, q)
    c = weight_grads(lambda w: classify_loss(
        hand_backbone(net, x, w, pair.tolist())), weights)
    c_pair = c.gather(1, pair)
    qq = q[:, :1] * q[:, 1:]
    expected = torch.zeros(17, 6, dtype=torch.float64).scatter(
        1, pair, torch.cat([qq * (c_pair[:, :1] - c_pair[:, 1:]),
                            qq * (c_pair[:, 1:] - c_pair[:, :1])], 1))
    assert torch.allclose(net.alpha.grad, expected, rtol=1e-8, atol=1e-12)
    with torch.no_grad():
        mixed = hand_backbone(net, x, weights, pair.tolist())
    assert torch.allclose(out, mixed, rtol=1e-10, atol=1e-10)


def test_proxyless_beta_gradient_is_the_drawn_cells_form(monkeypatch):
    k = 2
    cells = [(0, 4), (1, 8), (1, 0), (0, 11)]
    layers = tiny_attention('proxyless', k=k)
    fixed_noise(monkeypatch, noise_for(layers.beta, cells))
    x = image(channels=16, size=12)
    with arch_pass([layers]):
        out = layers(x)
    classify_loss(out).backward()

    logit = torch.stack([layers.beta.detach()[li, j] for li, j in cells])
    q = hand_softmax(logit, 0)
    weights = torch.zeros(2, 13, dtype=torch.float64)
    for i, (li, j) in enumerate(cells):
        weights[li, j] = k * q[i]
    picked = by_layer(cells)
    c = weight_grads(lambda w: classify_loss(
        hand_attention(layers, x, w, picked)), weights)
    c_cells = torch.stack([c[li, j] for li, j in cells])
    expected = torch.zeros(2, 13, dtype=torch.float64)
    for i, (li, j) in enumerate(cells):
        expected[li, j] = k * q[i] * (c_cells[i] - (q * c_cells).sum())
    assert torch.allclose(layers.beta.grad, expected, rtol=1e-8, atol=1e-12)
    with torch.no_grad():
        assert torch.allclose(out, hand_attention(layers, x, weights, picked),
                              rtol=1e-10, atol=1e-10)


# ------------------------------------------- a small searching segmentor ----
def searching_segmentor(mode, sample_topk=1):
    """The tests' searching segmentor with a 3x3 conv-BN bottleneck before
    ``cls_seg`` (channels 32 != 320), as the shipped configs have, in
    ``mode``, train mode (BN on batch statistics, as in a search)."""
    from attnas_mmseg.models import build_segmentor
    cfg = segmentor_cfg(channels=32)
    cfg['backbone']['search_mode'] = mode
    cfg['decode_head'].update(search_mode=mode, sample_topk=sample_topk)
    torch.manual_seed(0)
    return build_segmentor(cfg).train()


def arch_ce(model, images, labels):
    """The arch pass's CE on a batch."""
    with arch_pass([model.backbone, model.decode_head]):
        logits = model.decode_head(model.backbone(images))
    logits = F.interpolate(logits, size=labels.shape[1:], mode='bilinear',
                           align_corners=False)
    return F.cross_entropy(logits, labels)


@pytest.mark.parametrize('mode', ['darts', 'gumbel', 'proxyless'])
def test_every_block_and_the_head_get_a_task_loss_gradient(mode):
    """Per-block max |dCE/dalpha| (mean over draws) within 100x of the
    median block, and |dCE/dbeta| well above zero.

    A straight-through gradient that rates one op's output scale is erased
    by the conv-BN that starts the next stage: blocks 0, 2, 5, 9, 12, 15
    (and 16 before the head) got 1e-9..1e-6 against a median of ~1e-3
    (issue 20). sample_topk=1 in front of the bottleneck's BN is where a
    one-cell estimator is blind in beta."""
    model = searching_segmentor(mode)
    images, labels = quadrant_batch()
    alpha, beta = model.backbone.alpha, model.decode_head.attention.beta
    draws = 1 if mode == 'darts' else 6
    block = torch.zeros(alpha.shape[0])
    head = 0.0
    torch.manual_seed(1)
    for _ in range(draws):
        g_alpha, g_beta = torch.autograd.grad(
            arch_ce(model, images, labels), [alpha, beta])
        block += g_alpha.abs().amax(-1) / draws
        head += float(g_beta.abs().max()) / draws
    median = float(block.median())
    weak = {i: f'{float(g):.1e}' for i, g in enumerate(block)
            if g < median / 100}
    assert not weak, f'blocks with no task-loss signal: {weak}, median ' \
        f'{median:.1e}'
    assert head > 1e-3 * median and head > 1e-6, (head, median)


@pytest.mark.parametrize('mode', ['darts', 'proxyless'])
def test_an_arch_step_lowers_the_ce(mode):
    """Plain SGD on alpha and beta with the CE gradient only, on one fixed
    batch and (proxyless) the same draw before and after: the CE falls. A
    sign-flipped gradient raises it. (Gumbel's forward value is the sampled
    network, constant in alpha for a fixed draw: no such check applies.)"""
    model = searching_segmentor(mode, sample_topk=2)
    images, labels = quadrant_batch()
    params = [model.backbone.alpha, model.decode_head.attention.beta]
    torch.manual_seed(2)
    ce0 = arch_ce(model, images, labels)
    grads = torch.autograd.grad(ce0, params)
    # a small step: the supernet's CE is strongly curved in alpha (BN on
    # batch statistics), first order holds to ~1e-4 in the logits
    lr = 1e-4 / max(float(g.abs().max()) for g in grads)
    with torch.no_grad():
        for p, g in zip(params, grads):
            p -= lr * g
    torch.manual_seed(2)
    with torch.no_grad():
        ce1 = arch_ce(model, images, labels)
    assert float(ce1) < float(ce0)
    # and by about what first order predicts, lr * |grad|^2
    predicted = lr * sum(float((g * g).sum()) for g in grads)
    assert float(ce0 - ce1) == pytest.approx(predicted, rel=0.3)
