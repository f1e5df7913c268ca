"""Property-based tests of the paper notation's one grammar (issue 11).

Valid specs round-trip through the notation, JSON, dict records and
``coerce``; anything else raises only ``ValueError``/``TypeError``, without
allocating in proportion to a number it reads. Examples are
derandomised (the same ones every run) and modest in number: the suite runs on
2 CPU cores.
"""
import json
import re
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attnas_mmseg.search import ArchSpec
from attnas_mmseg.search.space.arch_spec import MAX_LAYERS
from attnas_mmseg.search.space.candidates import NUM_ATTENTIONS, NUM_BLOCKS, NUM_OPS

FAST = settings(max_examples=150, deadline=None,
                derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
ERRORS = (ValueError, TypeError)

backbones = st.none() | st.lists(st.integers(1, NUM_OPS),
                                 min_size=NUM_BLOCKS, max_size=NUM_BLOCKS)
layers = st.lists(
    st.frozensets(st.integers(1, NUM_ATTENTIONS), max_size=NUM_ATTENTIONS),
    min_size=1, max_size=MAX_LAYERS).filter(any)


@st.composite
def specs(draw) -> ArchSpec:
    attention = [list(ids) for ids in draw(layers)]
    for ids in attention:
        ids.sort(reverse=draw(st.booleans()))  # any order is accepted
    return ArchSpec(attention=attention, backbone=draw(backbones),
                    meta=dict(flops=draw(st.floats(0, 100))))


def without_trailing_empty(spec: ArchSpec) -> tuple:
    """The layers the notation prints: trailing empty ones carry nothing."""
    attention = list(spec.attention)
    while not attention[-1]:
        attention.pop()
    return tuple(attention)


@FAST
@given(specs())
def test_valid_specs_round_trip_through_the_notation(spec):
    again = ArchSpec.parse(spec.attention_notation, spec.backbone_notation,
                           num_layers=spec.num_layers)
    assert again == spec and str(again) == str(spec)
    coerced = ArchSpec.coerce(str(spec))
    assert coerced.attention == without_trailing_empty(spec)
    assert coerced.backbone == spec.backbone
    assert str(coerced) == str(spec)


@FAST
@given(specs())
def test_valid_specs_round_trip_through_json_dict_and_lists(spec):
    for again in (ArchSpec.from_json(spec.to_json()),
                  ArchSpec.coerce(json.loads(spec.to_json())),
                  ArchSpec.from_dict(spec.to_dict())):
        assert again == spec and again.meta == spec.meta
    lists = ArchSpec.coerce([list(ids) for ids in spec.attention])
    assert lists.attention == spec.attention and lists.backbone is None
    assert ArchSpec.coerce(spec) is spec


def tokens_of(spec: ArchSpec) -> list:
    """The printed form of ``spec`` as its list of tokens."""
    def numbers(values):
        return [t for v in values for t in (str(v), ',')][:-1]

    tokens = []
    if spec.backbone is not None:
        tokens += ['mv2', '('] + numbers(spec.backbone) + [')']
    items = [[f'AttSet{i + 1}', '('] + numbers(ids) + [')']
             for i, ids in enumerate(spec.attention) if ids]
    tokens += items[0]
    for item in items[1:]:
        tokens += ['+'] + item
    return tokens


@FAST
@given(st.data(), specs())
def test_whitespace_is_allowed_between_tokens(data, spec):
    blank = st.text(' \t\n', max_size=3)
    text = ''.join(data.draw(blank) + t for t in tokens_of(spec))
    assert str(ArchSpec.coerce(text + data.draw(blank))) == str(spec)


def check_only_value_or_type_error(call, *args) -> None:
    tracemalloc.start()
    try:
        call(*args)
    except ERRORS:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 2**20  # nothing in proportion to a number read (a billion layers)


@FAST
@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_value_or_type_error(text):
    check_only_value_or_type_error(ArchSpec.coerce, text)
    check_only_value_or_type_error(ArchSpec.parse, text)
    check_only_value_or_type_error(ArchSpec.parse, 'AttSet1(1)', text)


# characters that matter to the grammar, plus the look-alikes issue 11 found
MUTATION_ALPHABET = 'AttSetmv2()+, 0123456789_-.\u0661\u00a0\t'
NUM = '[1-9][0-9]*'
NUMS = f'{NUM}(?:,{NUM})*'
REFERENCE = re.compile(rf'(?:mv2\(({NUMS})\))?'
                       rf'((?:AttSet{NUM}\({NUMS}\)\+)*AttSet{NUM}\({NUMS}\))')


def reference_parse(text: str):
    """An independent reading of the grammar (module doc of arch_spec): the
    (attention, backbone) ``text`` denotes, or None where it is invalid."""
    if re.search(r'[A-Za-z0-9][ \t\n\r\f\v]+[A-Za-z0-9]', text):
        return None  # whitespace inside a token or between two numbers
    match = REFERENCE.fullmatch(re.sub(r'[ \t\n\r\f\v]', '', text))
    if match is None:
        return None
    backbone = None
    if match.group(1):
        backbone = tuple(int(v) for v in match.group(1).split(','))
        if len(backbone) != NUM_BLOCKS or not all(
                1 <= v <= NUM_OPS for v in backbone):
            return None
    layers = {}
    for number, ids in re.findall(rf'AttSet({NUM})\(({NUMS})\)',
                                  match.group(2)):
        ids = [int(v) for v in ids.split(',')]
        if not 1 <= int(number) <= MAX_LAYERS or (
                layers and int(number) <= max(layers)) or len(set(ids)) != len(
                    ids) or not all(1 <= v <= NUM_ATTENTIONS for v in ids):
            return None
        layers[int(number)] = tuple(sorted(ids))
    return tuple(layers.get(i, ()) for i in range(1, max(layers) + 1)), backbone


def check_against_reference(text: str) -> None:
    expected = reference_parse(text)
    try:
        parsed = ArchSpec.parse_arch(text)
    except ERRORS:
        assert expected is None, f'{text!r} refused, reference reads it'
        return
    assert expected == (parsed.attention, parsed.backbone), text


@FAST
@given(st.data(), specs())
def test_mutated_valid_strings_follow_the_grammar(data, spec):
    text = str(spec)
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(text)))
        char = data.draw(st.sampled_from(MUTATION_ALPHABET))
        kind = data.draw(st.sampled_from(['insert', 'delete', 'replace']))
        text = text[:pos] + ('' if kind == 'delete' else char) + text[
            pos + (kind != 'insert'):]
    check_only_value_or_type_error(ArchSpec.coerce, text)
    check_against_reference(text)


TOKEN_POOL = ['(', ')', ',', '+', 'mv2', 'AttSet', 'AttSet0', 'AttSet01',
              'AttSet1', 'AttSet2', f'AttSet{MAX_LAYERS + 1}', '0', '01', '03',
              '1', '3', '6', '7', '13', '14', '100', '1_2', '\u0661',
              '\u00a0', '\u2003', 'attset1', 'Mv2', ' ']


@FAST
@given(st.data(), specs())
def test_token_level_mutations_follow_the_grammar(data, spec):
    tokens = tokens_of(spec)
    for _ in range(data.draw(st.integers(1, 2))):
        i = data.draw(st.integers(0, len(tokens) - 1))
        kind = data.draw(
            st.sampled_from(['drop', 'repeat', 'swap', 'put', 'insert']))
        if kind == 'drop':
            del tokens[i]
        elif kind == 'insert':
            tokens.insert(i, data.draw(st.sampled_from(TOKEN_POOL)))
        elif kind == 'repeat':
            tokens.insert(i, tokens[i])
        elif kind == 'swap' and i + 1 < len(tokens):
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
        else:
            tokens[i] = data.draw(st.sampled_from(TOKEN_POOL))
    glue = st.sampled_from(['', '', ' ', '\t'])
    check_against_reference(''.join(t + data.draw(glue) for t in tokens))


@st.composite
def near_valid_text(draw) -> str:
    """Well-formed notation with one list (the backbone's ops, the layer
    numbers or one layer's ids) pushed just outside the search space."""
    backbone = draw(st.none() | st.lists(
        st.integers(1, NUM_OPS), min_size=NUM_BLOCKS, max_size=NUM_BLOCKS))
    numbers = sorted(draw(st.lists(st.integers(1, MAX_LAYERS), min_size=1,
                                   max_size=4, unique=True)))
    ids = [draw(st.lists(st.integers(1, NUM_ATTENTIONS), min_size=1,
                         max_size=4, unique=True)) for _ in numbers]
    lists = [(numbers, MAX_LAYERS)] + [(layer, NUM_ATTENTIONS)
                                       for layer in ids]
    if backbone is not None:
        lists.append((backbone, NUM_OPS))
    values, high = draw(st.sampled_from(lists))
    i = draw(st.integers(0, len(values) - 1))
    kind = draw(st.sampled_from(['drop', 'add', 'zero', 'high', 'repeat',
                                 'swap']))
    if kind == 'drop' and len(values) > 1:
        del values[i]
    elif kind == 'add':
        values.insert(i, draw(st.integers(1, high)))
    elif kind in ('zero', 'high'):
        values[i] = 0 if kind == 'zero' else high + 1
    elif kind == 'repeat':
        values.insert(i, values[i])
    elif kind == 'swap' and i + 1 < len(values):
        values[i], values[i + 1] = values[i + 1], values[i]
    text = '' if backbone is None else (
        'mv2(' + ','.join(map(str, backbone)) + ') ')
    return text + '+'.join(f'AttSet{n}(' + ','.join(map(str, layer)) + ')'
                           for n, layer in zip(numbers, ids))


@FAST
@given(near_valid_text())
def test_near_valid_notation_follows_the_grammar(text):
    check_against_reference(text)


@FAST
@given(st.text(MUTATION_ALPHABET, max_size=40))
def test_text_from_the_grammar_alphabet_follows_the_grammar(text):
    check_against_reference(text)


python_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats()
    | st.text(max_size=8) | st.binary(max_size=4),
    lambda inner: st.lists(inner, max_size=20) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=40)


@FAST
@given(python_values, python_values)
def test_arbitrary_values_raise_only_value_or_type_error(attention, backbone):
    check_only_value_or_type_error(
        lambda: ArchSpec(attention=attention, backbone=backbone))
    check_only_value_or_type_error(ArchSpec.coerce, attention)
    check_only_value_or_type_error(
        ArchSpec.from_dict, dict(attention=attention, backbone=backbone))
    check_only_value_or_type_error(ArchSpec.parse, 'AttSet1(1)', None,
                                   attention)


@pytest.mark.parametrize('text', [
    'AttSet1000000000(1)', 'AttSet99999999999999999999(1)',
    'AttSet1(' + '9' * 100000 + ')', 'mv2(' + '1,' * 100000 + '1) AttSet1(1)',
    'AttSet1(' + '1,' * 100000 + '1)', ' ' * 100000 + 'AttSet1(1)x',
])
def test_huge_numbers_and_lists_are_refused_without_allocating(text):
    tracemalloc.start()
    with pytest.raises(ValueError):
        ArchSpec.coerce(text)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2**20  # under 1 MiB, whatever the number


def test_many_layers_in_a_list_are_refused_before_building():
    with pytest.raises(ValueError, match=f'1..{MAX_LAYERS} layers'):
        ArchSpec(attention=[[1]] * (MAX_LAYERS + 1))
    with pytest.raises(ValueError, match='num_layers'):
        ArchSpec.parse('AttSet1(1)', num_layers=10**9)


not_a_layer = (st.none() | st.booleans() | st.integers(-2**63, 2**63)
               | st.floats(allow_nan=False, allow_infinity=False))


@FAST
@given(st.data(), specs(), not_a_layer)
def test_a_layer_that_is_no_sequence_gets_one_message_on_every_path(
        data, spec, bad):
    """Issue 19: ``AttentionLayers(arch=[5, [3, 8]])`` raised ``TypeError:
    'int' object is not iterable``, ``ArchSpec.parse`` of the list another
    message than the constructor's."""
    from attnas_mmseg.search.space.attention_space import AttentionLayers
    attention = [list(ids) for ids in spec.attention]
    where = data.draw(st.integers(0, len(attention) - 1))
    attention[where] = bad
    expected = (f'attention: AttSet{where + 1} must be a sequence of ids in '
                f'1..{NUM_ATTENTIONS}, got {type(bad).__name__} {bad!r}')
    paths = [lambda: ArchSpec(attention=attention, backbone=spec.backbone),
             lambda: ArchSpec.from_dict(dict(attention=attention)),
             lambda: ArchSpec.from_json(json.dumps(dict(attention=attention))),
             lambda: ArchSpec.coerce(attention),
             lambda: ArchSpec.coerce(dict(attention=attention)),
             lambda: ArchSpec.parse(attention),
             lambda: AttentionLayers(8, arch=attention)]
    for path in paths:
        with pytest.raises(TypeError) as error:
            path()
        assert str(error.value) == expected


def test_parse_points_layer_lists_to_the_constructor():
    with pytest.raises(TypeError, match=r'ArchSpec.parse reads the notation '
                       r'\(a string\); pass layer lists to ArchSpec'):
        ArchSpec.parse([[3, 8]])
