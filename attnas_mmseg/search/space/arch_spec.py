"""The derived architecture as data: validated, printed in the paper's notation.

Table 2 writes a searched network as a backbone code and an attention code::

    mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1)   AttSet1(12,13)+AttSet2(3,7)

:class:`ArchSpec` holds exactly that (op index 1-6 per backbone block, the
attention ids of each layer), plus free-form metadata (FLOPs, params, source
checkpoint), and round-trips the notation (grammar in :mod:`.arch_grammar`)
and JSON. A space with user candidates (:mod:`.extra_candidates`) has ops
7, 8, ... and attentions Att14, ...; the spec then carries their configs
(``extra``), so its ids are checked against that space, its ``arch.json``
names them, and a retrain config built from it builds them.

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
from collections.abc import Mapping, Sequence as SequenceABC
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union

from ...utils.atomic_write import write_new_file
from . import arch_grammar as grammar
from .arch_grammar import MAX_LAYERS, Layers, beyond_paper, short_repr
from .candidates import NUM_ATTENTIONS, NUM_BLOCKS, NUM_OPS
from .extra_candidates import ExtraCandidates

#: An ``arch.json`` record is a few hundred bytes; anything this large is not one.
MAX_RECORD_BYTES = 1 << 20

RECORD_KEYS = ('attention', 'backbone', 'notation', 'meta', 'extra')


def _is_int(value: Any) -> bool:
    """An integer that is not a bool (``True`` is not an id)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, SequenceABC) and not isinstance(
        value, (str, bytes, bytearray))


def _check_num_layers(num_layers: Any) -> Optional[int]:
    if num_layers is None:
        return None
    if not _is_int(num_layers):
        raise TypeError(f'num_layers: expected an int in 1..{MAX_LAYERS} or '
                        f'None, got {type(num_layers).__name__} '
                        f'{short_repr(num_layers)}')
    if not 1 <= num_layers <= MAX_LAYERS:
        raise ValueError(f'num_layers: expected an int in 1..{MAX_LAYERS}, '
                         f'got {short_repr(num_layers)}')
    return int(num_layers)


def _check_extra(extra: Any) -> ExtraCandidates:
    if isinstance(extra, ExtraCandidates):
        return extra
    return ExtraCandidates.from_dict(extra)


def _check_meta(meta: Any) -> Dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise TypeError(f'meta: expected a dict, got {type(meta).__name__}')
    return dict(meta)


def _layers(layers: Layers,
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
        attention: Attention ids (1-13, Table 1, and 14, ... for ``extra``'s)
            of each layer, at most :data:`MAX_LAYERS` layers; a layer may be
            empty (it then passes its input through), but not all of them.
        backbone: Op index (1-6, and 7, ... for ``extra``'s) of each of the
            17 blocks, or None when the backbone is not searched (e.g. the
            head on MMSeg's ResNet18).
        meta: JSON-serialisable extras (FLOPs, params, checkpoint, ...).
        extra: The space's user candidates (an :class:`ExtraCandidates` or
            its record); none by default, the paper's space.
    """
    attention: Tuple[Tuple[int, ...], ...]
    backbone: Optional[Tuple[int, ...]] = None
    meta: Dict[str, Any] = field(default_factory=dict, compare=False)
    extra: ExtraCandidates = field(default_factory=ExtraCandidates)

    def __post_init__(self) -> None:
        object.__setattr__(self, 'extra', _check_extra(self.extra))
        object.__setattr__(self, 'backbone', self.check_backbone(
            self.backbone, self.extra.num_ops))
        object.__setattr__(self, 'attention', self.check_attention(
            self.attention, self.extra.num_attentions))
        object.__setattr__(self, 'meta', _check_meta(self.meta))

    @property
    def num_ops(self) -> int:
        """Ops per block of the spec's space."""
        return self.extra.num_ops

    @property
    def num_attentions(self) -> int:
        """Attention candidates per layer of the spec's space."""
        return self.extra.num_attentions

    @staticmethod
    def check_backbone(backbone: Any,
                       num_ops: int = NUM_OPS) -> Optional[Tuple[int, ...]]:
        """``backbone`` as a tuple of 17 op indices in 1..``num_ops`` (None
        stays None)."""
        if backbone is None:
            return None
        if not _is_sequence(backbone):
            raise TypeError(f'backbone: expected a sequence of {NUM_BLOCKS} '
                            f'op indices, got {type(backbone).__name__} '
                            f'{short_repr(backbone)}')
        if len(backbone) != NUM_BLOCKS:
            raise ValueError(f'backbone: expected {NUM_BLOCKS} op indices, '
                             f'got {len(backbone)}')
        for i, op in enumerate(backbone):
            if not _is_int(op):
                raise TypeError(f'backbone: block {i + 1} op index must be '
                                f'an int in 1..{num_ops}, got '
                                f'{type(op).__name__} {short_repr(op)}')
            if not 1 <= op <= num_ops:
                raise ValueError(
                    f'backbone: block {i + 1} op index must be an int in '
                    f'1..{num_ops}, got {short_repr(op)}' + beyond_paper(
                        'op index', int(op), NUM_OPS, num_ops))
        return tuple(int(op) for op in backbone)

    @staticmethod
    def check_attention(attention: Any,
                        num_attentions: int = NUM_ATTENTIONS
                        ) -> Tuple[Tuple[int, ...], ...]:
        """``attention`` as a tuple of layers of sorted attention ids, each
        in 1..``num_attentions``."""
        if not _is_sequence(attention):
            hint = ('; use ArchSpec.parse or ArchSpec.coerce for the '
                    'notation') if isinstance(attention, str) else ''
            raise TypeError('attention: expected a sequence of layers (each '
                            f'a sequence of ids in 1..{num_attentions}), got '
                            f'{type(attention).__name__} '
                            f'{short_repr(attention)}{hint}')
        if not 1 <= len(attention) <= MAX_LAYERS:
            raise ValueError(f'attention: expected 1..{MAX_LAYERS} layers, '
                             f'got {len(attention)}')
        layers = []
        for li, layer in enumerate(attention):
            if not _is_sequence(layer):
                raise TypeError(f'attention: AttSet{li + 1} must be a '
                                f'sequence of ids in 1..{num_attentions}, '
                                f'got {type(layer).__name__} '
                                f'{short_repr(layer)}')
            if len(layer) > num_attentions:
                raise ValueError(f'attention: AttSet{li + 1} has '
                                 f'{len(layer)} ids; there are only '
                                 f'{num_attentions} attentions')
            for att in layer:
                if not _is_int(att):
                    raise TypeError(
                        f'attention: AttSet{li + 1} id must be an int in '
                        f'1..{num_attentions}, got {type(att).__name__} '
                        f'{short_repr(att)}')
                if not 1 <= att <= num_attentions:
                    raise ValueError(
                        f'attention: AttSet{li + 1} id must be an int in '
                        f'1..{num_attentions}, got {short_repr(att)}' +
                        beyond_paper('attention id', int(att),
                                     NUM_ATTENTIONS, num_attentions))
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
              meta: Optional[Dict[str, Any]] = None,
              extra: Optional[ExtraCandidates] = None) -> 'ArchSpec':
        """Parse Table 2's notation, e.g. ``'AttSet1(12,13)+AttSet2(3,7)'``
        and ``'mv2(3,3,2,...)'`` (grammar in :mod:`.arch_grammar`), in the
        space with the user candidates ``extra`` (none: the paper's).
        ``num_layers`` pads trailing empty layers.
        """
        if _is_sequence(attention):
            # layer lists: the constructor's message for a bad one, else a
            # pointer to the constructor
            cls.check_attention(attention)
            raise TypeError('attention: ArchSpec.parse reads the notation (a '
                            'string); pass layer lists to ArchSpec(attention='
                            '...) or ArchSpec.coerce')
        extra = _check_extra(extra)
        layers = grammar.parse_attention(attention, extra.num_attentions)
        bb = None if backbone is None else cls.parse_backbone(
            backbone, extra.num_ops)
        return cls(attention=_layers(layers, _check_num_layers(num_layers)),
                   backbone=bb, meta=_check_meta(meta), extra=extra)

    @staticmethod
    def parse_backbone(backbone: str,
                       num_ops: int = NUM_OPS) -> Tuple[int, ...]:
        """The 17 op indices of ``'mv2(i1,...,i17)'``, in 1..``num_ops``."""
        return grammar.parse_backbone(backbone, num_ops)

    @classmethod
    def parse_arch(cls, text: str,
                   extra: Optional[ExtraCandidates] = None) -> 'ArchSpec':
        """The printed form, ``'[mv2(...) ]AttSet1(...)+...'``, in the space
        with the user candidates ``extra`` (none: the paper's)."""
        extra = _check_extra(extra)
        bb, layers = grammar.parse_arch(text, extra.num_ops,
                                        extra.num_attentions)
        return cls(attention=_layers(layers, None), backbone=bb, extra=extra)

    def to_dict(self) -> Dict[str, Any]:
        """The JSON record; ``extra`` only for a space with user
        candidates (a paper-space record is as it always was)."""
        out = dict(
            backbone=None if self.backbone is None else list(self.backbone),
            attention=[list(ids) for ids in self.attention],
            notation=dict(backbone=self.backbone_notation,
                          attention=self.attention_notation),
            meta=self.meta)
        if self.extra:
            out['extra'] = self.extra.to_dict()
        return out

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
                   meta=_check_meta(data.get('meta')),
                   extra=_check_extra(data.get('extra')))
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
                        f'notation: {key} {short_repr(notation[key])} '
                        f'disagrees with the record\'s {key} list ({ours})')
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
        name = short_repr(str(path), 200)
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
                                 Sequence[Sequence[int]]],
               extra: Optional[ExtraCandidates] = None) -> 'ArchSpec':
        """Accept a spec, the notation, a record path, a dict record, or
        attention layers (a list of id lists).

        A string is a path only when it ends in ``.json`` or names an
        existing file; any other string must be the notation. The notation
        and layer lists are read in the space with the user candidates
        ``extra`` (none: the paper's); a spec or a record has its own.
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
            return cls.parse_arch(value, extra)
        if _is_sequence(value):
            return cls(attention=value, extra=_check_extra(extra))
        raise TypeError('arch: expected an ArchSpec, the paper notation '
                        '(str), a path to an arch.json, a dict record or a '
                        'list of attention-id lists, got '
                        f'{type(value).__name__} {short_repr(value)}')

