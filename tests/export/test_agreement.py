"""Agreement across K searches against chance (export/agreement.py)."""
import itertools

import pytest

from attnas_mmseg.export.agreement import (agreement_summary,
                                           attention_agreement,
                                           attention_cells, backbone_agreement,
                                           chance_jaccard,
                                           chance_unanimous_blocks, jaccard)
from attnas_mmseg.search import ArchSpec

SPEC_A = ArchSpec.parse('AttSet1(12,13)+AttSet2(3,7)',
                        'mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1)')
SPEC_B = ArchSpec.parse('AttSet1(12,13)+AttSet2(3,8)',
                        'mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,2)')
SPEC_C = ArchSpec.parse('AttSet1(1,2,3,4)',
                        'mv2(1,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,3)')


def test_backbone_agreement():
    blocks = backbone_agreement([SPEC_A, SPEC_B, SPEC_C])
    assert blocks[0].modal_op == 3 and blocks[0].fraction == pytest.approx(
        2 / 3) and not blocks[0].unanimous
    assert blocks[1].unanimous and blocks[1].fraction == 1.0
    # three different ops: the tie goes to the smallest
    assert blocks[16].ops == (1, 2, 3) and blocks[16].modal_op == 1
    assert sum(b.unanimous for b in blocks) == 15
    with pytest.raises(ValueError, match='at least 2'):
        backbone_agreement([SPEC_A])


def test_attention_agreement():
    assert attention_cells(SPEC_A) == {(1, 12), (1, 13), (2, 3), (2, 7)}
    agree = attention_agreement([SPEC_A, SPEC_A, SPEC_B])
    assert agree.modal_count == 2 and not agree.identical
    # A vs B share 3 of 5 cells
    assert jaccard(attention_cells(SPEC_A), attention_cells(SPEC_B)) == 0.6
    assert agree.mean_jaccard == pytest.approx((1.0 + 0.6 + 0.6) / 3)
    assert attention_agreement([SPEC_A, SPEC_A]).identical


def test_chance_levels():
    assert chance_unanimous_blocks(2) == pytest.approx(17 / 6)
    # brute force over all 4-subsets of 8 cells against a fixed one
    fixed = frozenset(range(4))
    subsets = [frozenset(s) for s in itertools.combinations(range(8), 4)]
    brute = sum(jaccard(fixed, s) for s in subsets) / len(subsets)
    assert chance_jaccard(8, 4) == pytest.approx(brute)


def test_summary_without_backbone():
    a = ArchSpec.parse('AttSet1(1,2)')
    b = ArchSpec.parse('AttSet1(1,3)')
    out = agreement_summary([a, b])
    assert 'backbone' not in out
    assert out['attention']['mean_jaccard'] == pytest.approx(1 / 3)
