"""User candidates (issue 16): a config adds ops 7, 8, ... and attentions
Att14, ... through MMSeg's MODELS; the space, its notation, derivation,
costs and confidence read their number from the space."""
import json
import math

import pytest
import torch
import torch.nn as nn
from mmseg.registry import MODELS

from attnas_mmseg.search import (ArchSpec, build_flops_table, derive_arch,
                                 derive_backbone)
from attnas_mmseg.search.confidence import (attention_confidence,
                                            backbone_confidence)
from attnas_mmseg.search.space.extra_candidates import (ExtraCandidates,
                                                        build_extra_attention,
                                                        build_extra_op,
                                                        describe_attention,
                                                        describe_op)

from ..._builders import build_segmentor

MV2_7 = 'mv2(' + ','.join(['7'] + ['3'] * 16) + ')'


@MODELS.register_module(name='ExtraProbeOp', force=True)
class ProbeOp(nn.Module):
    """A 1x1 conv with the block's stride: FLOPs H'W'C_out C_in by hand."""

    def __init__(self, in_channels, out_channels, stride, dilation,
                 conv_cfg=None, norm_cfg=None, act_cfg=None, tag=''):
        super().__init__()
        self.args = dict(in_channels=in_channels, out_channels=out_channels,
                         stride=stride, dilation=dilation, norm_cfg=norm_cfg,
                         tag=tag)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride,
                              bias=False)

    def forward(self, x):
        return self.conv(x)


@MODELS.register_module(name='ExtraProbeAttention', force=True)
class ProbeAttention(nn.Module):
    """A 1x1 conv: FLOPs H W C^2 by hand."""

    def __init__(self, channels, conv_cfg=None, norm_cfg=None, act_cfg=None,
                 align_corners=False):
        super().__init__()
        self.args = dict(channels=channels, align_corners=align_corners)
        self.conv = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x):
        return self.conv(x)


PROBES = ExtraCandidates([dict(type='ExtraProbeOp', tag='a')],
                         [dict(type='ExtraProbeAttention')])


# -------------------------------------------------------------- the record
def test_counts_and_record_round_trip():
    extra = ExtraCandidates([dict(type='A'), dict(type='B', k=3)],
                            [dict(type='C')])
    assert (extra.num_ops, extra.num_attentions) == (8, 14)
    assert extra.op_cfg(3) is None and extra.op_cfg(8) == dict(type='B', k=3)
    assert extra.attention_cfg(13) is None
    assert extra.attention_cfg(14) == dict(type='C')
    again = ExtraCandidates.from_dict(json.loads(json.dumps(extra.to_dict())))
    assert again == extra and hash(again) == hash(extra)
    assert not ExtraCandidates() and ExtraCandidates().to_dict() == {}


@pytest.mark.parametrize('cfgs,error,fragment', [
    (dict(type='A'), TypeError, 'extra_ops: expected a list'),
    (['A'], TypeError, r'extra_ops\[0\]: expected a dict'),
    ([dict(k=1)], ValueError, r'extra_ops\[0\]: needs a "type"'),
    ([dict(type=nn.Conv2d)], ValueError, 'needs a "type"'),
    ([dict(type='A', f=nn.Conv2d)], ValueError, 'JSON-serialisable'),
])
def test_bad_configs_name_the_field(cfgs, error, fragment):
    with pytest.raises(error, match=fragment):
        ExtraCandidates(ops=cfgs)


def test_unregistered_type_is_refused_when_built():
    with pytest.raises(ValueError, match="'NoSuchOp' is not registered"):
        build_extra_op(dict(type='NoSuchOp'), 8, 8, 1, 1)
    with pytest.raises(ValueError, match='extra_attentions'):
        build_extra_attention(dict(type='NoSuchAttention'), 8)


def test_user_classes_get_the_contract_arguments():
    op = build_extra_op(dict(type='ExtraProbeOp', tag='t'), 16, 24, 2, 1,
                        conv_cfg=None, norm_cfg=dict(type='BN'),
                        act_cfg=None)
    assert op.args == dict(in_channels=16, out_channels=24, stride=2,
                           dilation=1, norm_cfg=dict(type='BN'), tag='t')
    att = build_extra_attention(dict(type='ExtraProbeAttention'), 32,
                                align_corners=True)
    assert att.args == dict(channels=32, align_corners=True)


def test_labels():
    assert describe_op(3, PROBES, 'kernel_major') == '3x3, e6'
    assert describe_op(7, PROBES, 'kernel_major') == 'ExtraProbeOp'
    assert describe_attention(13, PROBES)[0] == 'Att13'
    assert describe_attention(14, PROBES) == ('Att14', 'ExtraProbeAttention',
                                              'user')


# ------------------------------------------------------ spec and notation
def test_ids_beyond_the_paper_need_the_space():
    text = f'{MV2_7} AttSet1(3,14)'
    with pytest.raises(ValueError, match=r'out of range 1\.\.6 \(ids past '
                       r"the paper's 6 ops are user candidates and this "
                       'space has none; add them with extra_ops'):
        ArchSpec.parse_arch(text)
    with pytest.raises(ValueError, match='extra_attentions'):
        ArchSpec(attention=[[14]])
    spec = ArchSpec.parse_arch(text, PROBES)
    assert spec.backbone[0] == 7 and spec.attention == ((3, 14), )
    assert str(spec) == text
    with pytest.raises(ValueError, match=r'1\.\.14, got 15 .*has 1 '
                       r'\(up to 14\)'):
        ArchSpec(attention=[[15]], extra=PROBES)


def test_json_records_the_user_candidates_and_old_records_are_unchanged():
    spec = ArchSpec.parse_arch(f'{MV2_7} AttSet1(3,14)', PROBES)
    record = json.loads(spec.to_json())
    assert record['extra'] == dict(
        ops=[dict(type='ExtraProbeOp', tag='a')],
        attentions=[dict(type='ExtraProbeAttention')])
    assert ArchSpec.from_json(spec.to_json()) == spec
    paper = ArchSpec.parse_arch('AttSet1(12,13)+AttSet2(3,7)')
    assert 'extra' not in json.loads(paper.to_json())
    assert ArchSpec.from_json(paper.to_json()).extra == ExtraCandidates()
    # the same ids in another space are another network
    assert ArchSpec(attention=[[3]], extra=PROBES) != \
        ArchSpec(attention=[[3]])


# ----------------------------------------------------- the built space
def test_modules_size_alpha_beta_from_the_space():
    model = build_segmentor(num_layers=2)
    assert model.backbone.alpha.shape == (17, 6)
    cfg = dict(extra_ops=list(PROBES.ops),
               extra_attentions=list(PROBES.attentions))
    model = _searching(cfg)
    assert model.backbone.alpha.shape == (17, 7)
    assert model.decode_head.attention.beta.shape == (2, 14)
    block = model.backbone.layer2[0]          # stage 2's first block
    assert block[6].args['stride'] == 2 and block[6].args['tag'] == 'a'
    assert (block[6].args['in_channels'], block[6].args['out_channels']) == \
        model.backbone.block_settings[1][:2]
    out = model.decode_head(model.backbone(torch.randn(2, 3, 64, 128)))
    assert out.shape == (2, 4, 4, 8)


def _searching(extra_cfg, **kwargs):
    from attnas_mmseg.models import build_segmentor as build

    from ..._builders import segmentor_cfg
    cfg = segmentor_cfg(**kwargs)
    cfg['backbone']['extra_ops'] = extra_cfg.get('extra_ops', [])
    cfg['decode_head']['extra_attentions'] = extra_cfg.get(
        'extra_attentions', [])
    return build(cfg).train()


def test_flops_table_prices_user_candidates_by_hand():
    model = _searching(dict(extra_ops=list(PROBES.ops),
                            extra_attentions=list(PROBES.attentions)))
    table = build_flops_table(model, (64, 128))
    h, w = 32, 64                              # after the stride-2 stem
    for i, (cin, cout, stride, _) in enumerate(model.backbone.block_settings):
        h, w = math.ceil(h / stride), math.ceil(w / stride)
        assert table.backbone[i, 6] == h * w * cout * cin, i
    assert table.attention.shape == (14, )
    assert table.attention[13] == 4 * 8 * 320 * 320   # OS16 feature, C=320


def test_derivation_and_confidence_in_the_space():
    alpha = torch.zeros(17, 7)
    alpha[:, 2] = 1.0
    alpha[0, 6] = 2.0                          # op 7 wins block 1
    beta = torch.zeros(2, 14)
    beta[0, 13], beta[1, 2] = 3.0, 2.0         # Att14 in AttSet1
    spec = derive_arch(alpha, beta, topk=2, extra=PROBES)
    assert str(spec) == 'mv2(7' + ',3' * 16 + ') AttSet1(14)+AttSet2(3)'
    assert spec.extra == PROBES
    with pytest.raises(ValueError, match=r'alpha: expected shape \(17, 6\), '
                       r'got \(17, 7\).*ExtraCandidates'):
        derive_backbone(alpha)
    with pytest.raises(ValueError, match=r'beta: expected shape '
                       r'\(num_layers, 13\), got \(2, 14\)'):
        derive_arch(alpha, beta)
    assert backbone_confidence(alpha)[0].op == 7
    conf = attention_confidence(beta, topk=1)
    assert conf.last == (1, 14) and conf.first_out == (2, 3)
