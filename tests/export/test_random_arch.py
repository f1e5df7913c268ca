"""Uniform random architectures of the search space (search/random_arch.py)."""
import random
from collections import Counter

import pytest

from attnas_mmseg.search import ArchSpec, build_flops_table
from attnas_mmseg.export import measure
from attnas_mmseg.models import apply_arch
from attnas_mmseg.export.random_arch import (flops_range, flops_window,
                                             reference_flops, sample_arch,
                                             sample_archs)

from .._builders import build_segmentor, segmentor_cfg

SIZE = (64, 128)


def cells(spec):
    return [(layer, att) for layer, ids in enumerate(spec.attention)
            for att in ids]


def test_uniform_over_ops_and_cells():
    specs = sample_archs(600, seed=0, num_layers=2, topk=4)
    ops = Counter(op for s in specs for op in s.backbone)
    assert sorted(ops) == [1, 2, 3, 4, 5, 6]
    draws = 600 * 17
    for op in range(1, 7):   # 1/6 each; 10% is > 4 standard errors
        assert abs(ops[op] / draws - 1 / 6) < 0.1 / 6
    for s in specs:
        assert len(cells(s)) == 4 == len(set(cells(s)))
        assert s.num_layers == 2
    hits = Counter(c for s in specs for c in cells(s))
    assert len(hits) == 26   # every cell of the 2 x 13 grid is reachable
    per_cell = 600 * 4 / 26
    assert all(abs(n - per_cell) < 0.3 * per_cell for n in hits.values())
    # a layer can be empty, as a derived one can (top-4 all in one layer)
    single = sample_arch(random.Random(0), num_layers=1, topk=13)
    assert single.attention == (tuple(range(1, 14)), )


def test_seeded_reproducible_and_prefix_stable():
    a = sample_archs(5, seed=3)
    assert a == sample_archs(5, seed=3)
    assert [s.meta for s in a] == [s.meta for s in sample_archs(5, seed=3)]
    assert sample_archs(3, seed=3) == a[:3]
    assert sample_archs(5, seed=4) != a
    assert len(set(a)) == 5


@pytest.fixture(scope='module')
def table():
    return build_flops_table(build_segmentor(num_classes=4, channels=32),
                             SIZE)


def test_window_and_price_equal_the_built_network(table):
    ref = ArchSpec.parse('AttSet1(12,13)+AttSet2(3,7)',
                         'mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1)')
    ref_flops = reference_flops(ref, table)
    low, high = flops_window(ref_flops, 0.1)
    specs = sample_archs(4, seed=0, topk=4, price=table.network_cost,
                         window=(low, high))
    for s in specs:
        assert low <= s.meta['sampled_flops'] <= high
        assert s.meta['tries'] >= 1
    # the table's price is the paper-convention count of the built network
    built = measure(apply_arch(segmentor_cfg(num_classes=4, channels=32),
                               specs[0]), SIZE)
    assert built['flops_paper_G'] * 1e9 == pytest.approx(
        specs[0].meta['sampled_flops'], rel=1e-6)
    assert reference_flops('1.5', table) == 1.5e9
    assert reference_flops(str(ref), table) == ref_flops


def test_flops_range_is_attained_and_bounds_samples(table):
    low, high = flops_range(table, 4)
    # the 2 cheapest attentions in both layers beat the 4 cheapest in one
    two = tuple(int(i) + 1 for i in table.attention.argsort()[:2])
    cheapest = ArchSpec(
        attention=(two, two),
        backbone=tuple(int(i) + 1 for i in table.backbone.argmin(-1)))
    assert table.network_cost(cheapest) == pytest.approx(low)
    for s in sample_archs(50, seed=1, price=table.network_cost):
        assert low <= s.meta['sampled_flops'] <= high
    # the dearest attention (an atrous conv) may sit in both layers
    assert flops_range(table, 2)[1] - flops_range(table, 1)[1] == \
        pytest.approx(float(table.attention.max()))


def test_empty_window_and_bad_arguments(table):
    with pytest.raises(ValueError, match='window'):
        sample_archs(1, seed=0, price=table.network_cost, window=(1.0, 2.0),
                     max_tries=50)
    with pytest.raises(ValueError, match='price'):
        sample_archs(1, seed=0, window=(1.0, 2.0))
    with pytest.raises(ValueError, match='topk'):
        sample_archs(1, seed=0, topk=27)
    with pytest.raises(ValueError, match='rel'):
        flops_window(10.0, 1.5)
