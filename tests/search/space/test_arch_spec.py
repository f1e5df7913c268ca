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


# ---------------------------------------------------------------- issue 11
S_LAYERS = ((12, 13), (3, 7))


@pytest.mark.parametrize('text', [
    'AttSet1(12,13) +AttSet2(3,7)',    # was: AttSet2 silently dropped
    'AttSet1(12, 13)+AttSet2(3,7)',    # was: refused by coerce
    ' AttSet1( 12 ,13 )\n+\tAttSet2 (3,7) ',
    'AttSet1(13,12)+AttSet2(7,3)',     # ids of a layer are a set
])
def test_whitespace_between_tokens_keeps_every_layer(text):
    assert ArchSpec.coerce(text).attention == S_LAYERS
    assert ArchSpec.parse(text).attention == S_LAYERS


@pytest.mark.parametrize('text,fragment', [
    ('AttSet1(12,13)+AttSet2(3,7) oops', "unexpected 'o'"),
    ('attset1(3)', 'AttSet<l>'),       # was: FileNotFoundError
    ('', 'got the end'),               # was: IsADirectoryError
    ('   ', 'got the end'),
    ('AttSet1000000000(1)', 'out of range 1..8'),  # was: MemoryError
    ('AttSet9(1)', 'out of range 1..8'),
    ('AttSet0(1)', 'out of range 1..8'),
    ('AttSet1(12,,13)', "got ','"),
    ('AttSet1(1_2)', "got '_'"),
    ('AttSet1(\u0661)', 'got'),         # ARABIC-INDIC DIGIT ONE
    ('AttSet1(\uff11)', 'got'),         # FULLWIDTH DIGIT ONE
    ('AttSet1(3)\u00a0', 'unexpected'),  # NO-BREAK SPACE is not whitespace
    ('AttSet1(3)+\u2003AttSet2(4)', 'got'),
    ('AttSet1(012)', 'leading zero'),
    ('AttSet01(3)', 'leading zero'),
    ('AttSet1()', 'expected attention id'),
    ('AttSet1(0)', 'out of range 1..13'),
    ('AttSet1(14)', 'out of range 1..13'),
    ('AttSet1(3,3)', 'repeats'),
    ('AttSet2(3)+AttSet1(4)', 'increasing order'),
    ('AttSet1(3)+AttSet1(4)', 'increasing order'),
    ('AttSet 1(3)', 'layer number missing'),
    ('Att Set1(3)', 'expected "AttSet<l>"'),
    ('AttSet1(1 2)', "got '2'"),
    ('AttSet1(3)+', 'got the end'),
    ('AttSet1(3) mv2(' + '1,' * 16 + '1)', "unexpected 'mv2'"),
    ('mv2(' + '1,' * 15 + '1) AttSet1(3)', '16 op indices, not 17'),
    ('mv2(' + '1,' * 17 + '1) AttSet1(3)', 'more than 17'),
    ('mv2(' + '1,' * 16 + '7) AttSet1(3)', 'out of range 1..6'),
    ('mv2(' + '1,' * 16 + '1)', 'got the end'),
])
def test_invalid_notation_is_a_value_error_with_the_allowed_form(
        text, fragment):
    with pytest.raises(ValueError, match='^arch: ') as err:
        ArchSpec.coerce(text)
    assert fragment in str(err.value)
    assert 'AttSet<l>(<id>,...)' in str(err.value)  # the allowed form


@pytest.mark.parametrize('call,error,field', [
    (lambda: ArchSpec.parse(None), TypeError, 'attention'),  # AttributeError
    (lambda: ArchSpec.parse(b'AttSet1(1)'), TypeError, 'attention'),
    (lambda: ArchSpec.parse('AttSet1(1)', 5), TypeError, 'backbone'),
    (lambda: ArchSpec.parse('AttSet1(1)', 'mv2(1)'), ValueError, 'backbone'),
    (lambda: ArchSpec.parse('AttSet1(1)', num_layers=True), TypeError,
     'num_layers'),
    (lambda: ArchSpec.parse('AttSet1(1)', num_layers=9), ValueError,
     'num_layers'),
    (lambda: ArchSpec.parse('AttSet1(1)', meta=[1]), TypeError, 'meta'),
    (lambda: ArchSpec(attention=[5]), TypeError, 'attention'),
    (lambda: ArchSpec(attention=5), TypeError, 'attention'),
    (lambda: ArchSpec(attention='AttSet1(1)'), TypeError, 'attention'),
    (lambda: ArchSpec(attention=((True, 2), )), TypeError, 'attention'),
    (lambda: ArchSpec(attention=((2.0, ), )), TypeError, 'attention'),
    (lambda: ArchSpec(attention=[[1]] * 9), ValueError, 'attention'),
    (lambda: ArchSpec(attention=[list(range(1, 15))]), ValueError,
     'attention'),
    (lambda: ArchSpec(attention=((1, ), ), backbone=5), TypeError,
     'backbone'),
    (lambda: ArchSpec(attention=((1, ), ), backbone=[True] * 17), TypeError,
     'backbone'),
    (lambda: ArchSpec(attention=((1, ), ), meta='x'), TypeError, 'meta'),
    (lambda: ArchSpec.coerce(None), TypeError, 'arch'),
    (lambda: ArchSpec.coerce(3), TypeError, 'arch'),
    (lambda: ArchSpec.coerce(True), TypeError, 'arch'),
    (lambda: ArchSpec.coerce([[True]]), TypeError, 'attention'),
    (lambda: ArchSpec.from_dict([1]), TypeError, 'arch'),
    (lambda: ArchSpec.from_dict(dict(attention=[[1]], atention=[])),
     ValueError, 'unknown keys'),
])
def test_wrong_types_and_values_name_the_field(call, error, field):
    with pytest.raises(error, match=field):
        call()


def test_true_is_not_an_id_and_never_printed():
    with pytest.raises(TypeError, match='bool'):
        ArchSpec(attention=((True, 2), ))
    assert str(ArchSpec(attention=((1, 2), ))) == 'AttSet1(1,2)'


def test_integer_like_ids_are_stored_as_int():
    import numpy as np
    spec = ArchSpec(attention=[[np.int64(3)]], backbone=[np.int32(2)] * 17)
    assert type(spec.attention[0][0]) is int and str(spec).endswith(
        'AttSet1(3)')
    assert ArchSpec.coerce(str(spec)) == spec


def test_a_string_is_a_path_only_for_json_or_an_existing_file(
        tmp_path, monkeypatch):
    spec = ArchSpec.parse(ATTNAS_S[1], ATTNAS_S[0])
    record = spec.save(tmp_path / 'arch.json')
    assert ArchSpec.coerce(str(record)) == spec
    assert ArchSpec.coerce(record) == spec
    no_suffix = tmp_path / 'derived_arch'
    no_suffix.write_text(spec.to_json())
    assert ArchSpec.coerce(str(no_suffix)) == spec
    with pytest.raises(ValueError, match='missing.json'):
        ArchSpec.coerce(str(tmp_path / 'missing.json'))
    (tmp_path / 'folder.json').mkdir()
    with pytest.raises(ValueError, match='folder.json'):
        ArchSpec.coerce(str(tmp_path / 'folder.json'))
    monkeypatch.chdir(tmp_path)  # a missing path without .json: notation
    with pytest.raises(ValueError, match='expected the paper notation'):
        ArchSpec.coerce('derived/arch')


@pytest.mark.parametrize('content,fragment', [
    ('', 'not a JSON record'),
    ('{"attention": [[1]]', 'not a JSON record'),
    ('[' * 100000 + ']' * 100000, 'nested too deeply'),
    ('{"attention": [[1]], "notation": {"attention": "AttSet1(2)"}}',
     'disagrees'),
    ('{"attention": [[true]]}', 'bool'),
    ('{"attention": [[1e400]]}', 'float'),
    ('{"backbone": [1]}', 'attention: missing'),
    ('\xff\xfe', 'not a JSON record'),
])
def test_bad_records_name_the_file(tmp_path, content, fragment):
    path = tmp_path / 'arch.json'
    path.write_bytes(content.encode('latin-1'))
    with pytest.raises((ValueError, TypeError), match=fragment) as err:
        ArchSpec.load(path)
    assert str(path) in str(err.value)


def test_huge_record_is_refused_before_reading(tmp_path):
    path = tmp_path / 'arch.json'
    with open(path, 'wb') as f:
        f.truncate(2 << 20)  # sparse: nothing is really written
    with pytest.raises(ValueError, match='too large'):
        ArchSpec.coerce(str(path))


def test_save_does_not_touch_other_files(tmp_path):
    spec = ArchSpec.parse(ATTNAS_S[1])
    mine = tmp_path / 'arch.json.tmp'
    mine.write_text('mine')
    spec.save(tmp_path / 'arch.json')
    spec.save(tmp_path / 'arch.json', overwrite=True)
    assert mine.read_text() == 'mine'
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'arch.json', 'arch.json.tmp']


def test_head_and_backbone_arch_use_the_same_grammar():
    from mmseg.registry import MODELS

    from ..._builders import NORM
    head = MODELS.build(dict(
        type='AttNASHead', arch='AttSet1(12,13) +AttSet2(3,7)',
        in_channels=16, channels=16, num_classes=3, norm_cfg=NORM))
    assert head.attention.arch == S_LAYERS
    for bad in ('AttSet1(12,13)+AttSet2(3,7) oops', 'attset1(3)', ''):
        with pytest.raises(ValueError, match='arch'):
            MODELS.build(dict(type='AttNASHead', arch=bad, in_channels=16,
                              channels=16, num_classes=3, norm_cfg=NORM))
    with pytest.raises(ValueError, match='backbone'):
        MODELS.build(dict(type='SearchableMobileNetV2',
                          arch='mv2(' + '1,' * 16 + '1_1)'))
