"""Random architectures from the AttNAS search space: the baseline any search
must beat (Li & Talwalkar 2019; Yu et al. 2020).

The space is exactly what §3.3.3 can derive: one op (1-6, Eq. 1) for each of
the 17 backbone blocks, and ``topk`` distinct cells (layer, id) of the
L x 13 attention grid (Eq. 2's unified top-k; a layer may end up empty, as a
derived one can). :func:`sample_arch` draws from it uniformly: every op of
every block independently with probability 1/6, the attention set uniformly
among the C(13 L, topk) subsets. A space with user candidates (``extra``)
has 6 + its ops and 13 + its attentions to draw from.

:func:`sample_archs` adds a FLOPs window (e.g. +-10% of the derived
network's) by rejection: candidates outside it are discarded, so the accepted
ones are uniform over the architectures *inside* the window. Each candidate is
priced with the FLOPs table of the search model (:class:`~.cost_table.
CostTable.network_cost`: a sum of per-candidate entries, no model is built),
which equals the paper-convention count of the built network.

Uniform draws cluster at the space's median FLOPs: in the demo space at
720x960, 95% of them lie under 12.8G although the space reaches 20.2G, and
none of 20,000 draws cost over 18.1G. :func:`sample_archs_stratified` spreads a
draw over a window instead: network i comes from the i-th of ``strata``
equal-width FLOPs bins (cyclically), uniformly among the architectures inside
that bin, by a Metropolis random walk (Metropolis et al. 1953) that reaches
bins rejection sampling cannot. A ranking's ground truth drawn this way holds
networks whose capacities differ (issue 17), and its partial tau on FLOPs
still asks what a scorer knows beyond them.

Seeded with Python's ``random.Random(seed)``: the same seed gives the same
architectures, in the same order, on any machine and torch version, and the
first n of a longer draw are the n of a shorter one.
"""
import random
from dataclasses import replace
from typing import Callable, List, Optional, Sequence, Tuple, Union

from mmengine.config import Config

from ..models.builder import build_segmentor
from ..search.cost.flops import FLOPS_PER_G, build_flops_table
from ..search.evolution import SearchSpace, random_spec
from ..search.space.arch_spec import ArchSpec
from ..search.space.extra_candidates import ExtraCandidates

#: Candidates tried per accepted architecture before giving up.
MAX_TRIES = 100_000
#: Steps of the walk inside a stratum per network (after reaching it).
STRATUM_STEPS = 2000


def flops_window(reference: float, rel: float) -> Tuple[float, float]:
    """``(reference * (1 - rel), reference * (1 + rel))``; ``rel`` in [0, 1).
    """
    if not reference > 0:
        raise ValueError(f'reference: FLOPs must be > 0, got {reference!r}')
    if not 0 <= rel < 1:
        raise ValueError(f'rel: the window half-width must be in [0, 1), got '
                         f'{rel!r}')
    return reference * (1 - rel), reference * (1 + rel)


def sample_arch(rng: random.Random,
                num_layers: int = 2,
                topk: int = 4,
                backbone: bool = True,
                extra: Optional[ExtraCandidates] = None) -> ArchSpec:
    """One architecture drawn uniformly from the search space.

    Args:
        rng: The random source (``random.Random(seed)``).
        num_layers: Attention layers L of the searched head.
        topk: Attention cells to place, distinct, among the L * C.
        backbone: Whether the backbone is searched (else no code is drawn).
        extra: The space's user candidates (none: the paper's space).
    """
    extra = extra or ExtraCandidates()
    if not isinstance(num_layers, int) or isinstance(num_layers, bool) or \
            num_layers < 1:
        raise ValueError(f'num_layers must be an int >= 1, got '
                         f'{num_layers!r}')
    cells = num_layers * extra.num_attentions
    if not isinstance(topk, int) or isinstance(topk, bool) or \
            not 1 <= topk <= cells:
        raise ValueError(f'topk must be an int in 1..{cells} (the attention '
                         f'cells of {num_layers} layer(s)), got {topk!r}')
    return random_spec(rng, SearchSpace(num_layers, topk, bool(backbone),
                                        extra))


def sample_archs(num: int,
                 seed: int,
                 num_layers: int = 2,
                 topk: int = 4,
                 backbone: bool = True,
                 price: Optional[Callable[[ArchSpec], float]] = None,
                 window: Optional[Tuple[float, float]] = None,
                 max_tries: int = MAX_TRIES,
                 extra: Optional[ExtraCandidates] = None) -> List[ArchSpec]:
    """``num`` distinct uniform architectures, inside ``window`` if given.

    Args:
        price: FLOPs of a spec (e.g. ``table.network_cost``); required with
            ``window``, and recorded in each spec's meta (``sampled_flops``).
        window: (low, high) accepted FLOPs, same unit as ``price``.
        max_tries: Candidates per accepted architecture before a
            ``ValueError`` says the window is (nearly) empty.
        extra: The space's user candidates (none: the paper's space).

    Each spec's meta holds ``seed``, ``index`` (0-based), ``tries`` (the
    candidates drawn for it) and, with ``price``, ``sampled_flops``.
    """
    if not isinstance(num, int) or num < 1:
        raise ValueError(f'num must be an int >= 1, got {num!r}')
    if window is not None:
        if price is None:
            raise ValueError('price: needed to sample inside a FLOPs window')
        if not 0 <= window[0] <= window[1]:
            raise ValueError(f'window must be (low, high) with 0 <= low <= '
                             f'high, got {window!r}')
    rng = random.Random(seed)
    out: List[ArchSpec] = []
    seen = set()
    seen_range = [float('inf'), float('-inf')]
    for index in range(num):
        for tries in range(1, max_tries + 1):
            spec = sample_arch(rng, num_layers, topk, backbone, extra)
            flops = None if price is None else float(price(spec))
            if flops is not None:
                seen_range = [min(seen_range[0], flops),
                              max(seen_range[1], flops)]
            inside = window is None or window[0] <= flops <= window[1]
            if inside and spec not in seen:
                break
        else:
            raise ValueError(
                f'window: no new architecture in {window} after {max_tries} '
                f'candidates (their FLOPs ranged {seen_range[0]:.4g} to '
                f'{seen_range[1]:.4g}); widen the window')
        seen.add(spec)
        meta = dict(seed=seed, index=index, tries=tries)
        if flops is not None:
            meta['sampled_flops'] = flops
        out.append(replace(spec, meta=meta))
    return out


def _neighbour(rng: random.Random, spec: ArchSpec,
               space: SearchSpace) -> ArchSpec:
    """``spec`` with one choice changed: one of its 17 ops or ``topk`` cells
    (uniformly; no cell when the set holds every cell), to a different op or
    a cell the set does not hold (uniformly). The proposal is symmetric
    (A -> B as likely as B -> A), so a walk that accepts every move inside a
    set is uniform over the set."""
    blocks = len(spec.backbone) if spec.backbone is not None else 0
    cells = space.cells(spec)
    unused = sorted(set(range(space.num_cells)) - set(cells))
    slots = blocks + (len(cells) if unused else 0)
    if not slots:   # topk = every cell and no backbone: a single network
        return spec
    slot = rng.randrange(slots)
    code = spec.backbone
    if slot < blocks:
        op = rng.choice([o for o in range(1, space.num_ops + 1)
                         if o != code[slot]])
        code = code[:slot] + (op, ) + code[slot + 1:]
    else:
        cells[slot - blocks] = rng.choice(unused)
    return space.make(code, cells)


def sample_archs_stratified(num: int,
                            seed: int,
                            strata: int,
                            price: Callable[[ArchSpec], float],
                            window: Tuple[float, float],
                            num_layers: int = 2,
                            topk: int = 4,
                            backbone: bool = True,
                            steps: int = STRATUM_STEPS,
                            max_moves: int = MAX_TRIES,
                            extra: Optional[ExtraCandidates] = None
                            ) -> List[ArchSpec]:
    """``num`` distinct architectures spread over ``window`` (module doc).

    ``window`` is cut into ``strata`` equal-width bins of FLOPs; network i
    is drawn from bin ``i % strata``: a uniform draw (:func:`sample_arch`)
    walks to the bin by single changes that never move its FLOPs away from
    it, then takes ``steps`` steps of a Metropolis walk whose target is
    uniform over the bin (symmetric single-change proposals, accepted iff
    they stay inside; more steps if the spec was drawn before).

    Args:
        strata: Bins of the window (>= 1).
        price: FLOPs of a spec (e.g. ``table.network_cost``), recorded in
            each spec's meta (``sampled_flops``).
        window: (low, high) FLOPs, same unit as ``price``.
        steps: Walk steps inside the bin per network (>= 1).
        max_moves: Moves to reach a bin, or to leave the networks drawn
            before, until a ``ValueError`` says the bin holds no (new)
            architecture.
        extra: The space's user candidates (none: the paper's space).

    Each spec's meta holds ``seed``, ``index``, ``stratum`` (its bin's
    (low, high)), ``moves`` (steps taken) and ``sampled_flops``.
    """
    for name, value, low in (('num', num, 1), ('strata', strata, 1),
                             ('steps', steps, 1), ('max_moves', max_moves, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or \
                value < low:
            raise ValueError(f'{name} must be an int >= {low}, got {value!r}')
    if not 0 <= window[0] < window[1]:
        raise ValueError(f'window must be (low, high) with 0 <= low < high, '
                         f'got {window!r}')
    space = SearchSpace(num_layers, topk, bool(backbone),
                        extra or ExtraCandidates())
    width = (window[1] - window[0]) / strata
    rng = random.Random(seed)
    out: List[ArchSpec] = []
    seen = set()
    for index in range(num):
        low = window[0] + width * (index % strata)
        high = low + width

        def distance(flops: float) -> float:
            return max(low - flops, flops - high, 0.0)

        spec = sample_arch(rng, num_layers, topk, backbone, extra)
        flops = float(price(spec))
        climbed = walked = 0
        while distance(flops) > 0 or walked < steps or spec in seen:
            if distance(flops) > 0:
                climbed += 1
                if climbed > max_moves:
                    raise ValueError(
                        f'window: stratum {low:.4g} - {high:.4g} not reached '
                        f'in {max_moves} moves (stuck at {flops:.4g}); the '
                        'space may hold no architecture there: narrow the '
                        'window')
            else:
                walked += 1
                if walked > steps + max_moves:
                    raise ValueError(
                        f'window: no new architecture in stratum {low:.4g} - '
                        f'{high:.4g} after {walked} steps; use fewer '
                        'networks or strata')
            # outside: never away from the bin; inside: Metropolis with a
            # uniform target (stay inside, else keep the current spec)
            nxt = _neighbour(rng, spec, space)
            cost = float(price(nxt))
            if distance(cost) <= distance(flops):
                spec, flops = nxt, cost
        seen.add(spec)
        out.append(replace(spec, meta=dict(
            seed=seed, index=index, stratum=(low, high),
            moves=climbed + walked, sampled_flops=flops)))
    return out


def search_flops_table(config: str,
                       input_size: Optional[Sequence[int]] = None):
    """The FLOPs table of a search config's model (§3.3.2), at
    ``input_size`` (default: the config's ``derive.input_size``, else
    1024x2048). Built once; pricing a spec with it builds nothing."""
    cfg = Config.fromfile(config)
    size = tuple(input_size or cfg.get('derive', {}).get(
        'input_size', (1024, 2048)))
    table = build_flops_table(build_segmentor(cfg, init_weights=False), size)
    if table.attention is None:
        raise ValueError(f'config: {config} does not search the attention '
                         '(decode_head must be an AttNASHead with arch=None)')
    return table


def draw_archs(table, num: int, seed: int, topk: int,
               window: Optional[Tuple[float, float]] = None,
               strata: Optional[int] = None,
               extra: Optional[ExtraCandidates] = None) -> List[ArchSpec]:
    """``num`` architectures of the space ``table`` prices (its layers,
    whether it searches the backbone), priced in G at the table's size:
    uniform (:func:`sample_archs`, inside ``window`` if given) or, with
    ``strata``, spread over ``window`` (:func:`sample_archs_stratified`)."""
    draw = dict(num_layers=table.num_layers, topk=topk,
                backbone=table.backbone is not None,
                price=lambda s: table.network_cost(s) / FLOPS_PER_G,
                window=window, extra=extra)
    if strata is None:
        return sample_archs(num, seed, **draw)
    if window is None:
        raise ValueError('window: needed to spread a draw over strata')
    return sample_archs_stratified(num, seed, strata, **draw)


def flops_range(table, topk: int) -> Tuple[float, float]:
    """(cheapest, dearest) FLOPs of any architecture ``table`` prices with
    ``topk`` attentions: the cheapest/dearest op of every block plus the
    ``topk`` cheapest/dearest attention cells (every cell of a column costs
    the same: Att j on the head's feature, in any layer)."""
    low = high = float(table.fixed)
    if table.backbone is not None:
        low += float(table.backbone.min(-1).values.sum())
        high += float(table.backbone.max(-1).values.sum())
    cells = sorted([float(f) for f in table.attention] * table.num_layers)
    if not 1 <= topk <= len(cells):
        raise ValueError(f'topk must be in 1..{len(cells)}, got {topk!r}')
    return low + sum(cells[:topk]), high + sum(cells[-topk:])


def median_flops(table, topk: int = 4, num: int = 100, seed: int = 0,
                 extra: Optional[ExtraCandidates] = None) -> float:
    """FLOPs of the space's typical network: the median over ``num``
    uniform draws (seeded) priced with ``table``, e.g. a cost target that
    is sure to hold networks on both sides."""
    import statistics
    return statistics.median(
        s.meta['sampled_flops'] for s in sample_archs(
            num, seed, num_layers=table.num_layers, topk=topk,
            backbone=table.backbone is not None, price=table.network_cost,
            extra=extra))


def reference_flops(reference: Union[float, str, ArchSpec], table) -> float:
    """FLOPs of a window's reference: a number in G, or an architecture (an
    :class:`ArchSpec`, an ``arch.json`` path or the paper notation) priced
    with ``table``."""
    if isinstance(reference, (int, float)):
        return float(reference) * FLOPS_PER_G
    if isinstance(reference, str):
        try:
            return float(reference) * FLOPS_PER_G
        except ValueError:
            pass
    return float(table.network_cost(ArchSpec.coerce(reference)))
