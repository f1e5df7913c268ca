"""The latency LUT: parts and keys, settings refusal, the CostTable it gives.

No timing here (entries are written by hand, so the arithmetic is exact);
tests/tools/test_build_latency_lut.py times real entries.
"""
import json
import re

import pytest
import torch

from attnas_mmseg.search.space.arch_spec import ArchSpec
from attnas_mmseg.search.space.candidates import NUM_ATTENTIONS, NUM_OPS
from attnas_mmseg.deploy.latency_measure import lut_settings
from attnas_mmseg.models import build_segmentor as build
from attnas_mmseg.search.cost.latency_parts import latency_parts
from attnas_mmseg.search.cost.latency_table import (LatencyLUT,
                                         load_latency_table,
                                         settings_diff)

from ..._builders import build_segmentor, segmentor_cfg

SIZE = (32, 64)
SPEC = ArchSpec.parse('AttSet1(12,13)+AttSet2(3,7)',
                      'mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1)')
KEY_RE = re.compile(r'^(?P<label>[^@]+)@(?P<shape>[0-9x+]+)#[0-9a-f]{10}$')


@pytest.fixture(scope='module')
def search_seg():
    return build_segmentor(channels=96).eval()


@pytest.fixture(scope='module')
def parts(search_seg):
    return latency_parts(search_seg, SIZE)


def _lut(tmp_path, parts, name='lut.json'):
    """A LUT whose entry i (in plan order) costs i + 1 ms."""
    lut = LatencyLUT(tmp_path / name, lut_settings('torch', 'cpu', 1, SIZE))
    for i, key in enumerate(dict.fromkeys(p.key for p in parts)):
        lut.entries[key] = dict(ms=float(i + 1), label='')
    lut.save()
    return lut


def test_parts_cover_the_search_space(parts):
    by_role = {}
    for p in parts:
        by_role.setdefault(p.role, []).append(p)
    assert len(by_role['backbone']) == 17 * NUM_OPS
    assert sorted(p.index for p in by_role['attention']) == [
        (a, ) for a in range(1, NUM_ATTENTIONS + 1)]
    # channels 96 != 320: a bottleneck; in_channels == attention width: no
    # in_proj
    assert [p.name for p in by_role['fixed']] == [
        'stem', 'head.bottleneck', 'head.conv_seg', 'resize']
    for p in parts:
        match = KEY_RE.match(p.key)
        assert match, p.key
        assert match['label'] == p.label
        assert match['shape'] == '+'.join(
            'x'.join(map(str, s)) for s in p.input_shapes)


def test_shapes_each_part_sees(parts):
    shape = {p.name: p.input_shapes[0] for p in parts}
    assert shape['stem'] == (1, 3, 32, 64)
    assert shape['block1.op1'] == (1, 32, 16, 32)
    assert shape['block2.op6'] == (1, 16, 16, 32)
    assert shape['block3.op1'] == (1, 24, 8, 16)   # block 2 has stride 2
    assert shape['att7'] == (1, 320, 2, 4)          # output stride 16
    assert shape['head.conv_seg'] == (1, 96, 2, 4)
    assert shape['resize'] == (1, 4, 2, 4)
    assert next(p for p in parts if p.name == 'block2.op6').label == \
        'mv2_block(k5,e6,s2,d1,16>24)'


def test_identical_ops_share_a_key(parts):
    key = {p.name: p.key for p in parts}
    for op in range(1, NUM_OPS + 1):
        # blocks 5 and 6: 32->32, stride 1, same map: one entry
        assert key[f'block5.op{op}'] == key[f'block6.op{op}']
        # block 4 changes the width and strides: another entry
        assert key[f'block4.op{op}'] != key[f'block5.op{op}']
    assert len(set(key.values())) < len(key)
    assert len({key[f'block1.op{op}'] for op in range(1, 7)}) == 6


def test_fixed_network_reuses_the_search_keys(parts):
    fixed = build_segmentor(backbone_arch=list(SPEC.backbone),
                            head_arch=[list(a) for a in SPEC.attention],
                            channels=96).eval()
    fixed_parts = latency_parts(fixed, SIZE)
    assert {p.key for p in fixed_parts} <= {p.key for p in parts}
    assert all(p.role == 'fixed' for p in fixed_parts)
    # 1 stem + 17 ops + 4 attentions + bottleneck, conv_seg, resize
    assert len(fixed_parts) == 1 + 17 + 4 + 3


def test_sync_bn_and_bn_configs_share_keys(parts):
    cfg = segmentor_cfg(channels=96)
    cfg['backbone']['norm_cfg'] = dict(type='SyncBN', requires_grad=True)
    cfg['decode_head']['norm_cfg'] = dict(type='SyncBN', requires_grad=True)
    meta_parts = latency_parts(build(cfg, device='meta'), SIZE)
    assert [p.key for p in meta_parts] == [p.key for p in parts]


def test_table_is_the_lut(tmp_path, parts, search_seg):
    lut = _lut(tmp_path, parts)
    table = load_latency_table(lut.path, search_seg)
    assert table.unit == 'ms' and table.input_size == SIZE
    assert table.num_layers == 2
    ms = {p.name: lut.ms(p.key) for p in parts}
    assert table.fixed == pytest.approx(
        ms['stem'] + ms['head.bottleneck'] + ms['head.conv_seg'] +
        ms['resize'])
    for block in range(17):
        for op in range(1, NUM_OPS + 1):
            assert float(table.backbone[block, op - 1]) == \
                ms[f'block{block + 1}.op{op}']
    assert table.attention.tolist() == [
        ms[f'att{a}'] for a in range(1, NUM_ATTENTIONS + 1)]


def test_network_cost_is_the_sum_rule(tmp_path, parts, search_seg):
    lut = _lut(tmp_path, parts)
    table = load_latency_table(lut.path, search_seg)
    by_hand = sum(lut.ms(p.key) for p in parts if p.role == 'fixed')
    by_hand += sum(lut.ms(p.key) for p in parts if p.role == 'backbone'
                   and p.index == (p.index[0], SPEC.backbone[p.index[0]]))
    by_hand += sum(lut.ms(p.key) for p in parts if p.role == 'attention'
                   and p.index[0] in (12, 13, 3, 7))
    assert table.network_cost(SPEC) == pytest.approx(by_hand)
    # the fixed network priced directly from its own parts agrees
    cfg = segmentor_cfg(backbone_arch=list(SPEC.backbone),
                        head_arch=[list(a) for a in SPEC.attention],
                        channels=96)
    assert load_latency_table(lut.path, build(cfg, device='meta')).fixed == pytest.approx(by_hand)
    # and the expected latency is differentiable in alpha and beta
    alpha = torch.zeros(17, NUM_OPS, requires_grad=True)
    beta = torch.zeros(2, NUM_ATTENTIONS, requires_grad=True)
    table.predict(alpha, beta).backward()
    assert alpha.grad.abs().sum() > 0 and beta.grad.abs().sum() > 0


def test_lut_for_other_settings_is_refused(tmp_path, parts):
    lut = _lut(tmp_path, parts)
    other = lut_settings('torch', 'cpu', 2, SIZE)
    other['versions']['torch'] = '0.0.1'
    with pytest.raises(ValueError) as err:
        LatencyLUT.open(lut.path, other)
    message = str(err.value)
    assert 'threads (LUT 1, wanted 2)' in message
    assert 'versions.torch' in message
    assert 'backend' not in message
    for wanted, key in [(dict(backend='onnxruntime'), 'backend'),
                        (dict(input_size=(64, 128)), 'input_size'),
                        (dict(device='cuda'), 'device')]:
        with pytest.raises(ValueError, match=key):
            load_latency_table(lut.path, build(segmentor_cfg(channels=96), device='meta'),
                               **wanted)
    with pytest.raises(ValueError, match='unknown keys'):
        load_latency_table(lut.path, build(segmentor_cfg(channels=96), device='meta'), thread=1)
    # the same settings continue the LUT
    assert len(LatencyLUT.open(lut.path, lut.settings)) == len(lut)


def test_missing_entries_name_the_op_shape_set(tmp_path, parts):
    lut = _lut(tmp_path, parts)
    # five classes: a different classifier and resize than the LUT holds
    with pytest.raises(ValueError, match='op/shape set') as err:
        load_latency_table(lut.path, build(segmentor_cfg(
            channels=96, num_classes=5), device='meta'))
    assert 'lacks 2 of the' in str(err.value)
    assert 'head.conv_seg@1x96x2x4' in str(err.value)


def test_settings_diff_flattens():
    found = dict(threads=1, versions=dict(torch='2', mmcv='1'))
    assert settings_diff(found, dict(versions=dict(torch='2'))) == []
    assert settings_diff(found, dict(versions=dict(mmcv='2'))) == [
        "versions.mmcv (LUT '1', wanted '2')"]
    assert settings_diff(found, dict(batch=1)) == [
        "batch (LUT 'missing', wanted 1)"]


def test_file_is_json_with_settings(tmp_path, parts):
    lut = _lut(tmp_path, parts)
    data = json.loads(lut.path.read_text())
    assert set(data) == {'format', 'settings', 'entries'}
    assert data['settings']['input_size'] == list(SIZE)
    assert data['settings']['fused'] is True
    assert not list(tmp_path.glob('*.tmp'))
    with pytest.raises(ValueError, match='not a latency LUT'):
        (tmp_path / 'bad.json').write_text('{"a": 1}')
        LatencyLUT.load(tmp_path / 'bad.json')


def test_any_mmseg_backbone_and_head_are_fixed_parts():
    # mv2+ASPP: MMSeg's MobileNetV2 and ASPPHead, each timed as one part
    cfg = segmentor_cfg()
    cfg['backbone'] = dict(type='MobileNetV2', strides=(1, 2, 2, 2, 1, 1, 1),
                           dilations=(1, 1, 1, 1, 1, 2, 2),
                           out_indices=(1, 2, 4, 6))
    cfg['decode_head'] = dict(type='ASPPHead', in_channels=320, in_index=3,
                              channels=16, dilations=(1, 6, 12, 18),
                              num_classes=4, align_corners=False)
    parts = latency_parts(build(cfg, device='meta'), SIZE)
    assert [(p.name, p.label) for p in parts] == [
        ('backbone', 'backbone:MobileNetV2'),
        ('decode_head', 'decode_head:ASPPHead'), ('resize', 'resize')]
    # the head sees every backbone output (it picks in_index itself)
    assert parts[1].input_shapes == ((1, 24, 8, 16), (1, 32, 4, 8),
                                     (1, 96, 2, 4), (1, 320, 2, 4))
    assert parts[2].input_shapes == ((1, 4, 2, 4), )
