"""What a search is configured with, as one validated record.

:class:`SearchSettings` is read by the algorithm (``ArchUpdateHook``), stored
in every search checkpoint (:meth:`SearchSettings.record`) and read back by
derivation (``export/derived.py``), so none of them imports another to learn
a setting.
"""
import numbers
import os
from dataclasses import dataclass, fields
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from .cost.cost_loss import COST_LOSS_MODES
from .cost.cost_table import PRICINGS

#: Config keys of an ``ArchUpdateHook`` that are not search settings.
_HOOK_KEYS = ('type', 'arch_dataloader')


def _number(name: str, value: Any, zero_ok: bool = False) -> float:
    """``value`` as a float: a finite real number > 0 (>= 0 if ``zero_ok``);
    ``bool`` is refused."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and \
        abs(value) < float('inf') and (value >= 0 if zero_ok else value > 0)
    if not ok:
        raise ValueError(f'{name} must be a finite number '
                         f'{">= 0" if zero_ok else "> 0"}, got {value!r}')
    return float(value)


def _int(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int >= ``minimum``; ``bool`` is refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or value < minimum:
        raise ValueError(f'{name} must be an int >= {minimum}, got {value!r}')
    return int(value)


def _choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(f'{name} must be one of {tuple(allowed)}, got '
                         f'{value!r}')
    return value


def _pair(name: str, value: Any, what: str) -> tuple:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f'{name} must be {what}, got {value!r}')
    return tuple(value)


@dataclass(frozen=True)
class SearchSettings:
    """The settings of the alternating search (§3.3.2, Eq. 3-4, §4.2).

    Beyond the paper, and the defaults because they make a target a target
    (``docs/design.md``): the cost term is ``|Eq. 4|`` and FLOPs_pred prices
    the network that would be derived now.

    Attributes:
        flops_target: FLOPs_target of Eq. (4), in G at ``flops_input_size``.
            > 0.
        flops_weight: lambda of Eq. (3). >= 0.
        flops_loss_mode: 'abs' (pulled to the target from both sides),
            'hinge' (only exceeding it is penalised) or 'eq4_signed' (Eq. 4
            as printed: always pushes the cost down); also the latency term's.
        flops_pricing: 'derived' (the cost of the network derived now, top-k
            attentions included, straight-through gradient) or 'expected'
            (the paper's softmax-weighted average); also the latency term's.
        flops_input_size: (H, W) at which FLOPs are predicted (the paper's
            1024x2048), independent of the search crop. Ints > 0.
        attention_flops_scale: Multiplies the attention term of the
            'expected' FLOPs_pred (1: the paper's weighted sum). > 0.
        latency_lut: Path of a latency lookup table
            (``tools/build_latency_lut.py``); None: no latency term.
        latency_target: Target latency (ms, > 0); required with
            ``latency_lut``.
        latency_weight: Weight of the latency term in Eq. (3) (>= 0); with
            ``flops_weight=0`` the search targets latency only.
        gumbel_tau: (start, end) temperature of a 'gumbel' search, annealed
            linearly over the arch steps; None leaves the modules' ``tau``.
        warmup_epochs: Epochs without arch steps (epoch-based loops). >= 0.
        warmup_iters: Iterations without arch steps (any loop). >= 0.
        interval: An arch step every ``interval`` weight iterations. >= 1.
        topk: Attentions the derived head keeps (§3.3.3). >= 1.
        log_interval: Log the architecture every this many arch steps. >= 1.
    """
    flops_target: float = 30.0
    flops_weight: float = 0.1
    flops_loss_mode: str = 'abs'
    flops_pricing: str = 'derived'
    flops_input_size: Tuple[int, int] = (1024, 2048)
    attention_flops_scale: float = 1.0
    latency_lut: Optional[str] = None
    latency_target: Optional[float] = None
    latency_weight: float = 0.0
    gumbel_tau: Optional[Tuple[float, float]] = None
    warmup_epochs: int = 0
    warmup_iters: int = 0
    interval: int = 1
    topk: int = 4
    log_interval: int = 10

    def __post_init__(self) -> None:
        valid = dict(
            flops_target=_number('flops_target', self.flops_target),
            flops_weight=_number('flops_weight', self.flops_weight, True),
            flops_loss_mode=_choice('flops_loss_mode', self.flops_loss_mode,
                                    COST_LOSS_MODES),
            flops_pricing=_choice('flops_pricing', self.flops_pricing,
                                  PRICINGS),
            flops_input_size=tuple(
                _int(f'flops_input_size[{i}]', s, 1) for i, s in enumerate(
                    _pair('flops_input_size', self.flops_input_size,
                          '(H, W)'))),
            attention_flops_scale=_number('attention_flops_scale',
                                          self.attention_flops_scale),
            latency_weight=_number('latency_weight', self.latency_weight,
                                   True),
            gumbel_tau=None if self.gumbel_tau is None else tuple(
                _number(f'gumbel_tau[{i}]', t) for i, t in enumerate(
                    _pair('gumbel_tau', self.gumbel_tau, '(start, end)'))),
            warmup_epochs=_int('warmup_epochs', self.warmup_epochs, 0),
            warmup_iters=_int('warmup_iters', self.warmup_iters, 0),
            interval=_int('interval', self.interval, 1),
            topk=_int('topk', self.topk, 1),
            log_interval=_int('log_interval', self.log_interval, 1))
        if self.latency_lut is not None:
            if not isinstance(self.latency_lut, (str, os.PathLike)):
                raise ValueError('latency_lut must be a path or None, got '
                                 f'{self.latency_lut!r}')
            if self.latency_target is None:
                raise ValueError('latency_target: required (ms) with '
                                 'latency_lut')
            valid.update(latency_lut=os.fspath(self.latency_lut),
                         latency_target=_number('latency_target',
                                                self.latency_target))
        elif self.latency_target is not None or valid['latency_weight']:
            raise ValueError('latency_lut: latency_target/latency_weight '
                             'need a latency lookup table (latency_lut)')
        for name, value in valid.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_config(cls, hook_cfg: Mapping[str, Any]) -> 'SearchSettings':
        """The settings of a config's ``ArchUpdateHook`` dict (its ``type``
        and ``arch_dataloader`` aside); defaults where it is silent."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(hook_cfg) - set(names) - set(_HOOK_KEYS))
        if unknown:
            raise TypeError(f'ArchUpdateHook: unknown setting(s) {unknown}; '
                            f'the settings are {names}')
        return cls(**{k: v for k, v in hook_cfg.items()
                      if k not in _HOOK_KEYS})

    def record(self) -> Dict[str, object]:
        """What the search aimed at, as kept in every checkpoint
        (``checkpoint['arch_update_hook']['settings']``) and ``arch.json``:
        JSON-ready, with the unit in the key."""
        return dict(
            flops_target_G=self.flops_target,
            flops_input_size=list(self.flops_input_size),
            flops_loss_mode=self.flops_loss_mode,
            flops_pricing=self.flops_pricing,
            flops_weight=self.flops_weight,
            latency_lut=self.latency_lut,
            latency_target_ms=self.latency_target,
            latency_weight=self.latency_weight, topk=self.topk)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> 'SearchSettings':
        """The settings a checkpoint's :meth:`record` holds (defaults for
        what it does not record), validated."""
        renamed = dict(flops_target_G='flops_target',
                       latency_target_ms='latency_target')
        return cls(**{renamed.get(k, k): v for k, v in record.items()})

    def tau_at(self, iteration: int, first: int, last: int) -> float:
        """The Gumbel temperature (``gumbel_tau`` set) at ``iteration`` of a
        search whose arch steps run from iteration ``first`` to ``last``:
        linear from ``gumbel_tau[0]`` to ``gumbel_tau[1]``."""
        progress = min(max((iteration - first) / max(last - first, 1), 0.0),
                       1.0)
        start, end = self.gumbel_tau
        return start + progress * (end - start)
