"""The derived architecture as data: validated, printed in the paper's notation.

Table 2 writes a searched network as a backbone code and an attention code::

    mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1)   AttSet1(12,13)+AttSet2(3,7)

:class:`ArchSpec` holds exactly that (op index 1-6 per backbone block, the
attention ids of each layer), plus free-form metadata (FLOPs, params, source
checkpoint), and round-trips the notation and JSON.

The notation has one grammar, used by :meth:`ArchSpec.parse`,
:meth:`ArchSpec.coerce` and so by every ``arch=`` argument that takes a string
(``AttNASHead``, ``SearchableMobileNetV2``, ``tools/derive_arch.py``,
``tools/plot_arch.py``)::

    arch      := [backbone] attention
    backbone  := "mv2" "(" op ("," op){16} ")"                  op in 1..6
    attention := layer ("+" layer)*
    layer     := "AttSet" L "(" id ("," id)* ")"    L in 1..MAX_LAYERS, id in 1..13

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

Printing then parsing gives the same spec, with one documented exception:
trailing empty layers are not printed (they do not change the network), so
``parse(str(spec), num_layers=spec.num_layers)`` restores them; JSON keeps them.

Every invalid input raises ``ValueError`` (a value outside the grammar or the
search space) or ``TypeError`` (a value of the wrong type), naming the field
(``attention``, ``backbone``, ``num_layers``, ``meta`` or ``arch``) and the
allowed form, before anything proportional to the claimed size is allocated.
"""
import json
import os
import os.path as osp
import re
from collections.abc import Mapping, Sequence as SequenceABC
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ..utils.atomic_write import write_new_file
from .candidates import NUM_ATTENTIONS, NUM_BLOCKS, NUM_OPS

#: Largest attention layer number the notation and :class:`ArchSpec` accept.
#: The paper searches 1, 2 or 3 layers (s-mv2-att1/2/3); 8 leaves room for
#: deeper experiments while bounding what a string can make us allocate.
MAX_LAYERS = 8

#: An ``arch.json`` record is a few hundred bytes; anything this large is not one.
MAX_RECORD_BYTES = 1 << 20

ATTENTION_FORM = (f'"AttSet<l>(<id>,...)" items joined by "+", l in '
                  f'1..{MAX_LAYERS} increasing, id in 1..{NUM_ATTENTIONS} '
                  '(ASCII digits), e.g. "AttSet1(12,13)+AttSet2(3,7)"')
BACKBONE_FORM = (f'"mv2(<op>,...)" with {NUM_BLOCKS} op indices in '
                 f'1..{NUM_OPS}')
ARCH_FORM = (f'the paper notation [{BACKBONE_FORM}, a space] then '
             f'{ATTENTION_FORM}; or a path to an existing file or a .json '
             'record')
RECORD_KEYS = ('attention', 'backbone', 'notation', 'meta')

# One token at a time after optional ASCII whitespace: a keyword, a number,
# punctuation, or any other single character (then reported as unexpected).
# Trailing whitespace matches nothing: the scanner reads that as the end.
_TOKEN_RE = re.compile(r'[ \t\n\r\f\v]*((AttSet)([0-9]*)|(mv2)|([0-9]+)'
                       r'|([(),+])|([^ \t\n\r\f\v]))')
_MAX_DIGITS = 2  # every bound above is < 100: longer numbers are out of range


def _short(value: Any, limit: int = 60) -> str:
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


def _is_int(value: Any) -> bool:
    """An integer that is not a bool (``True`` is not an id)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, SequenceABC) and not isinstance(
        value, (str, bytes, bytearray))


class _Tokens:
    """The notation split into (kind, text, position) tokens, lazily."""

    def __init__(self, text: str, field_name: str, form: str) -> None:
        self.text, self.field, self.form = text, field_name, form
        self.pos = 0
        self.peeked: Optional[Tuple[str, str, int]] = None

    def error(self, what: str) -> ValueError:
        return ValueError(f'{self.field}: {what} in {_short(self.text)}; '
                          f'expected {self.form}')

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
            raise self.error(f'{what} {_short(digits, 12)} is out of range '
                             f'1..{high}')
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
        ops = self.int_list('op index', NUM_OPS, NUM_BLOCKS)
        if len(ops) != NUM_BLOCKS:
            raise self.error(f'{len(ops)} op indices, not {NUM_BLOCKS}')
        return tuple(ops)

    def attention(self) -> Dict[int, Tuple[int, ...]]:
        layers: Dict[int, Tuple[int, ...]] = {}
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
            ids = self.int_list('attention id', NUM_ATTENTIONS,
                                NUM_ATTENTIONS)
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
                        f'{type(value).__name__} {_short(value)}')
    return value


def _check_num_layers(num_layers: Any) -> Optional[int]:
    if num_layers is None:
        return None
    if not _is_int(num_layers):
        raise TypeError(f'num_layers: expected an int in 1..{MAX_LAYERS} or '
                        f'None, got {type(num_layers).__name__} '
                        f'{_short(num_layers)}')
    if not 1 <= num_layers <= MAX_LAYERS:
        raise ValueError(f'num_layers: expected an int in 1..{MAX_LAYERS}, '
                         f'got {_short(num_layers)}')
    return int(num_layers)


def _check_meta(meta: Any) -> Dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise TypeError(f'meta: expected a dict, got {type(meta).__name__}')
    return dict(meta)


def _layers(layers: Dict[int, Tuple[int, ...]],
            num_layers: Optional[int]) -> Tuple[Tuple[int, ...], ...]:
    total = max(layers)
    if num_layers is not None:
        if num_layers < total:
            raise ValueError(f'num_layers: {num_layers} is less than the '
                             f'AttSet{total} used')
        total = num_layers
    return tuple(layers.get(i + 1, ()) for i in range(total))


@dataclass(frozen=True)
class ArchSpec:
    """A derived AttNAS architecture.

    Args:
        attention: Attention ids (1-13, Table 1) of each layer, at most
            :data:`MAX_LAYERS` layers; a layer may be empty (it then passes
            its input through), but not all of them.
        backbone: Op index (1-6) of each of the 17 blocks, or None when the
            backbone is not searched (e.g. the head on MMSeg's ResNet18).
        meta: JSON-serialisable extras (FLOPs, params, checkpoint, ...).
    """
    attention: Tuple[Tuple[int, ...], ...]
    backbone: Optional[Tuple[int, ...]] = None
    meta: Dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, 'backbone',
                           self.check_backbone(self.backbone))
        object.__setattr__(self, 'attention',
                           self.check_attention(self.attention))
        object.__setattr__(self, 'meta', _check_meta(self.meta))

    @staticmethod
    def check_backbone(backbone: Any) -> Optional[Tuple[int, ...]]:
        """``backbone`` as a tuple of 17 op indices (None stays None)."""
        if backbone is None:
            return None
        if not _is_sequence(backbone):
            raise TypeError(f'backbone: expected a sequence of {NUM_BLOCKS} '
                            f'op indices, got {type(backbone).__name__} '
                            f'{_short(backbone)}')
        if len(backbone) != NUM_BLOCKS:
            raise ValueError(f'backbone: expected {NUM_BLOCKS} op indices, '
                             f'got {len(backbone)}')
        for i, op in enumerate(backbone):
            if not _is_int(op):
                raise TypeError(f'backbone: block {i + 1} op index must be '
                                f'an int in 1..{NUM_OPS}, got '
                                f'{type(op).__name__} {_short(op)}')
            if not 1 <= op <= NUM_OPS:
                raise ValueError(f'backbone: block {i + 1} op index must be '
                                 f'an int in 1..{NUM_OPS}, got {_short(op)}')
        return tuple(int(op) for op in backbone)

    @staticmethod
    def check_attention(attention: Any) -> Tuple[Tuple[int, ...], ...]:
        """``attention`` as a tuple of layers of sorted attention ids."""
        if not _is_sequence(attention):
            hint = ('; use ArchSpec.parse or ArchSpec.coerce for the '
                    'notation') if isinstance(attention, str) else ''
            raise TypeError('attention: expected a sequence of layers (each '
                            f'a sequence of ids in 1..{NUM_ATTENTIONS}), got '
                            f'{type(attention).__name__} '
                            f'{_short(attention)}{hint}')
        if not 1 <= len(attention) <= MAX_LAYERS:
            raise ValueError(f'attention: expected 1..{MAX_LAYERS} layers, '
                             f'got {len(attention)}')
        layers = []
        for li, layer in enumerate(attention):
            if not _is_sequence(layer):
                raise TypeError(f'attention: AttSet{li + 1} must be a '
                                f'sequence of ids in 1..{NUM_ATTENTIONS}, '
                                f'got {type(layer).__name__} {_short(layer)}')
            if len(layer) > NUM_ATTENTIONS:
                raise ValueError(f'attention: AttSet{li + 1} has '
                                 f'{len(layer)} ids; there are only '
                                 f'{NUM_ATTENTIONS} attentions')
            for att in layer:
                if not _is_int(att):
                    raise TypeError(
                        f'attention: AttSet{li + 1} id must be an int in '
                        f'1..{NUM_ATTENTIONS}, got {type(att).__name__} '
                        f'{_short(att)}')
                if not 1 <= att <= NUM_ATTENTIONS:
                    raise ValueError(
                        f'attention: AttSet{li + 1} id must be an int in '
                        f'1..{NUM_ATTENTIONS}, got {_short(att)}')
            ids = tuple(sorted(int(att) for att in layer))
            if len(set(ids)) != len(ids):
                raise ValueError(f'attention: AttSet{li + 1} repeats an id: '
                                 f'{ids}')
            layers.append(ids)
        if not any(layers):
            raise ValueError('attention: at least one attention is required')
        return tuple(layers)

    @property
    def num_layers(self) -> int:
        return len(self.attention)

    @property
    def backbone_notation(self) -> Optional[str]:
        if self.backbone is None:
            return None
        return 'mv2(' + ','.join(map(str, self.backbone)) + ')'

    @property
    def attention_notation(self) -> str:
        return '+'.join(f'AttSet{i + 1}(' + ','.join(map(str, ids)) + ')'
                        for i, ids in enumerate(self.attention) if ids)

    def __str__(self) -> str:
        if self.backbone is None:
            return self.attention_notation
        return f'{self.backbone_notation} {self.attention_notation}'

    @classmethod
    def parse(cls,
              attention: str,
              backbone: Optional[str] = None,
              num_layers: Optional[int] = None,
              meta: Optional[Dict[str, Any]] = None) -> 'ArchSpec':
        """Parse Table 2's notation, e.g. ``'AttSet1(12,13)+AttSet2(3,7)'``
        and ``'mv2(3,3,2,...)'`` (grammar in the module docstring).
        ``num_layers`` pads trailing empty layers.
        """
        tokens = _Tokens(_check_str(attention, 'attention', ATTENTION_FORM),
                         'attention', ATTENTION_FORM)
        layers = tokens.attention()
        tokens.end()
        bb = None if backbone is None else cls.parse_backbone(backbone)
        return cls(attention=_layers(layers, _check_num_layers(num_layers)),
                   backbone=bb, meta=_check_meta(meta))

    @staticmethod
    def parse_backbone(backbone: str) -> Tuple[int, ...]:
        """The 17 op indices of ``'mv2(i1,...,i17)'``."""
        tokens = _Tokens(_check_str(backbone, 'backbone', BACKBONE_FORM),
                         'backbone', BACKBONE_FORM)
        ops = tokens.backbone()
        tokens.end()
        return ops

    @classmethod
    def parse_arch(cls, text: str) -> 'ArchSpec':
        """The printed form, ``'[mv2(...) ]AttSet1(...)+...'``."""
        tokens = _Tokens(_check_str(text, 'arch', ARCH_FORM), 'arch',
                         ARCH_FORM)
        bb = tokens.backbone() if tokens.peek()[0] == 'mv2' else None
        layers = tokens.attention()
        tokens.end()
        return cls(attention=_layers(layers, None), backbone=bb)

    def to_dict(self) -> Dict[str, Any]:
        return dict(
            backbone=None if self.backbone is None else list(self.backbone),
            attention=[list(ids) for ids in self.attention],
            notation=dict(backbone=self.backbone_notation,
                          attention=self.attention_notation),
            meta=self.meta)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'ArchSpec':
        """The record :meth:`to_dict` writes. ``notation``, when present,
        must agree with the lists (a hand-edited file is not half-read)."""
        if not isinstance(data, Mapping):
            raise TypeError('arch: expected a dict record with keys '
                            f'{RECORD_KEYS}, got {type(data).__name__}')
        unknown = sorted(map(str, set(data) - set(RECORD_KEYS)))
        if unknown:
            raise ValueError(f'arch: unknown keys {unknown} in the record; '
                             f'allowed: {RECORD_KEYS}')
        if 'attention' not in data:
            raise ValueError('attention: missing from the architecture record')
        spec = cls(attention=data['attention'],
                   backbone=data.get('backbone'),
                   meta=_check_meta(data.get('meta')))
        notation = data.get('notation')
        if notation is not None:
            if not isinstance(notation, Mapping):
                raise TypeError('notation: expected a dict with "attention" '
                                f'and "backbone", got '
                                f'{type(notation).__name__}')
            for key, ours in (('attention', spec.attention_notation),
                              ('backbone', spec.backbone_notation)):
                if key in notation and notation[key] != ours:
                    raise ValueError(
                        f'notation: {key} {_short(notation[key])} disagrees '
                        f'with the record\'s {key} list ({ours})')
        return spec

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: Union[str, bytes]) -> 'ArchSpec':
        try:
            data = json.loads(text)
        except RecursionError:
            raise ValueError('arch: the JSON record is nested too deeply'
                             ) from None
        except (TypeError, ValueError) as err:
            raise ValueError(f'arch: not a JSON record ({err})') from None
        return cls.from_dict(data)

    def save(self, path: Union[str, Path], overwrite: bool = False) -> Path:
        """Write JSON to ``path``; refuses to replace a file unless told.

        The record goes to a new temporary file beside ``path`` first and is
        renamed over it, so no other file is touched and ``path`` is never
        left half-written.
        """
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f'{path} exists; pass overwrite=True to '
                                  'replace it')
        path.parent.mkdir(parents=True, exist_ok=True)
        write_new_file(path, self.to_json() + '\n')
        return path

    @classmethod
    def load(cls, path: Union[str, Path]) -> 'ArchSpec':
        """Read a record written by :meth:`save`; errors name the file."""
        name = _short(str(path), 200)
        try:
            size = os.stat(path).st_size
            if size <= MAX_RECORD_BYTES:
                with open(path, 'rb') as f:
                    text = f.read()
        except (OSError, ValueError) as err:  # ValueError: a NUL in the path
            reason = getattr(err, 'strerror', None) or err
            raise ValueError(f'arch: cannot read the architecture record '
                             f'{name}: {reason}') from None
        if size > MAX_RECORD_BYTES:
            raise ValueError(f'arch: {name} is {size} bytes, too large for '
                             'an architecture record')
        try:
            return cls.from_json(text)
        except (TypeError, ValueError) as err:
            raise type(err)(f'{err} (in {name})') from None

    @classmethod
    def coerce(cls, value: Union['ArchSpec', str, Path, Dict[str, Any],
                                 Sequence[Sequence[int]]]) -> 'ArchSpec':
        """Accept a spec, the notation, a record path, a dict record, or
        attention layers (a list of id lists).

        A string is a path only when it ends in ``.json`` or names an
        existing file; any other string must be the notation.
        """
        if isinstance(value, ArchSpec):
            return value
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        if isinstance(value, Path):
            return cls.load(value)
        if isinstance(value, str):
            if value.endswith('.json') or osp.isfile(value):
                return cls.load(value)
            return cls.parse_arch(value)
        if _is_sequence(value):
            return cls(attention=value)
        raise TypeError('arch: expected an ArchSpec, the paper notation '
                        '(str), a path to an arch.json, a dict record or a '
                        'list of attention-id lists, got '
                        f'{type(value).__name__} {_short(value)}')

