"""Latency lookup table (LUT): each candidate's cost, measured on a device.

The file format (settings + one entry per part key), the check that a table
was measured with the settings asked for, and the :class:`~.cost_table.CostTable`
(``unit='ms'``) a table gives a segmentor: ``FLOPs_pred`` of §3.3.2 in ms
(Eq. 3-4 with the target in ms). Which parts a network is split into and how
they are keyed is :mod:`.latency_parts`; measuring them is
:mod:`attnas_mmseg.deploy.latency_measure`. Prediction of a fixed network is
the sum rule over its parts (:meth:`CostTable.network_cost`);
``docs/latency.md`` says how far that is from end-to-end latency.

**Settings.** A LUT records how it was measured: backend, device (and the
CPU/GPU model), threads, input size, batch 1, BN folded, opset, the memory
format of torch tables, and the versions of torch/mmcv/mmengine/mmseg (and
onnx/onnxruntime). Adding to a LUT with other settings, or loading it where
other settings are asked for, is refused with an error naming each differing
key. A table written before ``memory_format`` was recorded was timed NCHW: it
loads as ``'contiguous'`` (torch) or ``None`` (onnxruntime).
"""
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .cost_table import CostTable
from .latency_parts import LatencyPart, latency_parts

LUT_FORMAT = 1
ROLES = ('fixed', 'backbone', 'attention')
#: Settings a LUT records; a difference in any of them refuses the LUT.
SETTING_KEYS = ('format', 'backend', 'device', 'device_name', 'threads',
                'input_size', 'batch', 'fused', 'opset', 'memory_format',
                'versions')
#: What a table without ``memory_format`` was timed in, per backend.
LEGACY_MEMORY_FORMAT = {'torch': 'contiguous', 'onnxruntime': None}


def _flatten(settings: Dict[str, Any], prefix: str = '') -> Dict[str, Any]:
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = list(value) if isinstance(
                value, tuple) else value
    return flat


def settings_diff(found: Dict[str, Any],
                  wanted: Dict[str, Any]) -> List[str]:
    """``'key (LUT x, wanted y)'`` for each key of ``wanted`` that differs.

    Nested keys are dotted (``versions.torch``); a key the LUT lacks differs.
    """
    have, want = _flatten(found), _flatten(wanted)
    return [f'{key} (LUT {have.get(key, "missing")!r}, wanted {value!r})'
            for key, value in want.items() if have.get(key) != value]


# -------------------------------------------------------------- LUT file ----
class LatencyLUT:
    """A latency lookup table on disk: settings and one entry per key.

    The file is JSON ``{"format", "settings", "entries"}``; an entry holds
    ``ms`` (median), ``min_ms``, ``runs``, ``warmup``, ``label``, ``inputs``
    (shapes) and ``parts`` (the part names that share it). Every
    :meth:`add` rewrites the file atomically, so an interrupted build keeps
    every finished entry.
    """

    def __init__(self, path: Union[str, Path], settings: Dict[str, Any],
                 entries: Optional[Dict[str, Dict[str, Any]]] = None) -> None:
        self.path = Path(path)
        self.settings = settings
        self.entries: Dict[str, Dict[str, Any]] = dict(entries or {})
        #: Settings the file lacked, filled with what such a table was.
        self.inferred: List[str] = []

    @classmethod
    def load(cls, path: Union[str, Path]) -> 'LatencyLUT':
        path = Path(path)
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or 'settings' not in data or \
                'entries' not in data:
            raise ValueError(f'{path}: not a latency LUT (expected keys '
                             '"settings" and "entries")')
        if data['settings'].get('format') != LUT_FORMAT:
            raise ValueError(f'{path}: format '
                             f'{data["settings"].get("format")!r}, this code '
                             f'reads format {LUT_FORMAT}')
        lut = cls(path, data['settings'], data['entries'])
        if 'memory_format' not in lut.settings:
            lut.settings['memory_format'] = LEGACY_MEMORY_FORMAT.get(
                lut.settings.get('backend'))
            lut.inferred.append('memory_format')
        return lut

    @classmethod
    def open(cls, path: Union[str, Path],
             settings: Dict[str, Any]) -> 'LatencyLUT':
        """The LUT at ``path`` to add to, or a new one; refused if it was
        measured with other ``settings`` (every differing key named)."""
        path = Path(path)
        if not path.exists():
            return cls(path, settings)
        lut = cls.load(path)
        lut.check(**settings)
        return lut

    def check(self, **wanted: Any) -> None:
        """Raise ValueError naming every key of ``wanted`` that differs."""
        unknown = sorted(set(wanted) - set(SETTING_KEYS))
        if unknown:
            raise ValueError(f'settings: unknown keys {unknown}; allowed '
                             f'{list(SETTING_KEYS)}')
        diff = settings_diff(self.settings, wanted)
        if diff:
            note = ''.join(
                f' (the file predates the {key} setting: its entries were '
                f'timed {self.settings[key]!r})' for key in self.inferred
                if any(d.startswith(key + ' ') for d in diff))
            raise ValueError(
                f'{self.path}: latency LUT built for other settings: '
                + '; '.join(diff) + note + '. Build one for these settings '
                '(tools/build_latency_lut.py, docs/latency.md).')

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def ms(self, key: str) -> float:
        return float(self.entries[key]['ms'])

    def add(self, key: str, entry: Dict[str, Any]) -> None:
        self.entries[key] = entry
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + '.tmp')
        tmp.write_text(json.dumps(
            dict(format=LUT_FORMAT, settings=self.settings,
                 entries=self.entries), indent=1, sort_keys=True) + '\n')
        os.replace(tmp, self.path)


# ------------------------------------------------------------------- load ---


def part_latencies(lut: LatencyLUT, parts: Sequence[LatencyPart]
                   ) -> List[Tuple[LatencyPart, float]]:
    """(part, ms) for each part; ValueError naming the missing keys."""
    missing = list(dict.fromkeys(p.key for p in parts if p.key not in lut))
    if missing:
        raise ValueError(
            f'{lut.path}: the LUT lacks {len(missing)} of the '
            f'{len({p.key for p in parts})} op/shape entries this model '
            f'needs (op/shape set differs; it was built for input_size '
            f'{lut.settings.get("input_size")}), e.g. {missing[:3]}. Add '
            'them with tools/build_latency_lut.py on this model\'s config '
            'and the same settings.')
    return [(p, lut.ms(p.key)) for p in parts]


def load_latency_table(lut_path: Union[str, Path],
                       segmentor: nn.Module,
                       **wanted: Any) -> CostTable:
    """The ``CostTable`` (``unit='ms'``) of a segmentor from a LUT.

    Args:
        lut_path: A LUT written by ``tools/build_latency_lut.py``.
        segmentor: An ``EncoderDecoder`` (searching or fixed; on the
            ``meta`` device is enough).
        **wanted: Settings the LUT must have been measured with (keys of
            :data:`SETTING_KEYS`, e.g. ``backend='onnxruntime',
            threads=1, input_size=(512, 1024)``); each differing key is
            named in the ValueError.

    Returns:
        ``fixed`` = the sum of the fixed parts (in a fixed network: every
        part), ``backbone[i, j]`` = op j+1 of block i, ``attention[j]`` =
        Att(j+1), all in ms at the LUT's input size.
    """
    lut = LatencyLUT.load(lut_path)
    if 'input_size' in wanted:
        wanted['input_size'] = [int(v) for v in wanted['input_size']]
    lut.check(**wanted)
    if not isinstance(segmentor, nn.Module):
        raise TypeError('segmentor: expected a built EncoderDecoder (from a '
                        "config: attnas_mmseg.models.build_segmentor(cfg, "
                        f"device='meta')), got {type(segmentor).__name__}")
    size = tuple(lut.settings['input_size'])
    priced = part_latencies(lut, latency_parts(segmentor, size))
    fixed = sum(ms for p, ms in priced if p.role == 'fixed')
    backbone = attention = None
    if any(p.role == 'backbone' for p, _ in priced):
        backbone = torch.zeros(len(segmentor.backbone.block_settings),
                               segmentor.backbone.num_ops)
    if any(p.role == 'attention' for p, _ in priced):
        attention = torch.zeros(
            segmentor.decode_head.attention.num_candidates)
    for part, ms in priced:
        if part.role == 'backbone':
            backbone[part.index[0], part.index[1] - 1] = ms
        elif part.role == 'attention':
            attention[part.index[0] - 1] = ms
    num_layers = segmentor.decode_head.attention.num_layers \
        if attention is not None else 0
    return CostTable(input_size=size, fixed=float(fixed), backbone=backbone,
                     attention=attention, num_layers=num_layers, unit='ms')
