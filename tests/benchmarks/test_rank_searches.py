"""benchmarks/rank_searches.py: its options, each mode's search options, and
the chain at smoke size on a real ranking work dir (the real tools: search,
derive, evolution, every scorer), continued from its markers."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .test_benchmark_scripts import REPO, _script

rs = _script('rank_searches')
rg = _script('rank_ground_truth')


# ------------------------------------------------------------- options
@settings(max_examples=60, deadline=None)
@given(mode=st.sampled_from(['darts', 'gumbel', 'proxyless']),
       warmup=st.integers(0, 500), search=st.integers(1, 500))
def test_epochs_parse_what_they_print(mode, warmup, search):
    parsed = rs.parse_epochs([f'{mode}={warmup}+{search}'])
    assert parsed[mode] == [warmup, search]
    # the others keep issue 9's schedules
    others = {m: list(e) for m, e in rs.EPOCHS.items() if m != mode}
    assert {m: e for m, e in parsed.items() if m != mode} == others


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=12))
def test_bad_epochs_name_the_option(text):
    item = f'darts={text}'
    try:
        numbers = [int(p) for p in text.split('+')]
    except ValueError:
        numbers = []
    if len(numbers) == 2 and min(numbers) >= 0 and numbers[1] >= 1:
        return
    with pytest.raises(ValueError, match='--epochs'):
        rs.parse_epochs([item])


def test_epochs_refusals():
    for item in ('darts', 'foo=1+2', 'uniform=1+2', 'darts=3',
                 'darts=2+0', 'uniform=0'):
        with pytest.raises(ValueError, match='--epochs'):
            rs.parse_epochs([item])
    assert rs.parse_epochs(['uniform=7'])['uniform'] == [0, 7]


def test_option_checks(capsys):
    for argv, message in (
            (['--modes', 'darts', '--evolve', 'uniform'], 'not in --modes'),
            (['--window', '1.5'], '--window'),
            (['--evolution', 'popsize=3'], '--evolution'),
            (['--evolution', 'population=many'], '--evolution'),
            (['--smoke', '--results-dir', str(REPO / 'docs/results/x')],
             'must not write under docs/results')):
        with pytest.raises(SystemExit):
            rs.parse_args(argv)
        assert message in capsys.readouterr().err
    args = rs.parse_args(['--evolution', 'population=30', 'mutate_prob=0.2'])
    assert args.evolution['population'] == 30
    assert args.evolution['mutate_prob'] == 0.2
    assert args.evolution['calib_batches'] == args.calib_batches == 20
    assert args.epochs == {'darts': [2, 10], 'gumbel': [12, 80],
                           'proxyless': [12, 80], 'uniform': [0, 50]}


def test_each_mode_searches_its_own_way():
    args = rs.parse_args([])
    darts = rs.search_options(args, 'darts', 10.5)
    assert 'model.backbone.search_mode=darts' in darts
    assert 'optim_wrapper.arch.optimizer.weight_decay=1e-05' in darts
    assert any(o.endswith('flops_target=10.5000') for o in darts)
    assert 'train_cfg.max_epochs=12' in darts
    assert 'find_unused_parameters=True' not in darts
    gumbel = rs.search_options(args, 'gumbel', 10.5)
    assert 'train_cfg.max_epochs=92' in gumbel
    assert 'find_unused_parameters=True' in gumbel
    uniform = rs.search_options(args, 'uniform', 10.5)
    # no arch step: no target, no arch optimiser, its own config
    assert not any('flops_target' in o or 'optim_wrapper.arch' in o
                   for o in uniform)
    assert 'train_cfg.max_epochs=50' in uniform
    assert rs.config_of('uniform') == rs.UNIFORM_CONFIG
    assert rs.config_of('proxyless') == rs.CONFIG


# ----------------------------------------------------------------- chain
def test_the_chain_at_smoke_size(tiny_camvid, tmp_path):
    ranking, work = tmp_path / 'rank_gt', tmp_path / 'searches'
    rg.main(['--smoke', '--stop-after', 'sample', '--no-cache',
             '--data-root', str(tiny_camvid), '--work-dir', str(ranking),
             '--threads', '1'])
    common = ['--smoke', '--data-root', str(tiny_camvid),
              '--ranking-work-dir', str(ranking), '--work-dir', str(work),
              '--threads', '1']
    # darts alone first: its scorers are judged before the others search
    first = rs.main(common + ['--modes', 'darts', '--evolve'])
    results = work / 'results'
    assert set(first['picks']) == {'darts'}
    assert set(first['scores']) == {'flops', 'params', 'synflow', 'naswot',
                                     'grad_norm', 'logprob_darts',
                                     'inherited_darts'}
    darts_ckpt = first['searches']['darts']['checkpoint']
    darts_made = (work / 'search' / 'darts' / 'done.json').stat().st_mtime_ns
    # then more modes in the same work dir: darts kept, its scores reused
    argv = common + ['--modes', 'uniform', '--evolve', 'uniform']
    out = rs.main(argv)
    assert (work / 'search' / 'darts' / 'done.json').stat().st_mtime_ns \
        == darts_made
    assert out['searches']['darts']['checkpoint'] == darts_ckpt
    for label in ('logprob_darts', 'inherited_darts'):
        # kept for the networks scored before; the new pick scored too
        assert {n: v for n, v in out['scores'][label].items()
                if n != 'uniform_evo'} == first['scores'][label]
        assert 'uniform_evo' in out['scores'][label]
    record = json.loads((results / 'searches.json').read_text())
    target = record['flops_target_G']
    sample = json.loads((ranking / 'sample' / 'done.json').read_text())
    flops = sorted(n['flops_G'] for n in sample['networks'])
    assert target == pytest.approx(flops[len(flops) // 2])  # 3: the middle
    assert set(record['picks']) == {'darts', 'uniform_evo'}
    evo = record['picks']['uniform_evo']
    assert evo['search'] == 'uniform'
    assert record['picks']['darts']['search'] == 'darts'
    # each cost with the threads it ran with (the darts pick's in the first
    # invocation; this one only made uniform's)
    assert evo['threads'] == 1 and record['picks']['darts']['threads'] == 1
    assert record['searches']['uniform']['threads'] == 1
    assert abs(evo['flops_G'] - target) <= 0.05 * target + 1e-9
    assert (results / 'searched' / 'uniform_evo.json').exists()
    scores = json.loads((results / 'scores.json').read_text())
    assert set(scores) == {'flops', 'params', 'synflow', 'naswot',
                           'grad_norm', 'logprob_darts', 'inherited_darts',
                           'inherited_uniform'}
    names = {n['name'] for n in sample['networks']} | {'darts',
                                                       'uniform_evo'}
    assert all(set(s) == names for s in scores.values())
    # log-probabilities are <= 0, mIoU scores are percentages
    assert all(v <= 0 for v in scores['logprob_darts'].values())
    assert all(0 <= v <= 100 for v in scores['inherited_uniform'].values())
    # continued: every stage kept, no score computed again
    kept = (work / 'scores.json').stat().st_mtime_ns
    again = rs.main(argv)
    assert again['scores'] == out['scores']
    assert (work / 'scores.json').stat().st_mtime_ns == kept
    with pytest.raises(SystemExit, match='other'):
        rs.main(argv + ['--arch-weight-decay', '0.001'])
