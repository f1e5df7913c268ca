import json

import pytest

from attnas_mmseg.search import ArchSpec

ATTNAS_S = ('mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1)',
            'AttSet1(12,13)+AttSet2(3,7)')
ATTNAS_L = ('mv2(2,2,2,3,3,3,3,1,3,2,3,1,1,3,3,2,2)',
            'AttSet1(7,8,13)+AttSet2(7)')
ATT1 = ('mv2(2,3,5,6,4,6,3,1,1,4,3,1,1,6,1,1,6)', 'AttSet1(7,8,11,12)')
ATT3 = ('mv2(1,1,2,1,1,1,1,1,1,2,1,1,1,1,1,2,1)',
        'AttSet1(8,13)+AttSet2(8)+AttSet3(7)')


@pytest.mark.parametrize('backbone,attention',
                         [ATTNAS_S, ATTNAS_L, ATT1, ATT3])
def test_table2_notation_round_trips(backbone, attention):
    spec = ArchSpec.parse(attention, backbone)
    assert spec.backbone_notation == backbone
    assert spec.attention_notation == attention
    assert str(spec) == f'{backbone} {attention}'
    again = ArchSpec.from_json(spec.to_json())
    assert again == spec and str(again) == str(spec)
    assert ArchSpec.coerce(str(spec)) == spec


def test_parse_structure_and_meta_json(tmp_path):
    spec = ArchSpec.parse(ATTNAS_S[1], ATTNAS_S[0], meta=dict(flops=28.2))
    assert spec.attention == ((12, 13), (3, 7))
    assert spec.backbone[:3] == (3, 3, 2) and len(spec.backbone) == 17
    path = spec.save(tmp_path / 'arch.json')
    data = json.loads(path.read_text())
    assert data['notation']['attention'] == ATTNAS_S[1]
    assert ArchSpec.load(path).meta == dict(flops=28.2)
    with pytest.raises(FileExistsError):
        spec.save(path)
    assert json.loads(path.read_text()) == data  # not overwritten


def test_empty_layers_and_padding():
    spec = ArchSpec.parse('AttSet2(3)', num_layers=3)
    assert spec.attention == ((), (3, ), ())
    assert spec.attention_notation == 'AttSet2(3)'
    assert ArchSpec.parse('AttSet1(7,8,11,12)', num_layers=2).num_layers == 2


def test_ids_are_sorted_within_a_layer():
    assert ArchSpec(attention=((13, 12), )).attention == ((12, 13), )


@pytest.mark.parametrize('kwargs,field', [
    (dict(attention=((1, ), ), backbone=(1, ) * 16), 'backbone'),
    (dict(attention=((1, ), ), backbone=(1, ) * 16 + (7, )), 'backbone'),
    (dict(attention=((1, ), ), backbone=(0, ) + (1, ) * 16), 'backbone'),
    (dict(attention=((14, ), )), 'attention'),
    (dict(attention=((0, ), )), 'attention'),
    (dict(attention=((3, 3), )), 'attention'),
    (dict(attention=((), ())), 'attention'),
    (dict(attention=()), 'attention'),
])
def test_invalid_specs_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ArchSpec(**kwargs)


@pytest.mark.parametrize('attention,backbone,field', [
    ('AttSet1(1,2', None, 'attention'),
    ('Att1(1)', None, 'attention'),
    ('AttSet1(1)+AttSet1(2)', None, 'attention'),
    ('AttSet1(a)', None, 'attention'),
    ('AttSet1(1)', 'mv3(1)', 'backbone'),
    ('AttSet1(1)', 'mv2(1,2)', 'backbone'),
])
def test_invalid_notation(attention, backbone, field):
    with pytest.raises(ValueError, match=field):
        ArchSpec.parse(attention, backbone)
