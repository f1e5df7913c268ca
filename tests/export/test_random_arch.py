"""Uniform random architectures of the search space (search/random_arch.py)."""
import random
from collections import Counter

import pytest

from attnas_mmseg.search import ArchSpec, build_flops_table
from attnas_mmseg.export import measure
from attnas_mmseg.models import apply_arch
from attnas_mmseg.export.random_arch import (_neighbour, flops_range,
                                             flops_window, reference_flops,
                                             sample_arch, sample_archs,
                                             sample_archs_stratified)
from attnas_mmseg.search.evolution import SearchSpace

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


# ------------------------------------------------ stratified (a FLOPs spread)
def op_price(spec):
    """A price where op k of block b costs k * (b + 1): 153 to 918, mean
    535.5, std 72 under uniform draws, which crowd the middle as the real
    space's FLOPs do."""
    return float(sum(op * (b + 1) for b, op in enumerate(spec.backbone)))


def test_neighbour_changes_one_choice_symmetrically():
    space = SearchSpace(2, 4)
    rng = random.Random(0)
    spec = sample_arch(rng)
    for _ in range(200):
        nxt = _neighbour(rng, spec, space)
        changed_ops = sum(a != b for a, b in zip(spec.backbone, nxt.backbone))
        changed_cells = len(set(cells(spec)) - set(cells(nxt)))
        assert changed_ops + changed_cells == 1
        assert len(set(cells(nxt))) == 4
        spec = nxt
    # symmetric: an op change is proposed with 1 / (21 * 5), a cell swap
    # with 1 / (21 * 22) from every network (17 ops + 4 cells, 5 other ops,
    # 22 unused cells), so B -> A as often as A -> B
    draws = 42000
    counts = Counter(_neighbour(rng, spec, space) for _ in range(draws))
    assert len(counts) == 17 * 5 + 4 * 22
    for nxt, n in counts.items():
        op_change = nxt.backbone != spec.backbone
        per = draws / (21 * (5 if op_change else 22))
        assert abs(n - per) < 0.35 * per, (nxt, n, per)
    # with every cell placed only an op can change
    full = SearchSpace(1, 13)
    one = sample_arch(rng, num_layers=1, topk=13)
    assert _neighbour(rng, one, full).attention == one.attention


def test_stratified_fills_every_stratum_in_turn():
    window = (540.0, 900.0)
    specs = sample_archs_stratified(8, seed=0, strata=4, price=op_price,
                                    window=window)
    assert len(set(specs)) == 8
    for i, s in enumerate(specs):
        low = 540.0 + 90.0 * (i % 4)
        assert s.meta['stratum'] == (low, low + 90.0)
        assert low <= s.meta['sampled_flops'] <= low + 90.0
        assert s.meta['sampled_flops'] == op_price(s)
        assert (s.meta['seed'], s.meta['index']) == (0, i)
    # uniform draws miss the top stratum (3.8 std above the mean)
    assert max(map(op_price, sample_archs(2000, seed=0))) < 810.0
    # seeded and prefix-stable like sample_archs
    again = sample_archs_stratified(5, seed=0, strata=4, price=op_price,
                                    window=window)
    assert again == specs[:5]
    assert sample_archs_stratified(5, seed=1, strata=4, price=op_price,
                                   window=window) != again


def test_stratified_is_uniform_inside_its_stratum():
    # a stratum above the median where rejection still works (1 draw in
    # 30), so it gives the exact answer. Uniform inside the stratum, the
    # cheap blocks keep ops near the space's mean and the dear ones carry
    # the price; the climb into it raises every block alike, so without
    # the Metropolis steps (steps=1) the cheap blocks' mean op is 4.31.
    window = (660.0, 700.0)
    walk = sample_archs_stratified(400, seed=0, strata=1, price=op_price,
                                   window=window, steps=300)
    exact = sample_archs(400, seed=0, price=op_price, window=window)

    def mean_op(specs, blocks):
        return sum(s.backbone[b] for s in specs for b in blocks) / (
            len(specs) * len(blocks))

    for blocks in (range(8), range(9, 17)):   # exact: 3.83 and 4.57
        assert abs(mean_op(walk, blocks) - mean_op(exact, blocks)) < 0.2
    mean = sum(map(op_price, walk)) / len(walk)
    assert abs(mean - sum(map(op_price, exact)) / len(exact)) < 4.0


def test_stratified_bad_arguments():
    with pytest.raises(ValueError, match='strata'):
        sample_archs_stratified(2, 0, 0, op_price, (1.0, 2.0))
    with pytest.raises(ValueError, match='window'):
        sample_archs_stratified(2, 0, 2, op_price, (2.0, 2.0))
    with pytest.raises(ValueError, match='not reached'):
        # above the space's dearest network (6 * 153 = 918)
        sample_archs_stratified(1, 0, 1, op_price, (950.0, 990.0),
                                max_moves=500)
    with pytest.raises(ValueError, match='no new architecture'):
        # every cell placed (one attention set): the dearest network alone
        # is in the window, so the second draw finds nothing new
        sample_archs_stratified(2, 0, 1, op_price, (918.0, 918.0 + 1e-9),
                                num_layers=1, topk=13, max_moves=20000,
                                steps=5)


def test_draw_archs_prices_in_G_and_picks_the_sampler(table):
    from attnas_mmseg.export.random_arch import draw_archs
    from attnas_mmseg.search.cost.flops import FLOPS_PER_G
    price = lambda s: table.network_cost(s) / FLOPS_PER_G  # noqa: E731
    low, high = (f / FLOPS_PER_G for f in flops_range(table, 4))
    window = (low + 0.3 * (high - low), low + 0.6 * (high - low))
    assert draw_archs(table, 3, 0, 4, window) == sample_archs(
        3, 0, price=price, window=window)
    assert draw_archs(table, 3, 0, 4, window, strata=3) == \
        sample_archs_stratified(3, 0, 3, price, window)
    with pytest.raises(ValueError, match='window: needed'):
        draw_archs(table, 3, 0, 4, strata=3)
