"""extract_subnet: the fixed network of a spec with the supernet's weights.

The reference is the supernet itself: in a sampled mode's eval path only the
argmax op of each block and the top-k attention cells run, each with weight
exactly 1, which is the derived network; with alpha/beta set so that the
argmax/top-k *is* the spec, its output must equal the extracted subnet's.
"""
import pytest
import torch
import torch.nn as nn

from attnas_mmseg.export.subnet import extract_subnet
from attnas_mmseg.models import build_segmentor
from attnas_mmseg.search.space.arch_spec import ArchSpec
from attnas_mmseg.search.space.extra_candidates import ExtraCandidates
from attnas_mmseg.search.space.search_modes import SEARCH_MODES

from .._builders import NORM, segmentor_cfg

SPEC = ArchSpec.parse_arch('mv2(1,2,3,4,5,6,1,2,3,4,5,6,6,5,4,3,2) '
                           'AttSet1(2,5)+AttSet2(1,7)')
#: (stage, block in stage) of the 17 blocks: MobileNetV2's 1,2,3,4,3,3,1.
BLOCKS = [(s, b) for s, n in enumerate((1, 2, 3, 4, 3, 3, 1), 1)
          for b in range(n)]


def model_cfg(mode='darts', **kwargs):
    cfg = segmentor_cfg(num_classes=4, channels=32, **kwargs)
    cfg['backbone']['search_mode'] = mode
    cfg['decode_head']['search_mode'] = mode
    return cfg


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """BN affine parameters and running statistics away from their
    initial 1/0 values, so copying the wrong BN shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                shape = m.running_mean.shape
                m.weight.copy_(0.5 + torch.rand(shape, generator=gen))
                m.bias.copy_(0.1 * torch.randn(shape, generator=gen))
                m.running_mean.copy_(0.1 * torch.randn(shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(shape, generator=gen))
    return model


def point_arch_at(model: nn.Module, spec: ArchSpec) -> None:
    """alpha/beta whose argmax / top-k are ``spec``'s choices."""
    with torch.no_grad():
        if spec.backbone is not None:
            alpha = torch.zeros_like(model.backbone.alpha)
            for block, op in enumerate(spec.backbone):
                alpha[block, op - 1] = 1.0
            model.backbone.alpha.copy_(alpha)
        beta = torch.zeros_like(model.decode_head.attention.beta)
        for layer, ids in enumerate(spec.attention):
            for att in ids:
                beta[layer, att - 1] = 1.0
        model.decode_head.attention.beta.copy_(beta)


def test_sampled_eval_path_equals_the_extracted_subnet():
    cfg = model_cfg('gumbel')
    supernet = randomize(build_segmentor(cfg))
    point_arch_at(supernet, SPEC)
    subnet = extract_subnet(supernet, SPEC, cfg)
    x = torch.randn(2, 3, 64, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = supernet(x, mode='tensor')
        got = subnet(x, mode='tensor')
    assert not subnet.backbone.searching and not subnet.decode_head.searching
    assert got.abs().max() > 0
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


def test_head_only_supernet_on_an_mmseg_backbone():
    cfg = model_cfg('gumbel')
    cfg['backbone'] = dict(type='MobileNetV2', strides=(1, 2, 2, 2, 1, 1, 1),
                           dilations=(1, 1, 1, 1, 1, 2, 2),
                           out_indices=(2, 6), norm_cfg=NORM)
    cfg['decode_head'].update(in_index=1, sample_topk=3)
    supernet = randomize(build_segmentor(cfg))
    spec = ArchSpec.parse_arch('AttSet1(4)+AttSet2(3,13)')
    point_arch_at(supernet, spec)
    subnet = extract_subnet(supernet, 'AttSet1(4)+AttSet2(3,13)', cfg)
    x = torch.randn(1, 3, 64, 128, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(subnet(x, mode='tensor'),
                                   supernet(x, mode='tensor'), rtol=0,
                                   atol=1e-6)
    with pytest.raises(ValueError, match='spec: has a backbone code'):
        extract_subnet(supernet, SPEC, cfg)


@pytest.mark.parametrize('mode', SEARCH_MODES)
def test_every_weight_comes_from_the_chosen_candidate(mode):
    cfg = model_cfg(mode)
    supernet = randomize(build_segmentor(cfg), seed=3)
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    subnet = extract_subnet(supernet, SPEC, cfg)
    for block, (stage, b) in enumerate(BLOCKS):
        fixed = getattr(subnet.backbone, f'layer{stage}')[b]
        mixed = getattr(supernet.backbone, f'layer{stage}')[b]
        chosen = mixed[SPEC.backbone[block] - 1]
        assert fixed.state_dict().keys() == chosen.state_dict().keys()
        for key, value in fixed.state_dict().items():
            assert torch.equal(value, chosen.state_dict()[key]), (block, key)
    for layer, ids in enumerate(SPEC.attention):
        fixed = subnet.decode_head.attention.layers[layer]
        assert list(fixed.keys()) == [f'att{i}' for i in ids]
        for name, att in fixed.items():
            source = supernet.decode_head.attention.layers[layer][name]
            for key, value in att.state_dict().items():
                assert torch.equal(value, source.state_dict()[key])
    for part in ('conv1', ):
        for key, value in getattr(subnet.backbone, part).state_dict().items():
            assert torch.equal(
                value, getattr(supernet.backbone, part).state_dict()[key])
    for key, value in subnet.decode_head.state_dict().items():
        if not key.startswith('attention.'):
            assert torch.equal(value, supernet.decode_head.state_dict()[key])
    # a copy: recalibrating or training the subnet leaves the supernet alone
    with torch.no_grad():
        for value in subnet.state_dict().values():
            value.zero_()
    for key, value in supernet.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_a_darts_checkpoint_extracts_to_the_fixed_models_keys(tmp_path):
    cfg = model_cfg('darts')
    trained = randomize(build_segmentor(cfg), seed=4)
    with torch.no_grad():
        trained.backbone.alpha.normal_()
        trained.decode_head.attention.beta.normal_()
    path = tmp_path / 'search.pth'
    torch.save({'state_dict': trained.state_dict()}, path)
    supernet = build_segmentor(cfg, checkpoint=str(path))
    subnet = extract_subnet(supernet, SPEC, cfg)
    fresh = build_segmentor(cfg, arch=SPEC, init_weights=False)
    assert list(subnet.state_dict()) == list(fresh.state_dict())
    assert not any(k.endswith(('alpha', 'beta')) for k in subnet.state_dict())
    # the spec as a record file and as the notation give the same network
    SPEC.save(tmp_path / 'arch.json')
    again = extract_subnet(supernet, str(tmp_path / 'arch.json'), cfg)
    for key, value in again.state_dict().items():
        assert torch.equal(value, subnet.state_dict()[key])


def test_a_notation_without_trailing_layers_gets_empty_ones():
    cfg = model_cfg()
    supernet = build_segmentor(cfg, init_weights=False)
    spec = 'mv2(' + ','.join(['3'] * 17) + ') AttSet1(2,5)'
    subnet = extract_subnet(supernet, spec, cfg)
    assert subnet.decode_head.attention.arch == ((2, 5), ())


OTHER_USER_ATTENTION = ExtraCandidates(
    attentions=[dict(type='NotThisSupernetsAttention')])


@pytest.mark.parametrize('spec, message', [
    ('AttSet1(2,5)+AttSet2(1,7)', 'spec: has no backbone code'),
    ('mv2(' + ','.join(['1'] * 17) + ') AttSet1(1)+AttSet2(2)+AttSet3(3)',
     'spec: has 3 attention layers, the supernet 2'),
    (ArchSpec(attention=((14, ), ), backbone=(1, ) * 17,
              extra=OTHER_USER_ATTENTION),
     r'spec: its user candidates .* are not the supernet\'s'),
    (ArchSpec(attention=((1, ), ), backbone=(1, ) * 17,
              meta=dict(op_order='expansion_major')),
     "spec: meta.op_order 'expansion_major'"),
    ('mv2(' + ','.join(['7'] * 17) + ') AttSet1(1)',
     r"op index '7' is out of range 1\.\.6"),
    ('mv2(' + ','.join(['1'] * 17) + ') AttSet1(14)',
     r"attention id '14' is out of range 1\.\.13"),
])
def test_a_spec_outside_the_supernets_space_is_refused(spec, message):
    cfg = model_cfg()
    supernet = build_segmentor(cfg, init_weights=False)
    with pytest.raises(ValueError, match=message):
        extract_subnet(supernet, spec, cfg)


def test_a_fixed_model_or_another_config_is_refused():
    cfg = model_cfg()
    supernet = build_segmentor(cfg, init_weights=False)
    other = model_cfg()
    other['decode_head']['channels'] = 48
    with pytest.raises(ValueError, match='model_cfg: decode_head.*shape'):
        extract_subnet(supernet, SPEC, other)
    fixed = build_segmentor(cfg, arch=SPEC, init_weights=False)
    with pytest.raises(ValueError, match='supernet: its decode_head must be '
                       'a searching AttNASHead'):
        extract_subnet(fixed, SPEC, cfg)
