"""Rank statistics against hand-computed examples, and their invariants."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from attnas_mmseg.evaluation.rank_stats import (
    BOOTSTRAP_RESAMPLES, best_pick_rank, bootstrap_interval, kendall_tau,
    noise_ceiling, noise_components, partial_kendall_tau, precision_at_top,
    spearman_rho, truth_ranks)


# ------------------------------------------------------------ tau, rho
def test_tau_of_a_perfect_and_a_reversed_order():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1)
    assert kendall_tau([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(-1)


def test_tau_by_hand():
    # one discordant pair (2, 3) of six: (5 - 1) / 6
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(2 / 3)
    # tau-b with a tie in x: 5 concordant, 0 discordant, 6 pairs, 1 tied
    # in x: 5 / sqrt((6 - 1)(6 - 0))
    assert kendall_tau([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(
        5 / math.sqrt(30))


def test_rho_by_hand():
    # d = (0, 1, 1, 0): 1 - 6 * 2 / (4 * 15)
    assert spearman_rho([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)


def test_constant_scores_have_no_correlation_and_bad_input_is_refused():
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman_rho([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match='length'):
        kendall_tau([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match='NaN'):
        kendall_tau([1, math.nan, 3], [1, 2, 3])


# ----------------------------------------------------------- partial tau
def test_partial_tau_by_hand():
    x, y, z = [1, 2, 3, 4, 5], [2, 1, 4, 3, 5], [1, 3, 2, 5, 4]
    # t_xy = 0.6 (2 discordant of 10), t_xz = 0.6, t_yz = 0.2 (4 of 10)
    expected = (0.6 - 0.6 * 0.2) / math.sqrt((1 - 0.36) * (1 - 0.04))
    assert partial_kendall_tau(x, y, z) == pytest.approx(expected)


def test_partial_tau_on_a_control_equal_to_x_is_undefined():
    x, y = [1, 2, 3, 4, 5], [2, 1, 4, 3, 5]
    assert math.isnan(partial_kendall_tau(x, y, x))
    assert math.isnan(partial_kendall_tau(x, y, [-v for v in x]))


def test_partial_tau_on_an_unrelated_control_is_tau():
    # z concordant with x on as many pairs as discordant: t_xz = 0
    x, y, z = [1, 2, 3, 4], [1, 3, 2, 4], [2, 4, 1, 3]
    assert kendall_tau(x, z) == pytest.approx(0)
    t_yz = kendall_tau(y, z)
    assert partial_kendall_tau(x, y, z) == pytest.approx(
        kendall_tau(x, y) / math.sqrt(1 - t_yz ** 2))


# -------------------------------------------------- top 25%, best pick
def test_precision_at_top_by_hand():
    # n = 8: the top 2; scorer's {a, b}, truth's {a, c}
    truth = [8, 6, 7, 5, 4, 3, 2, 1]
    scores = [9, 8, 1, 2, 3, 4, 5, 6]
    assert precision_at_top(scores, truth) == 0.5
    # n = 10: ceil(2.5) = 3
    truth10 = list(range(10, 0, -1))
    assert precision_at_top([10, 9, 1, 8, 2, 3, 4, 5, 6, 7], truth10) == \
        pytest.approx(2 / 3)
    # a constant scorer's top is everyone: the chance rate 3 / 10
    assert precision_at_top([1] * 10, truth10) == pytest.approx(0.3)


def test_best_pick_rank_by_hand():
    truth = [0.5, 0.9, 0.7, 0.1]          # ranks 3, 1, 2, 4
    assert list(truth_ranks(truth)) == [3, 1, 2, 4]
    assert best_pick_rank([5, 1, 2, 3], truth) == 3
    assert best_pick_rank([1, 5, 2, 3], truth) == 1
    # a tie at the top: the mean of ranks 1 and 4
    assert best_pick_rank([1, 5, 2, 5], truth) == 2.5
    # tied truths share the best rank of the tie
    assert list(truth_ranks([2, 3, 3, 1])) == [3, 1, 1, 4]


def test_noise_ceiling():
    a, b, c = [1, 2, 3, 4], [1, 3, 2, 4], [4, 3, 2, 1]
    assert noise_ceiling({'0': a}) is None
    assert noise_ceiling({'0': a, '1': b}) == pytest.approx(2 / 3)
    # pairs (a, b) 2/3, (a, c) -1, (b, c) -2/3
    assert noise_ceiling({'0': a, '1': b, '2': c}) == pytest.approx(-1 / 3)


# ------------------------------------------------------------ bootstrap
def test_bootstrap_interval_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(1)
    x = rng.normal(size=30)
    y = x + rng.normal(size=30)
    stat = lambda i: kendall_tau(x[i], y[i])  # noqa: E731
    first = bootstrap_interval(stat, 30, 300, seed=0)
    assert first == bootstrap_interval(stat, 30, 300, seed=0)
    assert first != bootstrap_interval(stat, 30, 300, seed=1)
    assert first[0] < kendall_tau(x, y) < first[1]
    wider = bootstrap_interval(stat, 30, 300, level=0.99, seed=0)
    assert wider[0] < first[0] and wider[1] > first[1]


def test_bootstrap_of_a_perfect_order_and_of_nothing():
    x = np.arange(10.0)
    assert bootstrap_interval(lambda i: kendall_tau(x[i], 2 * x[i]), 10,
                              100) == pytest.approx((1.0, 1.0))
    low, high = bootstrap_interval(lambda i: math.nan, 10, 20)
    assert math.isnan(low) and math.isnan(high)
    with pytest.raises(ValueError, match='level'):
        bootstrap_interval(lambda i: 0.0, 10, 20, level=1.0)
    assert BOOTSTRAP_RESAMPLES >= 1000


# ------------------------------------------------------------ hypothesis
vectors = st.lists(st.integers(-50, 50), min_size=3, max_size=12)


@settings(max_examples=60, deadline=None)
@given(vectors, st.data())
def test_tau_is_bounded_symmetric_and_rank_invariant(x, data):
    y = data.draw(st.lists(st.integers(-50, 50), min_size=len(x),
                           max_size=len(x)))
    assume(len(set(x)) > 1 and len(set(y)) > 1)
    tau = kendall_tau(x, y)
    assert -1 - 1e-12 <= tau <= 1 + 1e-12
    assert kendall_tau(y, x) == pytest.approx(tau)
    # strictly increasing transforms keep it; negation flips it
    assert kendall_tau([math.exp(v / 10) for v in x],
                       [3 * v + 7 for v in y]) == pytest.approx(tau)
    assert kendall_tau([-v for v in x], y) == pytest.approx(-tau)
    rho = spearman_rho(x, y)
    assert -1 - 1e-12 <= rho <= 1 + 1e-12
    assert spearman_rho([v ** 3 for v in x], y) == pytest.approx(rho)


# ------------------------------------------------------- noise components
def test_noise_components_by_hand():
    noise = noise_components({'0': [30, 36, 40], '1': [32, 34, 41]})
    # per-network variances 2, 2, 0.5; means 31, 35, 40.5
    assert noise['within_std'] == pytest.approx(math.sqrt(1.5))
    assert noise['between_std'] == pytest.approx(math.sqrt(22.75))
    # the means' variance holds 1.5 / 2 of seed noise
    assert noise['true_between_std'] == pytest.approx(math.sqrt(22.0))
    assert noise['reliability'] == pytest.approx(22.0 / 22.75)
    assert noise['attainable_tau'] == pytest.approx(
        2 / math.pi * math.asin(math.sqrt(22.0 / 22.75)))
    assert noise['expected_seed_tau'] == pytest.approx(
        2 / math.pi * math.asin(22.0 / 23.5))
    # seeds that disagree more than the networks differ: nothing to find
    flat = noise_components({'0': [30, 31], '1': [31, 30]})
    assert flat['true_between_std'] == 0 and flat['reliability'] == 0
    assert flat['attainable_tau'] == 0 and flat['expected_seed_tau'] == 0
    with pytest.raises(ValueError, match='>= 2 seeds'):
        noise_components({'0': [1, 2]})
    with pytest.raises(ValueError, match='>= 2 networks'):
        noise_components({'0': [1], '1': [2]})


def test_attainable_tau_is_what_a_perfect_scorer_gets():
    """Simulated ground truths (true spread 1, seed std 1, 2 seeds): the
    true values against the seeds' mean reach the attainable tau on
    average, and one seed against another the expected seed tau."""
    rng = np.random.default_rng(0)
    perfect, seed_vs_seed, predicted, expected = [], [], [], []
    for _ in range(200):
        true = rng.normal(size=60)
        runs = {s: true + rng.normal(size=60) for s in '01'}
        mean = (runs['0'] + runs['1']) / 2
        perfect.append(kendall_tau(true, mean))
        seed_vs_seed.append(kendall_tau(runs['0'], runs['1']))
        noise = noise_components(runs)
        predicted.append(noise['attainable_tau'])
        expected.append(noise['expected_seed_tau'])
    # with the true variances: r = sqrt(1 / 1.5) and 1 / 2
    assert np.mean(perfect) == pytest.approx(
        2 / math.pi * math.asin(math.sqrt(2 / 3)), abs=0.01)
    assert np.mean(seed_vs_seed) == pytest.approx(1 / 3, abs=0.01)
    # the estimates from the data agree with what was measured
    assert np.mean(predicted) == pytest.approx(np.mean(perfect), abs=0.03)
    assert np.mean(expected) == pytest.approx(np.mean(seed_vs_seed),
                                              abs=0.03)
