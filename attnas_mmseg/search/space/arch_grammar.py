"""The paper's notation for a derived architecture: one grammar, one parser.

Table 2 writes a searched network as a backbone code and an attention code::

    mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1)   AttSet1(12,13)+AttSet2(3,7)

This grammar is read by :meth:`ArchSpec.parse <.arch_spec.ArchSpec.parse>`,
:meth:`~.arch_spec.ArchSpec.coerce` and so by every ``arch=`` argument that
takes a string (``AttNASHead``, ``SearchableMobileNetV2``,
``tools/derive_arch.py``, ``tools/plot_arch.py``)::

    arch      := [backbone] attention
    backbone  := "mv2" "(" op ("," op){16} ")"                  op in 1..6
    attention := layer ("+" layer)*
    layer     := "AttSet" L "(" id ("," id)* ")"    L in 1..MAX_LAYERS, id in 1..13

* a space with user candidates (:mod:`.extra_candidates`) has more: ops
  7, 8, ... and ids 14, 15, ...; every parser takes the space's counts
  (``num_ops``, ``num_attentions``; the paper's by default) and refuses an id
  beyond them, saying that ids past the paper's need user candidates;

* numbers are ASCII digits without a leading zero (``0``, ``012``, ``1_2``,
  ``١`` are refused); ``AttSet`` and ``L`` form one token (``AttSet1``);
* whitespace (ASCII space, tab, newline) is allowed between tokens only, so
  ``AttSet1( 12, 13 ) + AttSet2(3,7)`` is read and ``Att Set1(1)`` is not;
* layers are given in increasing order, each at most once; a layer not given
  is empty (it passes its input through); the ids of a layer are a set: any
  order, no repeats, printed sorted;
* ``MAX_LAYERS`` (8) bounds the layer number before anything is allocated:
  the paper searches 1-3 layers, and ``AttSet1000000000(1)`` must not build a
  billion empty layers.

A malformed string raises ``ValueError`` naming the field (``attention``,
``backbone`` or ``arch``), the position and the allowed form; a non-string
raises ``TypeError``. Nothing proportional to a number read is allocated.
"""
import re
from numbers import Integral
from typing import Any, Dict, List, Optional, Tuple

from .candidates import NUM_ATTENTIONS, NUM_BLOCKS, NUM_OPS

#: Largest attention layer number the notation and
#: :class:`~.arch_spec.ArchSpec` accept. The paper searches 1, 2 or 3 layers
#: (s-mv2-att1/2/3); 8 leaves room for deeper experiments while bounding what
#: a string can make us allocate.
MAX_LAYERS = 8


def attention_form(num_attentions: int = NUM_ATTENTIONS) -> str:
    """What the attention notation looks like, for messages."""
    return (f'"AttSet<l>(<id>,...)" items joined by "+", l in '
            f'1..{MAX_LAYERS} increasing, id in 1..{num_attentions} '
            '(ASCII digits), e.g. "AttSet1(12,13)+AttSet2(3,7)"')


def backbone_form(num_ops: int = NUM_OPS) -> str:
    return f'"mv2(<op>,...)" with {NUM_BLOCKS} op indices in 1..{num_ops}'


def arch_form(num_ops: int = NUM_OPS,
              num_attentions: int = NUM_ATTENTIONS) -> str:
    return (f'the paper notation [{backbone_form(num_ops)}, a space] then '
            f'{attention_form(num_attentions)}; or a path to an existing '
            'file or a .json record')


def beyond_paper(what: str, value: int, paper: int, high: int) -> str:
    """The hint after an out-of-range id past the paper's ``paper``: such
    ids are user candidates, of which this space has ``high - paper``."""
    if value <= max(high, paper):
        return ''
    op = what.startswith('op')
    noun, field = ('ops', 'extra_ops') if op else ('attentions',
                                                    'extra_attentions')
    extra = high - paper
    has = 'none' if extra == 0 else f'{extra} (up to {high})'
    return (f' (ids past the paper\'s {paper} {noun} are user candidates and '
            f'this space has {has}; add them with {field}: README, "Bring '
            'your own candidate")')


#: Attention layers as parsed: layer number (1-based) -> attention ids.
Layers = Dict[int, Tuple[int, ...]]

# One token at a time after optional ASCII whitespace: a keyword, a number,
# punctuation, or any other single character (then reported as unexpected).
# Trailing whitespace matches nothing: the scanner reads that as the end.
_TOKEN_RE = re.compile(r'[ \t\n\r\f\v]*((AttSet)([0-9]*)|(mv2)|([0-9]+)'
                       r'|([(),+])|([^ \t\n\r\f\v]))')
_MAX_DIGITS = 2  # every bound above is < 100: longer numbers are out of range


def short_repr(value: Any, limit: int = 60) -> str:
    """A bounded description of ``value`` for messages (inputs can be huge)."""
    if isinstance(value, (str, bytes, bytearray)):
        text = repr(value[:limit])
        return text + (f'... ({len(value)} long)' if len(value) > limit
                       else '')
    if isinstance(value, Integral) and not isinstance(value, bool):
        if int(value).bit_length() > 64:
            return f'<an int of {int(value).bit_length()} bits>'
        return repr(int(value))
    if isinstance(value, (bool, float, type(None))):
        return repr(value)
    return f'<{type(value).__name__}>'


class _Tokens:
    """The notation split into (kind, text, position) tokens, lazily."""

    def __init__(self, text: str, field_name: str, form: str,
                 num_ops: int = NUM_OPS,
                 num_attentions: int = NUM_ATTENTIONS) -> None:
        self.text, self.field, self.form = text, field_name, form
        self.num_ops, self.num_attentions = num_ops, num_attentions
        self.pos = 0
        self.peeked: Optional[Tuple[str, str, int]] = None

    def error(self, what: str) -> ValueError:
        return ValueError(f'{self.field}: {what} in '
                          f'{short_repr(self.text)}; expected {self.form}')

    def peek(self) -> Tuple[str, str, int]:
        if self.peeked is None:
            self.peeked = self._scan()
        return self.peeked

    def next(self) -> Tuple[str, str, int]:
        token = self.peek()
        self.peeked = None
        return token

    def _scan(self) -> Tuple[str, str, int]:
        match = _TOKEN_RE.match(self.text, self.pos)
        if match is None:
            self.pos = len(self.text)
            return ('end', '', self.pos)
        self.pos = match.end()
        start = match.start(1)
        if match.group(2):
            return ('AttSet', match.group(3), start)
        if match.group(4):
            return ('mv2', 'mv2', start)
        if match.group(5):
            return ('number', match.group(5), start)
        if match.group(6):
            return (match.group(6), match.group(6), start)
        return ('other', match.group(7), start)

    def expect(self, kind: str) -> Tuple[str, str, int]:
        token = self.next()
        if token[0] != kind:
            raise self.error(f'expected "{kind}" at character {token[2]}, '
                             f'got {self.describe(token)}')
        return token

    @staticmethod
    def describe(token: Tuple[str, str, int]) -> str:
        return 'the end' if token[0] == 'end' else repr(
            'AttSet' + token[1] if token[0] == 'AttSet' else token[1])

    def number(self, digits: str, what: str, high: int, position: int) -> int:
        """``digits`` as an int in 1..high, checked before converting."""
        if not digits:
            raise self.error(f'{what} missing at character {position}')
        if digits[0] == '0' and len(digits) > 1:
            raise self.error(f'{what} {digits!r} has a leading zero')
        if len(digits) > _MAX_DIGITS or not 1 <= int(digits) <= high:
            paper = dict(zip(('op index', 'attention id'),
                             (NUM_OPS, NUM_ATTENTIONS))).get(what)
            hint = '' if paper is None or len(digits) > _MAX_DIGITS else \
                beyond_paper(what, int(digits), paper, high)
            raise self.error(f'{what} {short_repr(digits, 12)} is out of '
                             f'range 1..{high}{hint}')
        return int(digits)

    def int_list(self, what: str, high: int, limit: int) -> List[int]:
        """``"(" n ("," n)* ")"``, at most ``limit`` numbers."""
        self.expect('(')
        values: List[int] = []
        while True:
            token = self.next()
            if token[0] != 'number':
                raise self.error(f'expected {what} at character {token[2]}, '
                                 f'got {self.describe(token)}')
            values.append(self.number(token[1], what, high, token[2]))
            if len(values) > limit:
                raise self.error(f'more than {limit} values')
            token = self.next()
            if token[0] == ')':
                return values
            if token[0] != ',':
                raise self.error(f'expected "," or ")" at character '
                                 f'{token[2]}, got {self.describe(token)}')

    def backbone(self) -> Tuple[int, ...]:
        self.expect('mv2')
        ops = self.int_list('op index', self.num_ops, NUM_BLOCKS)
        if len(ops) != NUM_BLOCKS:
            raise self.error(f'{len(ops)} op indices, not {NUM_BLOCKS}')
        return tuple(ops)

    def attention(self) -> Layers:
        layers: Layers = {}
        while True:
            token = self.next()
            if token[0] != 'AttSet':
                raise self.error(f'expected "AttSet<l>" at character '
                                 f'{token[2]}, got {self.describe(token)}')
            index = self.number(token[1], 'layer number', MAX_LAYERS,
                                token[2])
            if layers and index <= max(layers):
                raise self.error(f'AttSet{index} after AttSet{max(layers)}'
                                 ' (layers are given once, in increasing '
                                 'order)')
            ids = self.int_list('attention id', self.num_attentions,
                                self.num_attentions)
            if len(set(ids)) != len(ids):
                raise self.error(f'AttSet{index} repeats an id')
            layers[index] = tuple(ids)
            if self.peek()[0] != '+':
                return layers
            self.next()

    def end(self) -> None:
        token = self.next()
        if token[0] != 'end':
            raise self.error(f'unexpected {self.describe(token)} at '
                             f'character {token[2]}')


def _check_str(value: Any, field_name: str, form: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f'{field_name}: expected a string {form}, got '
                        f'{type(value).__name__} {short_repr(value)}')
    return value


def parse_attention(text: str,
                    num_attentions: int = NUM_ATTENTIONS) -> Layers:
    """The layers of ``'AttSet1(12,13)+AttSet2(3,7)'``; ids in
    1..``num_attentions`` (the space's candidates)."""
    form = attention_form(num_attentions)
    tokens = _Tokens(_check_str(text, 'attention', form), 'attention', form,
                     num_attentions=num_attentions)
    layers = tokens.attention()
    tokens.end()
    return layers


def parse_backbone(text: str, num_ops: int = NUM_OPS) -> Tuple[int, ...]:
    """The 17 op indices of ``'mv2(i1,...,i17)'``, each in 1..``num_ops``."""
    form = backbone_form(num_ops)
    tokens = _Tokens(_check_str(text, 'backbone', form), 'backbone', form,
                     num_ops=num_ops)
    ops = tokens.backbone()
    tokens.end()
    return ops


def parse_arch(text: str, num_ops: int = NUM_OPS,
               num_attentions: int = NUM_ATTENTIONS
               ) -> Tuple[Optional[Tuple[int, ...]], Layers]:
    """The backbone (None when absent) and layers of the printed form,
    ``'[mv2(...) ]AttSet1(...)+...'``."""
    form = arch_form(num_ops, num_attentions)
    tokens = _Tokens(_check_str(text, 'arch', form), 'arch', form, num_ops,
                     num_attentions)
    backbone = tokens.backbone() if tokens.peek()[0] == 'mv2' else None
    layers = tokens.attention()
    tokens.end()
    return backbone, layers
