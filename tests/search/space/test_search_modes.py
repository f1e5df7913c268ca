"""Search modes: 'darts' mixes every candidate (Eq. 1-2), 'gumbel' samples a path."""
import pytest
import torch

from attnas_mmseg.models import AttNASHead, SearchableMobileNetV2
from attnas_mmseg.search import derive_attention, derive_backbone
from attnas_mmseg.search.space.search_modes import (arch_pass, gumbel_one_hot,
                                              gumbel_top_k)

BN = dict(type='BN')


def count_calls(modules):
    calls = {}

    def make(name):
        def hook(m, i, o):
            calls[name] = calls.get(name, 0) + 1
        return hook

    handles = [m.register_forward_hook(make(n)) for n, m in modules]
    return calls, handles


def block_ops(net):
    """(name 'layer.block.op', op) of every candidate of a searching net."""
    return [(f'{name}.{b}.{j}', op)
            for name in net.layers
            for b, block in enumerate(getattr(net, name))
            for j, op in enumerate(block)]


def test_gumbel_one_hot_is_exact_in_value_and_soft_in_gradient():
    torch.manual_seed(0)
    logits = torch.randn(17, 6, requires_grad=True)
    weights, index = gumbel_one_hot(logits, tau=1.0)
    assert torch.equal(weights.detach().argmax(-1), torch.tensor(index))
    assert torch.allclose(weights.detach().sum(-1), torch.ones(17))
    assert set(weights.detach().unique().tolist()) <= {0.0, 1.0}
    (weights * torch.randn(17, 6)).sum().backward()
    assert logits.grad.abs().sum() > 0
    # eval: the argmax, no noise drawn
    state = torch.get_rng_state()
    weights, index = gumbel_one_hot(logits, tau=1.0, training=False)
    assert torch.equal(torch.get_rng_state(), state)
    assert index == logits.argmax(-1).tolist()


def test_gumbel_one_hot_samples_from_the_softmax():
    torch.manual_seed(0)
    logits = torch.tensor([[0.0, 1.0, 2.0]]).repeat(20000, 1)
    _, index = gumbel_one_hot(logits, tau=1.0)
    freq = torch.bincount(torch.tensor(index), minlength=3).float() / 20000
    assert torch.allclose(freq, logits[0].softmax(0), atol=0.015)


def test_gumbel_top_k_picks_k_distinct_cells_over_all_layers():
    torch.manual_seed(0)
    beta = torch.randn(2, 13, requires_grad=True)
    weights, mask = gumbel_top_k(beta, 4, tau=1.0)
    assert int(mask.sum()) == 4
    assert torch.equal(weights.detach(), mask.float())
    (weights * torch.randn(2, 13)).sum().backward()
    assert beta.grad.abs().sum() > 0
    _, mask = gumbel_top_k(beta, 4, tau=1.0, training=False)
    chosen = [[j + 1 for j in range(13) if mask[l, j]] for l in range(2)]
    assert tuple(map(tuple, chosen)) == derive_attention(beta, 4)


def counted_backbone(mode='darts'):
    """A seeded searching backbone in ``mode`` and the forward calls of its
    candidates: (net, calls {name: count}, hook handles)."""
    torch.manual_seed(0)
    net = SearchableMobileNetV2(search_mode=mode, out_indices=(6, ),
                                norm_cfg=BN)
    calls, handles = count_calls(block_ops(net))
    return net, calls, handles


def test_gumbel_backbone_runs_one_op_per_block():
    net, calls, handles = counted_backbone('gumbel')
    out = net(torch.randn(2, 3, 64, 64))
    assert len(calls) == 17 and set(calls.values()) == {1}
    out[0].mean().backward()
    assert net.alpha.grad.abs().sum() > 0
    used = {n.rsplit('.', 1)[0] for n in calls}
    assert len(used) == 17
    # eval mode runs the derived (argmax) network, deterministically
    calls.clear()
    net.eval()
    net(torch.randn(1, 3, 64, 64))
    picked = [int(n.rsplit('.', 1)[1]) + 1 for n in sorted(
        calls, key=lambda n: (n.split('.')[0], int(n.split('.')[1])))]
    assert tuple(picked) == derive_backbone(net.alpha)
    for h in handles:
        h.remove()


def test_darts_backbone_runs_every_op():
    net, calls, _ = counted_backbone()
    net(torch.randn(2, 3, 32, 32))
    assert len(calls) == 17 * 6


@pytest.mark.parametrize('num_layers', [1, 2])
def test_gumbel_head_runs_the_sampled_cells_only(num_layers):
    torch.manual_seed(1)
    head = AttNASHead(num_layers=num_layers, search_mode='gumbel',
                      sample_topk=3, in_channels=32, channels=16,
                      num_classes=4, norm_cfg=BN, dropout_ratio=0)
    atts = [(f'{l}.{name}', att)
            for l, layer in enumerate(head.attention.layers)
            for name, att in layer.items()]
    calls, _ = count_calls(atts)
    out = head([torch.randn(2, 32, 16, 16)])
    assert out.shape == (2, 4, 16, 16)
    assert len(calls) == 3
    out.mean().backward()
    assert head.attention.beta.grad.abs().sum() > 0


def test_mode_and_sampling_arguments_are_validated():
    with pytest.raises(ValueError, match='search_mode'):
        SearchableMobileNetV2(search_mode='enas')
    with pytest.raises(ValueError, match='tau'):
        SearchableMobileNetV2(search_mode='gumbel', tau=0)
    with pytest.raises(ValueError, match='sample_topk'):
        AttNASHead(num_layers=2, search_mode='gumbel', sample_topk=27,
                   in_channels=32, channels=16, num_classes=4)
    with pytest.raises(ValueError, match='num_layers'):
        AttNASHead(num_layers=True, in_channels=32, channels=16,
                   num_classes=4)


def test_proxyless_backbone_one_path_to_train_two_to_compare():
    net, calls, _ = counted_backbone('proxyless')
    out = net(torch.randn(2, 3, 64, 64))       # weight step: one path
    assert len(calls) == 17
    out[0].mean().backward()
    assert net.alpha.grad is None or not net.alpha.grad.any()
    calls.clear()
    with arch_pass([net]):                     # arch step: two per block
        out = net(torch.randn(2, 3, 64, 64))
    assert not net.arch_pass
    blocks = {}
    for name in calls:
        key = name.rsplit('.', 1)[0]
        blocks[key] = blocks.get(key, 0) + 1
    assert len(blocks) == 17 and set(blocks.values()) == {2}
    out[0].mean().backward()
    # only the drawn pair of each block gets a gradient, summing to zero
    grad = net.alpha.grad
    assert ((grad != 0).sum(-1) <= 2).all() and (grad != 0).any()
    assert torch.allclose(grad.sum(-1), torch.zeros(17), atol=1e-6)


def test_proxyless_head_draws_2k_cells_weighted_to_k():
    from attnas_mmseg.search.space.search_modes import cell_weights
    torch.manual_seed(0)
    beta = torch.randn(2, 13, requires_grad=True)
    weights, mask, _ = cell_weights(beta, 'proxyless', 4, 1.0, True, False)
    assert int(mask.sum()) == 4 and torch.equal(weights, mask.float())
    weights, mask, _ = cell_weights(beta, 'proxyless', 4, 1.0, True, True)
    assert int(mask.sum()) == 8
    assert float(weights.sum()) == pytest.approx(4.0)
    assert torch.equal(weights != 0, mask)
    (weights * torch.randn(2, 13)).sum().backward()
    assert beta.grad[~mask].abs().sum() == 0 and beta.grad.abs().sum() > 0
