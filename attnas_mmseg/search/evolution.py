"""Evolutionary search over the AttNAS space (SPOS, Guo et al. 2020; as
mmrazor's ``EvolutionSearchLoop``) for any score and cost windows: random
generation 0, then mutants and crossovers of the top-k so far; each new
candidate inside every window scored once; the run is a JSON state that
resumes exactly. docs/design.md, "Evolutionary subnet search".
"""
import json
import math
import random
from dataclasses import asdict, dataclass, field, replace
from numbers import Integral, Real
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .space.arch_spec import ArchSpec
from .space.candidates import NUM_BLOCKS
from .space.extra_candidates import ExtraCandidates

#: Version of the :meth:`EvolutionSearch.state` record.
STATE_FORMAT = 1
#: Proposals per wanted mutant / crossover child before the generation is
#: topped up with random candidates instead (mmrazor: 10).
CHILD_TRIES = 100


def _int(name: str, value: Any, low: int, high: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or \
            value < low or (high is not None and value > high):
        allowed = f'in {low}..{high}' if high is not None else f'>= {low}'
        raise ValueError(f'{name} must be an int {allowed}, got {value!r}')
    return int(value)


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or \
            not math.isfinite(value):
        raise ValueError(f'{name} must be a finite number, got {value!r}')
    return float(value)


def _plain(value: Any) -> Any:
    """``value`` as JSON reads it back (tuples as lists)."""
    return json.loads(json.dumps(value))


@dataclass(frozen=True)
class SearchSpace:
    """The architectures a search may return (what §3.3.3 can derive).

    Attributes:
        num_layers: Attention layers L of the head.
        topk: Attention cells of every candidate, distinct, among L * C.
        backbone: Whether the backbone is searched (else no code).
        extra: The user candidates (ops 7.., Att14..); C = 13 + theirs.
    """
    num_layers: int = 2
    topk: int = 4
    backbone: bool = True
    extra: ExtraCandidates = field(default_factory=ExtraCandidates)

    def __post_init__(self) -> None:
        if not isinstance(self.extra, ExtraCandidates):
            object.__setattr__(self, 'extra',
                               ExtraCandidates.from_dict(self.extra))
        _int('num_layers', self.num_layers, 1)
        _int('topk', self.topk, 1, self.num_cells)
        if not isinstance(self.backbone, bool):
            raise TypeError(f'backbone must be a bool, got {self.backbone!r}')

    num_ops = property(lambda self: self.extra.num_ops)
    num_attentions = property(lambda self: self.extra.num_attentions)
    num_cells = property(lambda self: self.num_layers * self.num_attentions)

    def cells(self, spec: ArchSpec) -> List[int]:
        """The attention cells of ``spec``, flat (layer * C + id - 1), sorted.
        """
        per = self.num_attentions
        return sorted(layer * per + att - 1
                      for layer, ids in enumerate(spec.attention)
                      for att in ids)

    def make(self, code: Optional[Sequence[int]],
             cells: Sequence[int]) -> ArchSpec:
        """The spec of a backbone code and flat attention cells."""
        layers: List[List[int]] = [[] for _ in range(self.num_layers)]
        for flat in cells:
            layers[flat // self.num_attentions].append(
                flat % self.num_attentions + 1)
        return ArchSpec(attention=tuple(tuple(ids) for ids in layers),
                        backbone=None if code is None else tuple(code),
                        extra=self.extra)

    def check(self, spec: ArchSpec) -> ArchSpec:
        """``spec`` if it lies in this space, else ValueError saying why."""
        if spec.extra != self.extra:
            raise ValueError(f'spec: {spec} has other user candidates than '
                             'the space')
        if spec.num_layers != self.num_layers:
            raise ValueError(f'spec: {spec} has {spec.num_layers} attention '
                             f'layers, the space {self.num_layers}')
        if (spec.backbone is not None) != self.backbone:
            raise ValueError(f'spec: {spec} has a backbone code: '
                             f'{spec.backbone is not None}, the space '
                             f'searches the backbone: {self.backbone}')
        if len(self.cells(spec)) != self.topk:
            raise ValueError(f'spec: {spec} has {len(self.cells(spec))} '
                             f'attentions, the space {self.topk} (topk)')
        return spec

    def from_key(self, key: str) -> ArchSpec:
        """The spec of a key: ``str(spec)``, the paper notation, is unique
        within a space (trailing empty layers are restored from L)."""
        spec = ArchSpec.parse_arch(key, self.extra)
        pad = ((), ) * (self.num_layers - spec.num_layers)
        return self.check(ArchSpec(attention=spec.attention + pad,
                                   backbone=spec.backbone, extra=self.extra))

    def record(self) -> Dict[str, Any]:
        return dict(num_layers=self.num_layers, topk=self.topk,
                    backbone=self.backbone, extra=self.extra.to_dict())


def random_spec(rng: random.Random, space: SearchSpace) -> ArchSpec:
    """A uniform draw: every op with probability 1 / num_ops, the attention
    set uniform among the C(L * C, topk) subsets. Draws exactly as
    ``export.random_arch.sample_arch`` does (same seed, same spec)."""
    code = tuple(rng.randint(1, space.num_ops) for _ in range(NUM_BLOCKS)) \
        if space.backbone else None
    return space.make(code, rng.sample(range(space.num_cells), space.topk))


def mutate(rng: random.Random, spec: ArchSpec, space: SearchSpace,
           prob: float) -> ArchSpec:
    """Each block's op redrawn uniformly (maybe the same) with probability
    ``prob``; each attention cell replaced by a random cell the set does not
    hold with probability ``prob`` (still ``topk`` distinct cells)."""
    code = None if spec.backbone is None else tuple(
        rng.randint(1, space.num_ops) if rng.random() < prob else op
        for op in spec.backbone)
    cells = space.cells(spec)
    for i in range(len(cells)):
        if rng.random() < prob:
            unused = sorted(set(range(space.num_cells)) - set(cells))
            if unused:
                cells[i] = rng.choice(unused)
    return space.make(code, cells)


def crossover(rng: random.Random, a: ArchSpec, b: ArchSpec,
              space: SearchSpace) -> ArchSpec:
    """Each block's op from ``a`` or ``b`` with probability 1/2; ``topk``
    cells drawn uniformly from the union of the parents' cells."""
    code = None if a.backbone is None else tuple(
        x if rng.random() < 0.5 else y for x, y in zip(a.backbone,
                                                        b.backbone))
    union = sorted(set(space.cells(a)) | set(space.cells(b)))
    return space.make(code, rng.sample(union, space.topk))


@dataclass(frozen=True)
class Constraint:
    """A cost window: a candidate is scored only if ``low <= cost <= high``.

    Attributes:
        name: The cost's name in records (e.g. ``'flops_G'``).
        cost: The cost of a spec (e.g. a FLOPs table's ``network_cost``).
    """
    name: str
    cost: Callable[[ArchSpec], float]
    low: float
    high: float

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f'name: expected a non-empty str, got '
                             f'{self.name!r}')
        if not callable(self.cost):
            raise TypeError(f'cost: expected a callable, got '
                            f'{type(self.cost).__name__}')
        if _finite(f'{self.name} low', self.low) > _finite(
                f'{self.name} high', self.high):
            raise ValueError(f'{self.name}: the window ({self.low}, '
                             f'{self.high}) has low > high')


@dataclass(frozen=True)
class EvolutionSettings:
    """Defaults are mmrazor's SPOS search (20 x 50, top 10, 25 + 25, 0.1).

    Attributes:
        population: Candidates scored per generation.
        generations: Generations, the random generation 0 included.
        top_k: Best candidates so far that parent the next generation.
        num_mutation: Mutants per generation (of a random top-k parent).
        num_crossover: Crossover children per generation (of two).
        mutate_prob: Probability that a block's op / an attention cell is
            redrawn by a mutation.
        seed: Seeds ``random.Random``.
        max_tries: Random proposals per wanted candidate before giving up
            (a proposal outside a window or already scored is rejected).
    """
    population: int = 50
    generations: int = 20
    top_k: int = 10
    num_mutation: int = 25
    num_crossover: int = 25
    mutate_prob: float = 0.1
    seed: int = 0
    max_tries: int = 1000

    def __post_init__(self) -> None:
        for name, low in (('population', 1), ('generations', 1),
                          ('num_mutation', 0), ('num_crossover', 0),
                          ('seed', 0), ('max_tries', 1)):
            _int(name, getattr(self, name), low)
        _int('top_k', self.top_k, 1, self.population)
        if self.num_mutation + self.num_crossover > self.population:
            raise ValueError(
                f'num_mutation + num_crossover must be <= population '
                f'({self.population}), got {self.num_mutation} + '
                f'{self.num_crossover}')
        if not 0 <= _finite('mutate_prob', self.mutate_prob) <= 1:
            raise ValueError(f'mutate_prob must be in [0, 1], got '
                             f'{self.mutate_prob!r}')

    def record(self) -> Dict[str, Any]:
        return asdict(self)


class EvolutionSearch:
    """Evolve ``space``'s architectures towards a higher ``score(spec)``.

    Args:
        space: The architectures searched.
        score: Higher is better (e.g. a subnet's mIoU); called once per
            candidate, only for candidates inside every constraint.
        constraints: Cost windows every scored candidate satisfies.
        settings: Population, generations, ... (default: mmrazor's).
        on_candidate: Called with each candidate's record (``spec``,
            ``generation``, ``index``, ``origin``, ``costs``, ``score``) and
            the size of its generation, after it is scored.
        on_generation: Called with :meth:`state` after each generation.
    """

    def __init__(self, space: SearchSpace,
                 score: Callable[[ArchSpec], float],
                 constraints: Sequence[Constraint] = (),
                 settings: Optional[EvolutionSettings] = None,
                 on_candidate: Optional[Callable[[dict, int], None]] = None,
                 on_generation: Optional[Callable[[dict], None]] = None
                 ) -> None:
        self.space = space
        self.score = score
        self.constraints = tuple(constraints)
        names = [c.name for c in self.constraints]
        if len(set(names)) != len(names):
            raise ValueError(f'constraints: names must differ, got {names}')
        self.settings = settings or EvolutionSettings()
        self.on_candidate = on_candidate
        self.on_generation = on_generation
        self.rng = random.Random(self.settings.seed)
        self.generation = 0
        #: Every candidate scored, by key, in the order scored.
        self.records: Dict[str, Dict[str, Any]] = {}
        self.top_k: List[str] = []
        self._parents: List[ArchSpec] = []

    done = property(lambda self: self.generation >= self.settings.generations)

    @property
    def best(self) -> ArchSpec:
        """The best candidate scored, its record in ``meta``."""
        if not self.top_k:
            raise ValueError('best: no candidate has been scored yet')
        record = self.records[self.top_k[0]]
        return replace(self.space.from_key(record['spec']), meta=record)

    def run(self) -> ArchSpec:
        """Run the remaining generations; the best candidate."""
        while not self.done:
            self.step()
        return self.best

    def step(self) -> List[Dict[str, Any]]:
        """One generation: propose, score the new candidates, update the
        top-k; returns their records."""
        cfg, rng = self.settings, self.rng
        proposals: Dict[str, Tuple[ArchSpec, str, Dict[str, float]]] = {}
        tried: List[Dict[str, float]] = []

        def propose(make: Callable[[], ArchSpec], origin: str, wanted: int,
                    max_tries: int = CHILD_TRIES) -> None:
            got = tries = 0
            while got < wanted and tries < wanted * max_tries:
                tries += 1
                spec = make()
                key = str(spec)
                if key in self.records or key in proposals:
                    continue
                costs = {c.name: _finite(f'{c.name} of {spec}', c.cost(spec))
                         for c in self.constraints}
                tried.append(costs)
                if all(c.low <= costs[c.name] <= c.high
                       for c in self.constraints):
                    proposals[key] = (spec, origin, costs)
                    got += 1

        if self._parents:
            parents = self._parents
            propose(lambda: mutate(rng, rng.choice(parents), self.space,
                                   cfg.mutate_prob), 'mutation',
                    cfg.num_mutation)
            propose(lambda: crossover(rng, *self._pair(), self.space),
                    'crossover', cfg.num_crossover)
        propose(lambda: random_spec(rng, self.space), 'random',
                cfg.population - len(proposals), cfg.max_tries)
        if not proposals and not self.records:
            raise ValueError(
                'constraints: no architecture inside ' + ', '.join(
                    f'{c.name} [{c.low:.4g}, {c.high:.4g}]'
                    for c in self.constraints) +
                f' among {cfg.population * cfg.max_tries} random candidates '
                '(their costs ranged ' + ', '.join(
                    f'{c.name} {min(t[c.name] for t in tried):.4g} to '
                    f'{max(t[c.name] for t in tried):.4g}'
                    for c in self.constraints) +
                '); widen the window or move the target')
        records = []
        for index, (key, (spec, origin, costs)) in enumerate(
                proposals.items()):
            record = dict(spec=key, generation=self.generation, index=index,
                          origin=origin, costs=costs,
                          score=_finite(f'score of {key}', self.score(spec)))
            self.records[key] = record
            records.append(record)
            if self.on_candidate is not None:
                self.on_candidate(record, len(proposals))
        self._update_top_k()
        self.generation += 1
        if self.on_generation is not None:
            self.on_generation(self.state())
        return records

    def _pair(self) -> List[ArchSpec]:
        if len(self._parents) < 2:
            return self._parents * 2
        return self.rng.sample(self._parents, 2)

    def _update_top_k(self) -> None:
        # stable: among equal scores the earlier scored candidate ranks first
        ranked = sorted(self.records, key=lambda k: -self.records[k]['score'])
        self.top_k = ranked[:self.settings.top_k]
        self._parents = [self.space.from_key(k) for k in self.top_k]

    def identity(self) -> Dict[str, Any]:
        """What a state must match to be resumed (generations may grow)."""
        settings = self.settings.record()
        settings.pop('generations')
        return _plain(dict(space=self.space.record(), settings=settings,
                           constraints={c.name: [c.low, c.high]
                                        for c in self.constraints}))

    def state(self) -> Dict[str, Any]:
        """The whole run as JSON-serialisable data (:meth:`resume` reads it).
        """
        version, internal, gauss = self.rng.getstate()
        return dict(format=STATE_FORMAT, **self.identity(),
                    generations=self.settings.generations,
                    generation=self.generation,
                    rng=[version, list(internal), gauss],
                    population=[k for k, r in self.records.items()
                                if r['generation'] == self.generation - 1],
                    top_k=list(self.top_k),
                    evaluated=[dict(r) for r in self.records.values()])

    def resume(self, state: Dict[str, Any]) -> None:
        """Continue the run ``state`` recorded; refused (ValueError naming
        each differing key) if it had another space, settings or
        constraints. ``generations`` may differ: a run can be extended."""
        if not isinstance(state, dict) or \
                state.get('format') != STATE_FORMAT:
            raise ValueError(f'state: expected a format-{STATE_FORMAT} '
                             'evolution state')
        ours = self.identity()
        diff = [f'{part}.{key} (state {theirs.get(key)!r}, now '
                f'{values.get(key)!r})' for part, values in ours.items()
                for theirs in [_plain(state.get(part) or {})]
                for key in sorted(set(values) | set(theirs))
                if theirs.get(key) != values.get(key)]
        if diff:
            raise ValueError('state: recorded with other settings: ' +
                             '; '.join(diff))
        records = {}
        for record in state['evaluated']:
            self.space.from_key(record['spec'])
            records[record['spec']] = dict(record)
        version, internal, gauss = state['rng']
        self.rng.setstate((version, tuple(internal), gauss))
        self.generation = _int('generation', state['generation'], 0)
        self.records = records
        self._update_top_k()
