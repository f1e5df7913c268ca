"""The derived architecture as data: validated, printed in the paper's notation.

Table 2 writes a searched network as a backbone code and an attention code::

    mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1)   AttSet1(12,13)+AttSet2(3,7)

:class:`ArchSpec` holds exactly that (op index 1-6 per backbone block, the
attention ids of each layer), plus free-form metadata (FLOPs, params, source
checkpoint), and round-trips the notation and JSON.
"""
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union

from .candidates import NUM_ATTENTIONS, NUM_BLOCKS, NUM_OPS

_BACKBONE_RE = re.compile(r'^\s*mv2\(([^()]*)\)\s*$')
_LAYER_RE = re.compile(r'^\s*AttSet(\d+)\(([^()]*)\)\s*$')


def _ints(text: str, field_name: str) -> Tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(',') if t.strip())
    except ValueError:
        raise ValueError(f'{field_name}: expected comma-separated integers, '
                         f'got {text!r}') from None


@dataclass(frozen=True)
class ArchSpec:
    """A derived AttNAS architecture.

    Args:
        attention: Attention ids (1-13, Table 1) of each layer; a layer may be
            empty (it then passes its input through).
        backbone: Op index (1-6) of each of the 17 blocks, or None when the
            backbone is not searched (e.g. the head on MMSeg's ResNet18).
        meta: JSON-serialisable extras (FLOPs, params, checkpoint, ...).
    """
    attention: Tuple[Tuple[int, ...], ...]
    backbone: Optional[Tuple[int, ...]] = None
    meta: Dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.backbone is not None:
            backbone = tuple(self.backbone)
            if len(backbone) != NUM_BLOCKS:
                raise ValueError(f'backbone: expected {NUM_BLOCKS} op indices'
                                 f', got {len(backbone)}')
            for i, op in enumerate(backbone):
                if not isinstance(op, int) or not 1 <= op <= NUM_OPS:
                    raise ValueError(f'backbone: block {i + 1} op index must '
                                     f'be an int in 1..{NUM_OPS}, got {op!r}')
            object.__setattr__(self, 'backbone', backbone)
        if isinstance(self.attention, (str, bytes)) or not len(
                self.attention):
            raise ValueError('attention: expected a non-empty sequence of '
                             f'layers, got {self.attention!r}')
        layers = []
        for li, layer in enumerate(self.attention):
            ids = tuple(layer)
            for att in ids:
                if not isinstance(att, int) or not 1 <= att <= NUM_ATTENTIONS:
                    raise ValueError(
                        f'attention: AttSet{li + 1} id must be an int in '
                        f'1..{NUM_ATTENTIONS}, got {att!r}')
            if len(set(ids)) != len(ids):
                raise ValueError(f'attention: AttSet{li + 1} repeats an id: '
                                 f'{ids}')
            layers.append(tuple(sorted(ids)))
        if not any(layers):
            raise ValueError('attention: at least one attention is required')
        object.__setattr__(self, 'attention', tuple(layers))

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
        and ``'mv2(3,3,2,...)'``. ``num_layers`` pads trailing empty layers.
        """
        bb = None
        if backbone is not None:
            match = _BACKBONE_RE.match(backbone)
            if not match:
                raise ValueError('backbone: expected "mv2(i1,...,i17)", got '
                                 f'{backbone!r}')
            bb = _ints(match.group(1), 'backbone')
        layers: Dict[int, Tuple[int, ...]] = {}
        for part in attention.split('+'):
            match = _LAYER_RE.match(part)
            if not match:
                raise ValueError('attention: expected "AttSet<l>(ids)" joined'
                                 f' by "+", got {part!r}')
            index = int(match.group(1))
            if index < 1 or index in layers:
                raise ValueError(f'attention: AttSet{index} is out of range '
                                 'or given twice')
            layers[index] = _ints(match.group(2), 'attention')
        total = max(layers)
        if num_layers is not None:
            if num_layers < total:
                raise ValueError(f'num_layers: {num_layers} is less than the '
                                 f'AttSet{total} used')
            total = num_layers
        return cls(attention=tuple(layers.get(i + 1, ())
                                   for i in range(total)),
                   backbone=bb, meta=dict(meta or {}))

    def to_dict(self) -> Dict[str, Any]:
        return dict(
            backbone=None if self.backbone is None else list(self.backbone),
            attention=[list(ids) for ids in self.attention],
            notation=dict(backbone=self.backbone_notation,
                          attention=self.attention_notation),
            meta=self.meta)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'ArchSpec':
        if 'attention' not in data:
            raise ValueError('attention: missing from the architecture record')
        backbone = data.get('backbone')
        return cls(attention=tuple(tuple(ids) for ids in data['attention']),
                   backbone=None if backbone is None else tuple(backbone),
                   meta=dict(data.get('meta') or {}))

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> 'ArchSpec':
        return cls.from_dict(json.loads(text))

    def save(self, path: Union[str, Path], overwrite: bool = False) -> Path:
        """Write JSON to ``path``; refuses to replace a file unless told."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f'{path} exists; pass overwrite=True to '
                                  'replace it')
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + '\n')
        return path

    @classmethod
    def load(cls, path: Union[str, Path]) -> 'ArchSpec':
        return cls.from_json(Path(path).read_text())

    @classmethod
    def coerce(cls, value: Union['ArchSpec', str, Dict[str, Any],
                                 Sequence[Sequence[int]]]) -> 'ArchSpec':
        """Accept a spec, a JSON path, a dict record, or attention layers."""
        if isinstance(value, ArchSpec):
            return value
        if isinstance(value, dict):
            return cls.from_dict(value)
        if isinstance(value, (str, Path)):
            text = str(value)
            if text.strip().startswith(('AttSet', 'mv2')):
                parts = text.split()
                bb = [p for p in parts if p.startswith('mv2')]
                att = [p for p in parts if p.startswith('AttSet')]
                if len(att) != 1 or len(bb) > 1:
                    raise ValueError(f'arch: cannot parse {text!r}')
                return cls.parse(att[0], bb[0] if bb else None)
            return cls.load(text)
        return cls(attention=tuple(tuple(layer) for layer in value))
