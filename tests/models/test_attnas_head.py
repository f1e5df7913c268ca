import pytest
import torch

from attnas_mmseg.models import AttNASHead
from attnas_mmseg.search import attention_weights

from .._builders import build_segmentor

BN = dict(type='BN')


def make_head(**kwargs):
    kwargs.setdefault('in_channels', 64)
    kwargs.setdefault('channels', 32)
    return AttNASHead(num_classes=5, norm_cfg=BN, dropout_ratio=0, **kwargs)


@pytest.mark.parametrize('num_layers', [1, 2, 3])
def test_search_mode(num_layers):
    head = make_head(num_layers=num_layers)
    assert head.attention.beta.shape == (num_layers, 13)
    assert head.arch_parameters() == [head.attention.beta]
    assert all(len(layer) == 13 for layer in head.attention.layers)
    out = head([torch.randn(2, 64, 12, 24)])
    assert out.shape == (2, 5, 12, 24)
    out.mean().backward()
    assert head.attention.beta.grad.abs().sum() > 0


def test_one_softmax_over_all_layers():
    beta = torch.randn(2, 13)
    w = attention_weights(beta)
    assert float(w.sum()) == pytest.approx(1.0)
    assert float(w[0].sum()) < 1.0 and float(w[1].sum()) < 1.0
    assert torch.allclose(w.flatten(), beta.flatten().softmax(0))


def test_fixed_mode_builds_the_selection():
    head = make_head(arch='AttSet1(12,13)+AttSet2(3,7)')
    assert head.arch_parameters() == []
    assert [sorted(layer) for layer in head.attention.layers] == [
        ['att12', 'att13'], ['att3', 'att7']]
    x = torch.randn(2, 64, 12, 24)
    out = head([x])
    assert out.shape == (2, 5, 12, 24)
    out.sum().backward()
    for name, p in head.named_parameters():
        if not name.endswith('gamma'):
            assert p.grad is not None, name


def test_empty_layer_passes_through_and_sum_vs_mean():
    torch.manual_seed(0)
    one = make_head(in_channels=32, arch=[[6]])
    two = make_head(in_channels=32, arch=[[6], []])
    two.load_state_dict(one.state_dict())
    one.eval(), two.eval()
    x = torch.randn(1, 32, 8, 8)
    assert torch.allclose(one([x]), two([x]))
    head_sum = make_head(in_channels=32, arch=[[6, 7]], combine='sum')
    head_mean = make_head(in_channels=32, arch=[[6, 7]], combine='mean')
    head_mean.load_state_dict(head_sum.state_dict())
    feats = [att(x) for att in head_sum.attention.layers[0].values()]
    assert torch.allclose(head_sum.attention(x), feats[0] + feats[1])
    assert torch.allclose(head_mean.attention(x), (feats[0] + feats[1]) / 2)


def test_widths_projection_bottleneck_and_errors():
    head = make_head(in_channels=64, channels=32)
    assert head.in_proj is None and head.attention.channels == 64
    assert head.bottleneck.conv.kernel_size == (3, 3)
    assert head.bottleneck.conv.out_channels == 32
    head = make_head(in_channels=64, attention_channels=48, channels=48)
    assert head.in_proj.conv.out_channels == 48 and head.bottleneck is None
    assert head([torch.randn(2, 64, 6, 6)]).shape == (2, 5, 6, 6)
    with pytest.raises(ValueError, match='attention'):
        make_head(arch=[[14]])
    with pytest.raises(ValueError, match='combine'):
        make_head(arch=[[1]], combine='concat')
    with pytest.raises(ValueError, match='num_layers'):
        make_head(num_layers=0)


def test_encoder_decoder_training_step():
    from mmengine.optim import build_optim_wrapper
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    model = build_segmentor(num_classes=4)
    model.train()
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 4, (1, 64, 96)))
        s.set_metainfo(dict(img_shape=(64, 96), ori_shape=(64, 96),
                            pad_shape=(64, 96)))
        samples.append(s)
    data = dict(inputs=[torch.randint(0, 255, (3, 64, 96)).byte()
                        for _ in range(2)], data_samples=samples)
    wrapper = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)))
    before = model.decode_head.conv_seg.weight.detach().clone()
    log = model.train_step(data, wrapper)
    assert torch.isfinite(log['loss'])
    assert not torch.equal(before, model.decode_head.conv_seg.weight)


def test_self_attention_projection_option():
    plain = make_head(in_channels=32, channels=32, arch=[[11, 12]])
    proj = make_head(in_channels=32, channels=32, arch=[[11, 12]],
                     sa_projection=True)
    n_plain = sum(p.numel() for p in plain.attention.parameters())
    n_proj = sum(p.numel() for p in proj.attention.parameters())
    assert n_plain == 2   # the two residual scales gamma
    assert n_proj == 2 + 2 * (2 * 4 * 32 + 32 * 32)
    x = torch.randn(2, 32, 18, 18)
    assert proj([x]).shape == plain([x]).shape == (2, 5, 18, 18)


@pytest.mark.parametrize('num_classes', [0, -1, True, 2.0])
def test_num_classes_must_be_a_positive_int(num_classes):
    # issue 19: 0 built a head with a 0-output conv, -1 failed in torch
    with pytest.raises(ValueError, match=r'num_classes must be an int >= 1 '
                       fr'\(the classes of the dataset\), got {num_classes!r}'):
        AttNASHead(num_classes=num_classes, in_channels=16, channels=16,
                   arch=[[1]], norm_cfg=BN)
