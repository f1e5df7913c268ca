"""Whether K searches agree: per-block op agreement and attention-set overlap,
against what chance would give (``tools/compare_searches.py``)."""
import itertools
import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Dict, FrozenSet, List, Sequence, Tuple

from ..search.space.arch_spec import ArchSpec
from ..search.space.candidates import NUM_OPS

@dataclass(frozen=True)
class BlockAgreement:
    """Block ``block``'s op across K runs."""
    block: int
    ops: Tuple[int, ...]
    modal_op: int
    fraction: float            # runs choosing modal_op / K
    unanimous: bool


@dataclass(frozen=True)
class AttentionAgreement:
    """The derived attention sets of K runs, as sets of (layer, id) cells."""
    sets: Tuple[FrozenSet[Tuple[int, int]], ...]
    modal_count: int           # runs sharing the most common set
    identical: bool            # all K sets equal
    mean_jaccard: float        # over the K(K-1)/2 pairs
    pairwise: Tuple[Tuple[float, ...], ...]  # K x K Jaccard matrix


def _check_specs(specs: Sequence[ArchSpec]) -> None:
    if len(specs) < 2:
        raise ValueError(f'specs: need at least 2 architectures to compare, '
                         f'got {len(specs)}')
    if len({s.extra for s in specs}) > 1:
        raise ValueError('specs: the architectures come from search spaces '
                         'with different user candidates (extra); their ids '
                         'name different candidates')


def backbone_agreement(specs: Sequence[ArchSpec]) -> List[BlockAgreement]:
    """Per block: the modal op, the fraction of runs choosing it, unanimity.
    """
    _check_specs(specs)
    codes = [s.backbone for s in specs]
    if any(c is None for c in codes):
        raise ValueError('specs: every architecture needs a backbone code to '
                         'compare backbones')
    out = []
    for i, ops in enumerate(zip(*codes)):
        # ties go to the smallest op, so the result does not depend on order
        modal, count = min(Counter(ops).items(), key=lambda t: (-t[1], t[0]))
        out.append(BlockAgreement(block=i + 1, ops=tuple(ops), modal_op=modal,
                                  fraction=count / len(ops),
                                  unanimous=count == len(ops)))
    return out


def attention_cells(spec: ArchSpec) -> FrozenSet[Tuple[int, int]]:
    """The derived attentions as a set of (layer, id), both 1-based."""
    return frozenset((layer + 1, att) for layer, ids in
                     enumerate(spec.attention) for att in ids)


def jaccard(a: FrozenSet, b: FrozenSet) -> float:
    """|a & b| / |a | b| (1 for two empty sets)."""
    union = len(a | b)
    return 1.0 if union == 0 else len(a & b) / union


def attention_agreement(specs: Sequence[ArchSpec]) -> AttentionAgreement:
    """How many runs share the modal set, and the mean pairwise Jaccard."""
    _check_specs(specs)
    sets = tuple(attention_cells(s) for s in specs)
    modal_count = Counter(sets).most_common(1)[0][1]
    pairwise = tuple(tuple(jaccard(a, b) for b in sets) for a in sets)
    pairs = [jaccard(a, b) for a, b in itertools.combinations(sets, 2)]
    return AttentionAgreement(
        sets=sets, modal_count=modal_count, identical=modal_count == len(sets),
        mean_jaccard=sum(pairs) / len(pairs), pairwise=pairwise)


def chance_unanimous_blocks(num_runs: int, num_blocks: int = 17,
                            num_ops: int = NUM_OPS) -> float:
    """Expected unanimous blocks among ``num_runs`` uniformly random codes:
    ``num_blocks * 6**(1 - num_runs)`` (17/6 = 2.8 for two runs; a space
    with user ops has ``num_ops``)."""
    return num_blocks * num_ops**(1 - num_runs)


def chance_jaccard(num_cells: int, topk: int) -> float:
    """Expected Jaccard index of two uniformly random ``topk``-subsets of
    ``num_cells`` cells (hypergeometric overlap; 0.09 for top-4 of 26)."""
    if not 1 <= topk <= num_cells:
        raise ValueError(f'topk must be in 1..{num_cells}, got {topk}')
    total = math.comb(num_cells, topk)
    return sum(math.comb(topk, j) * math.comb(num_cells - topk, topk - j) /
               total * j / (2 * topk - j) for j in range(topk + 1))


def agreement_summary(specs: Sequence[ArchSpec]) -> Dict[str, Any]:
    """Both agreements and their chance levels as a JSON-ready dict."""
    att = attention_agreement(specs)
    out: Dict[str, Any] = dict(num_runs=len(specs),
                               archs=[str(s) for s in specs])
    if all(s.backbone is not None for s in specs):
        blocks = backbone_agreement(specs)
        out['backbone'] = dict(
            blocks=[asdict(b) for b in blocks],
            unanimous=sum(b.unanimous for b in blocks),
            chance_unanimous=chance_unanimous_blocks(
                len(specs), len(blocks), specs[0].num_ops),
            mean_fraction=sum(b.fraction for b in blocks) / len(blocks))
    num_cells = max(s.num_layers for s in specs) * specs[0].num_attentions
    sizes = {len(c) for c in att.sets}
    out['attention'] = dict(
        sets=[sorted(c) for c in att.sets], modal_count=att.modal_count,
        identical=att.identical, mean_jaccard=att.mean_jaccard,
        pairwise=[list(r) for r in att.pairwise],
        chance_jaccard=chance_jaccard(num_cells, sizes.pop())
        if len(sizes) == 1 else None)
    return out
