"""The ground truth file: read in order, validated field by field; the
scorer table's rows against it, and where a search's pick lands."""
import copy
import json
import math

import numpy as np
import pytest

from attnas_mmseg.evaluation.ground_truth import (ceiling_row,
                                                  check_ground_truth,
                                                  load_ground_truth,
                                                  pick_rows, scorer_row)


def ground_truth(n: int = 4) -> dict:
    return dict(setting=dict(epochs=30), networks=[
        dict(name=f'net{i}', spec='AttSet1(1)', flops_G=1.0 + i,
             params_M=2.0 + i, miou={'0': 10.0 + i, '1': 12.0 + i},
             mean=11.0 + i, source='random') for i in range(n)])


def test_ground_truth_is_read_in_order(tmp_path):
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(ground_truth()))
    truth = load_ground_truth(str(path))
    assert truth.names == ('net0', 'net1', 'net2', 'net3')
    assert list(truth.mean) == [11, 12, 13, 14]
    assert list(truth.flops_G) == [1, 2, 3, 4]
    assert sorted(truth.miou) == ['0', '1']
    assert list(truth.miou['1']) == [12, 13, 14, 15]
    assert truth.setting == dict(epochs=30)
    assert list(truth.ordered({'net3': 1, 'net0': 4, 'net1': 3,
                               'net2': 2})) == [4, 3, 2, 1]
    with pytest.raises(ValueError, match='no score for 1 of the 4'):
        truth.ordered({'net0': 1, 'net1': 1, 'net2': 1})


def test_seeds_a_network_lacks_are_left_out_of_the_ceiling():
    data = ground_truth()
    data['networks'][0]['miou'] = {'0': 10.0}
    data['networks'][0]['mean'] = 10.0
    assert sorted(check_ground_truth(data).miou) == ['0']


@pytest.mark.parametrize('edit,match', [
    (lambda d: d['networks'][0].pop('flops_G'), 'missing "flops_G"'),
    (lambda d: d['networks'][1].update(name='net0'), r'networks\[1\].name'),
    (lambda d: d['networks'][0].update(mean=50.0), 'not the mean'),
    (lambda d: d['networks'][0].update(miou={}), r'networks\[0\].miou'),
    (lambda d: d['networks'][0]['miou'].update({'1': 'x'}),
     r"miou\['1'\]"),
    (lambda d: d['networks'][0].update(params_M=0), 'params_M'),
    (lambda d: d.update(networks=d['networks'][:1]), 'at least 2'),
    (lambda d: d.update(setting=[1]), 'setting'),
    (lambda d: d.pop('networks'), '"networks" list'),
    (lambda d: d['networks'][2].update(source=3), r'networks\[2\].source'),
    (lambda d: [n.update(source='searched:x.json')
                for n in d['networks'][1:]], 'not a search'),
])
def test_bad_ground_truth_names_the_field(edit, match):
    data = copy.deepcopy(ground_truth())
    edit(data)
    with pytest.raises(ValueError, match=match):
        check_ground_truth(data)


def test_rows_of_a_scorer_and_of_the_ceiling():
    truth = check_ground_truth(ground_truth(8))
    scores = np.array([1, 2, 3, 4, 5, 6, 8, 7], dtype=float)
    row = scorer_row(scores, truth, n_resamples=50)
    # one discordant pair of 28
    assert row['tau'] == pytest.approx(26 / 28)
    assert row['best_pick_rank'] == 2 and row['best_pick'] == 'net6'
    assert row['precision_top25'] == 1.0
    # FLOPs order the truth perfectly: nothing is left to explain
    assert math.isnan(row['partial_tau_flops'])
    assert row['tau_ci'][0] <= row['tau'] <= row['tau_ci'][1]
    assert scorer_row(scores, truth, n_resamples=0)['tau_ci'] is None
    ceiling = ceiling_row(truth, n_resamples=50)
    assert ceiling['tau'] == pytest.approx(1) and ceiling['seeds'] == [
        '0', '1']
    assert ceiling['best_pick_rank'] == 1


def test_picks_are_ranked_against_the_sampled_networks_only():
    data = ground_truth(6)  # means 11..16, std of them sqrt(3.5)
    picks = [dict(name='good', spec='AttSet1(1)', flops_G=3.0, params_M=1.0,
                  miou={'0': 15.0, '1': 16.0}, mean=15.5,
                  source='searched:good.json'),
             dict(name='bad', spec='AttSet1(1)', flops_G=3.0, params_M=1.0,
                  miou={'0': 10.0, '1': 10.0}, mean=10.0,
                  source='searched:bad.json')]
    truth = check_ground_truth(dict(data, networks=data['networks'] + picks))
    assert list(truth.searched) == [False] * 6 + [True, True]
    sampled = truth.sampled()
    assert sampled.names == tuple(f'net{i}' for i in range(6))
    assert list(sampled.mean) == [11, 12, 13, 14, 15, 16]
    assert list(sampled.miou['0']) == [10, 11, 12, 13, 14, 15]
    assert sampled.sources == ('random', ) * 6
    rows = pick_rows(truth)
    assert set(rows) == {'good', 'bad'}
    # good: only net5 (16) is better -> 2nd; 1 of 6 better <= 25% -> top
    assert rows['good']['rank'] == 2 and rows['good']['of'] == 6
    assert rows['good']['top'] and not rows['bad']['top']
    assert rows['good']['z'] == pytest.approx(2 / math.sqrt(3.5))
    assert rows['good']['above_one_std']
    assert rows['good']['miou'] == {'0': 15.0, '1': 16.0}
    # bad: all six better -> 7th
    assert rows['bad']['rank'] == 7
    assert rows['bad']['z'] == pytest.approx(-3.5 / math.sqrt(3.5))
    assert not rows['bad']['above_one_std']
    # two of six better is above the 25% cut (1.5)
    third = dict(picks[0], name='third', miou={'0': 14.0, '1': 14.8},
                 mean=14.4)
    rows = pick_rows(check_ground_truth(
        dict(data, networks=data['networks'] + [third])))
    assert rows['third']['rank'] == 3 and not rows['third']['top']
    # the sampled means lie on a line (11 + (FLOPs - 1)): no residual spread
    assert math.isnan(rows['third']['z_flops'])
    # no source, or another one: sampled
    del data['networks'][0]['source']
    assert not check_ground_truth(data).searched.any()
    assert pick_rows(check_ground_truth(data)) == {}


def test_z_at_its_flops_takes_the_size_trend_out():
    """Sampled means = 30 + 0.5 x FLOPs + residuals (+1, -1, -1, +1) at
    FLOPs 2, 4, 6, 8: the line fitted is that one (the residuals are
    orthogonal to 1 and FLOPs), their std (ddof 2) sqrt(4 / 2). A pick of
    FLOPs 8 at 33.5 is above the four networks' mean (32.5) but 0.5 below
    the line at its FLOPs (34): z > 0, z_flops -0.5 / sqrt(2)."""
    nets = [dict(name=f'n{i}', spec='AttSet1(1)', flops_G=f, params_M=1.0,
                 miou={'0': m, '1': m}, mean=m, source='random')
            for i, (f, m) in enumerate(((2, 32.0), (4, 31.0), (6, 32.0),
                                        (8, 35.0)))]
    pick = dict(name='p', spec='AttSet1(2)', flops_G=8.0, params_M=1.0,
                miou={'0': 33.5, '1': 33.5}, mean=33.5,
                source='searched:p.json')
    row = pick_rows(check_ground_truth(dict(setting={},
                                            networks=nets + [pick])))['p']
    assert row['z_flops'] == pytest.approx(-0.5 / math.sqrt(2))
    assert row['z'] > 0 > row['z_flops']
    # two sampled networks leave no residual degree of freedom
    row = pick_rows(check_ground_truth(dict(setting={},
                                            networks=nets[:2] + [pick])))
    assert math.isnan(row['p']['z_flops'])
