"""benchmarks/rank_correlation.py on a synthetic ground truth (no training):
the table's values against scipy and hand arithmetic."""
import importlib.util
import json
import math
import statistics
import sys
from pathlib import Path

import pytest
from scipy import stats

from attnas_mmseg.export.random_arch import sample_archs, search_flops_table
from attnas_mmseg.search.cost.flops import FLOPS_PER_G

REPO = Path(__file__).resolve().parents[2]
CONFIG = 'configs/demo/attnas-search_demo_synthetic-cityscapes-64x128.py'


def _script():
    sys.path.insert(0, str(REPO / 'benchmarks'))
    spec = importlib.util.spec_from_file_location(
        'rank_correlation', REPO / 'benchmarks' / 'rank_correlation.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rc = _script()
SPECS = [str(s) for s in sample_archs(8, seed=0)]
FLOPS = [3.0, 1.0, 4.0, 2.0, 8.0, 5.0, 7.0, 6.0]
SEED0 = [40.0, 30.0, 45.0, 35.0, 60.0, 50.0, 52.0, 58.0]
SEED1 = [42.0, 31.0, 41.0, 36.0, 61.0, 48.0, 57.0, 55.0]
MEAN = [(a + b) / 2 for a, b in zip(SEED0, SEED1)]
NAMES = [f'rand{i}' for i in range(8)]
# mean order (best first): rand4, rand7, rand6, rand5, rand2, rand0,
# rand3, rand1
GOOD = [5.0, 1.0, 3.0, 2.0, 9.0, 4.0, 6.0, 7.0]
BAD = [8.0, 7.0, 6.0, 5.0, 1.0, 4.0, 3.0, 2.0]


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp('ranking')
    truth = dict(setting=dict(epochs=1), networks=[
        dict(name=n, spec=s, flops_G=f, params_M=1.0 + i,
             miou={'0': a, '1': b}, mean=m, source='random')
        for i, (n, s, f, a, b, m) in enumerate(
            zip(NAMES, SPECS, FLOPS, SEED0, SEED1, MEAN))])
    (root / 'gt.json').write_text(json.dumps(truth))
    (root / 'scores.json').write_text(json.dumps(dict(
        good=dict(zip(NAMES, GOOD)), bad=dict(zip(NAMES, BAD)))))
    return root


def _partial(x, y, z):
    t = lambda a, b: stats.kendalltau(a, b).statistic  # noqa: E731
    return (t(x, y) - t(x, z) * t(y, z)) / math.sqrt(
        (1 - t(x, z) ** 2) * (1 - t(y, z) ** 2))


def test_table_from_a_scores_file(files):
    out = files / 'out'
    result = rc.main(['--ground-truth', str(files / 'gt.json'), '--scores',
                      str(files / 'scores.json'), '--out-dir', str(out),
                      '--resamples', '200'])
    saved = json.loads((out / 'results.json').read_text())
    assert saved['networks'] == 8 and saved['seeds'] == ['0', '1']
    for label, scores in (('good', GOOD), ('bad', BAD)):
        row = saved['scorers'][label]
        assert row['tau'] == pytest.approx(
            stats.kendalltau(scores, MEAN).statistic)
        assert row['rho'] == pytest.approx(
            stats.spearmanr(scores, MEAN).statistic)
        assert row['partial_tau_flops'] == pytest.approx(
            _partial(scores, MEAN, FLOPS))
        assert row['tau_ci'][0] <= row['tau'] <= row['tau_ci'][1]
        assert row['rho_ci'][0] <= row['rho'] <= row['rho_ci'][1]
    # good: its top 2 {rand4, rand7} = the truth's top 2; its pick rand4 is
    # the best. bad: top 2 {rand0, rand1} (truth ranks 6 and 8); its pick
    # rand0 is 6th
    assert saved['scorers']['good']['precision_top25'] == 1.0
    assert saved['scorers']['good']['best_pick_rank'] == 1
    assert saved['scorers']['bad']['precision_top25'] == 0.0
    assert saved['scorers']['bad']['best_pick_rank'] == 6
    ceiling = saved['noise_ceiling']
    assert ceiling['tau'] == pytest.approx(
        stats.kendalltau(SEED0, SEED1).statistic)
    # seed 0's pick rand4 is seed 1's best; seed 1's rand4 is seed 0's 1st
    assert ceiling['best_pick_rank'] == 1
    assert result['scorers']['good']['tau'] == pytest.approx(
        saved['scorers']['good']['tau'])
    md = (out / 'results.md').read_text()
    tau = saved['scorers']['good']['tau']
    assert f'| good | {tau:+.2f} [' in md
    assert '| noise ceiling (seed vs seed) |' in md
    assert '1.0 / 8 |' in md
    noise = saved['noise']
    assert noise['attainable_tau'] == pytest.approx(
        rc.rank_stats.noise_components({'0': SEED0, '1': SEED1})[
            'attainable_tau'])
    assert f'expected at tau {noise["attainable_tau"]:.2f}' in md
    scorer_table = md.split('\n\n')[2].splitlines()
    assert len(scorer_table) == 5
    assert all(r.count('|') == 7 for r in scorer_table)
    # the networks, best mean first: rand4 (60.5) ... rand1 (30.5)
    listed = md.split('## The networks')[1].split('\n\n')[1].splitlines()
    assert len(listed) == 2 + 8
    assert listed[2] == '| rand4 | 8.00 | 5.00 | 60.00 / 61.00 | 60.50 |'
    assert listed[-1].startswith('| rand1 | 1.00 |')


def test_scores_computed_here_are_the_flops_table_prices(files):
    out = files / 'computed'
    rc.main(['--ground-truth', str(files / 'gt.json'), '--config', CONFIG,
             '--scorers', 'flops', '--input-size', '64', '128',
             '--resamples', '0', '--out-dir', str(out)])
    table = search_flops_table(CONFIG, (64, 128))
    flops = json.loads((out / 'scores.json').read_text())['flops']
    expected = [table.network_cost(rc.ScoreContext(CONFIG).spec(s)) /
                FLOPS_PER_G for s in SPECS]
    assert [flops[n] for n in NAMES] == pytest.approx(expected)
    row = json.loads((out / 'results.json').read_text())['scorers']['flops']
    assert row['tau'] == pytest.approx(
        stats.kendalltau(expected, MEAN).statistic)
    assert row['tau_ci'] is None


@pytest.mark.parametrize('argv,match', [
    (['--scorers', 'flops'], '--scorers needs --config'),
    (['--config', CONFIG, '--scorers', 'accuracy'], 'unknown scorer'),
    (['--config', CONFIG, '--scorers', 'logprob'], 'logprob:SEARCH_CKPT'),
    (['--config', CONFIG, '--scorers', 'flops:x'], 'no argument'),
    ([], 'give --scores and/or --scorers'),
])
def test_bad_arguments_name_the_flag(argv, match, capsys):
    with pytest.raises(SystemExit):
        rc.parse_args(['--ground-truth', 'gt.json'] + argv)
    assert match in capsys.readouterr().err


def test_scorer_arguments_become_context_fields():
    parsed = [rc.parse_scorer(t) for t in (
        'logprob:a/s1.pth', 'logprob:b/s2.pth', 'inherited:cfg.py:sn.pth',
        'inherited:sn.pth', 'latency:lut.json')]
    assert parsed[0]['overrides'] == dict(search_checkpoint='a/s1.pth')
    assert parsed[2]['overrides'] == dict(supernet_checkpoint='sn.pth',
                                          supernet_config='cfg.py')
    assert parsed[3]['overrides'] == dict(supernet_checkpoint='sn.pth',
                                          supernet_config=None)
    assert parsed[4]['overrides'] == dict(latency_lut='lut.json')
    assert rc.scorer_labels(parsed) == [
        'logprob:s1', 'logprob:s2', 'inherited:cfg.py:sn', 'inherited:sn',
        'latency']
    # where the stems repeat too, the whole argument
    twice = [rc.parse_scorer(t)
             for t in ('logprob:a/s.pth', 'logprob:b/s.pth')]
    assert rc.scorer_labels(twice) == ['logprob:a/s.pth', 'logprob:b/s.pth']


def test_a_network_without_a_score_is_refused(files, tmp_path):
    scores = tmp_path / 'partial.json'
    scores.write_text(json.dumps(dict(x=dict(rand0=1.0, rand1=2.0))))
    with pytest.raises(ValueError, match='x: no score for 6 of the 8'):
        rc.main(['--ground-truth', str(files / 'gt.json'), '--scores',
                 str(scores), '--resamples', '0'])


def test_picks_are_left_out_of_the_scorers_and_ranked_apart(files,
                                                             tmp_path):
    truth = json.loads((files / 'gt.json').read_text())
    # 56 beats all but rand4 (60.5) and rand7 (56.5): 3rd of 9; 2 of 8
    # better is the 25% cut -> top
    truth['networks'].append(dict(
        name='darts', spec=SPECS[0], flops_G=4.5, params_M=1.0,
        miou={'0': 55.0, '1': 57.0}, mean=56.0,
        source='searched:docs/results/camvid/ranking/searched/darts.json'))
    (tmp_path / 'gt.json').write_text(json.dumps(truth))
    (tmp_path / 'searches.json').write_text(json.dumps(dict(
        scores_threads=1, searches=dict(darts=dict(minutes=10.2, threads=2)),
        picks=dict(darts=dict(search='darts', minutes=0.4, threads=2)))))
    out = tmp_path / 'out'
    result = rc.main(['--ground-truth', str(tmp_path / 'gt.json'),
                      '--scores', str(files / 'scores.json'),
                      '--searches', str(tmp_path / 'searches.json'),
                      '--resamples', '0', '--out-dir', str(out)])
    # the scorers have no score for the pick and are judged on the 8
    assert result['networks'] == 8
    assert result['scorers']['good']['tau'] == pytest.approx(
        stats.kendalltau(GOOD, MEAN).statistic)
    assert result['noise_ceiling']['tau'] == pytest.approx(
        stats.kendalltau(SEED0, SEED1).statistic)
    pick = result['picks']['darts']
    assert pick['rank'] == 3 and pick['of'] == 8 and pick['top']
    sd = statistics.stdev(MEAN)
    assert pick['z'] == pytest.approx((56.0 - statistics.mean(MEAN)) / sd)
    assert pick['search_minutes'] == 10.2 and pick['derive_minutes'] == 0.4
    md = (out / 'results.md').read_text()
    assert '| darts | 4.50 | 55.00 / 57.00 | 56.00 | 3 / 9 | yes |' in md
    assert '| darts (pick) | 4.50 | 1.00 | 55.00 / 57.00 | 56.00 |' in md
    assert '10.2 + 0.4 (2 threads) |' in md
    assert rc._threads(2, 1) == '2 + 1 threads'
    assert rc._threads(2, None) == '2 + ? threads'  # kept from before
    (tmp_path / 'bad.json').write_text(json.dumps(dict(picks={})))
    with pytest.raises(ValueError, match='--searches: .*bad.json'):
        rc.main(['--ground-truth', str(tmp_path / 'gt.json'), '--scores',
                 str(files / 'scores.json'), '--searches',
                 str(tmp_path / 'bad.json'), '--resamples', '0'])
