"""The argument parsers and bookkeeping of the experiment scripts in
benchmarks/ (the experiments themselves are long; their --smoke paths run the
real tools)."""
import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]


def _script(name: str):
    sys.path.insert(0, str(REPO / 'benchmarks'))
    path = REPO / 'benchmarks' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


camvid = _script('camvid_search_vs_random')
report = _script('camvid_report')
modes = _script('search_modes_equal_time')
tools = _script('_tools')
stages = _script('_stages')


# ------------------------------------------------------------ --arm
def test_arm_splits_script_keys_from_cfg_options():
    args = camvid.parse_args([
        '--arm', 'proxyless', 'search_epochs=40', 'warmup_epochs=4',
        'model.backbone.search_mode=proxyless',
        'find_unused_parameters=True'])
    assert args.arms == [dict(
        name='proxyless', search_epochs=40, warmup_epochs=4,
        search_options=['model.backbone.search_mode=proxyless',
                        'find_unused_parameters=True'])]


def test_arm_defaults_to_the_main_schedule():
    args = camvid.parse_args(['--search-epochs', '7', '--arm', 'a', '--arm',
                              'b', 'x.y=1'])
    assert [(a['name'], a['search_epochs'], a['warmup_epochs'])
            for a in args.arms] == [('a', 7, 2), ('b', 7, 2)]
    assert camvid.main_arm(args)['name'] is None


@pytest.mark.parametrize('tokens,match', [
    (['derived'], 'identifier other than'),
    (['1abc'], 'identifier'),
    (['a', 'search_epochs=x'], 'search_epochs must be a non-negative'),
    (['a', 'search_epochs=0'], 'search_epochs must be >= 1'),
    (['a', 'noequals'], 'expected KEY=VALUE'),
    (['a', '=1'], 'expected KEY=VALUE'),
])
def test_bad_arm_names_the_arm_and_field(tokens, match, capsys):
    with pytest.raises(SystemExit):
        camvid.parse_args(['--arm', *tokens])
    assert match in capsys.readouterr().err


def test_arm_names_must_differ(capsys):
    with pytest.raises(SystemExit):
        camvid.parse_args(['--arm', 'a', '--arm', 'a'])
    assert 'names must differ' in capsys.readouterr().err


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=4))
def test_parse_arm_accepts_or_raises_value_error(tokens):
    args = camvid.parse_args([])
    try:
        arm = camvid.parse_arm(tokens, args)
    except ValueError as err:
        assert str(err).startswith('--arm')
    else:
        assert arm['name'] == tokens[0] and arm['search_epochs'] >= 1
        assert len(arm['search_options']) <= len(tokens) - 1


def test_arm_dirs_are_separate_from_the_main_search(tmp_path):
    args = camvid.parse_args(['--arm', 'px', 'search_epochs=40'])
    st = stages.StageRunner(str(tmp_path), {}, 'x')
    assert camvid.arm_runner(st, camvid.main_arm(args)) is st
    px = camvid.arm_runner(st, args.arms[0])
    assert px.path('search') == str(tmp_path / 'arms' / 'px' / 'search')
    args = camvid.parse_args(['--arm', 'px', 'search_epochs=41'])
    with pytest.raises(SystemExit, match='other search_epochs; use another '
                       'arm name'):
        camvid.arm_runner(st, args.arms[0])


def test_search_options_set_the_hook_target_schedule_and_arm_options():
    args = camvid.parse_args(['--arm', 'px', 'search_epochs=40', 'a.b=1'])
    opts = camvid.search_options(args, 14.46096, args.arms[0])
    # the demo search config's ArchUpdateHook is custom_hooks[0]
    assert 'custom_hooks.0.flops_target=14.4610' in opts
    assert 'train_cfg.max_epochs=42' in opts  # 2 warm-up + 40 search
    assert 'custom_hooks.0.warmup_epochs=2' in opts
    assert opts[-1] == 'a.b=1'  # the arm's own options win


def test_hook_option_refuses_a_config_without_the_hook():
    with pytest.raises(ValueError, match='has no ArchUpdateHook'):
        tools.hook_option('configs/demo/mv2-aspp_demo_camvid-360x480.py',
                          'flops_target', 1.0)


# ------------------------------------------------------------ --scale
def test_scale_pairs():
    assert modes.parse_scale(['darts=1', 'proxyless=3.5']) == dict(
        darts=1.0, proxyless=3.5)


@pytest.mark.parametrize('pair', ['dart=1', 'darts', 'darts=0', 'darts=-1',
                                  'darts=inf', 'darts=nan', 'darts=x'])
def test_bad_scale_is_refused(pair):
    with pytest.raises(ValueError, match='--scale'):
        modes.parse_scale([pair])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=16), max_size=3))
def test_parse_scale_accepts_or_raises_value_error(pairs):
    try:
        scale = modes.parse_scale(pairs)
    except ValueError as err:
        assert str(err).startswith('--scale')
    else:
        assert all(0 < r < float('inf') for r in scale.values())


def test_schedule_scales_warmup_and_search_epochs():
    config = 'configs/demo/attnas-search_demo_synthetic-cityscapes-64x128.py'
    assert modes.schedule(config, 1.0) == dict(warmup_epochs=4, epochs=10)
    assert modes.schedule(config, 3.5) == dict(warmup_epochs=14, epochs=35)


# ------------------------------------------------------------ bookkeeping
def _log(path: Path, stamps):
    path.parent.mkdir(parents=True)
    path.write_text(''.join(f'{s} - mmengine - INFO - line\n'
                            for s in stamps) + 'traceback without stamp\n')


def test_train_minutes_sums_the_invocations_of_a_resumed_run(tmp_path):
    _log(tmp_path / 'a' / 'a.log',
         ['2026/11/25 16:54:13', '2026/11/25 17:04:13'])
    _log(tmp_path / 'b' / 'b.log',
         ['2026/11/25 18:00:00', '2026/11/25 18:02:30'])
    assert tools.train_minutes(str(tmp_path)) == pytest.approx(12.5)
    assert tools.train_minutes(str(tmp_path / 'none')) is None


def _row(name, role, flops, miou, arm=None):
    return dict(name=name, role=role, arm=arm, flops_G=flops, miou=miou)


def test_summary_compares_every_arm_with_the_same_random_and_baseline():
    rows = [_row('derived', 'derived', 14.5, [36.0, 36.0]),
            _row('derived_px', 'arm', 16.5, [40.0, 39.0], arm='px'),
            _row('r0', 'random', 13.0, [30.0]),
            _row('r1', 'random', 13.2, [34.0]),
            _row('mv2', 'baseline', 20.0, [38.0, 38.0])]
    prepare = dict(flops_target_G=14.0)
    derived = dict(confidence=dict(uncertain=['block 1']))
    summary = report.summarize_results(
        prepare, derived, rows,
        dict(px=dict(confidence=dict(uncertain=[]))))
    assert summary['random_miou_mean'] == 32.0
    assert summary['goal_beats_random']  # 36 > 32 + 2.83 (std of 30, 34)
    assert not summary['goal_beats_baseline']  # 36 < 38
    arm = summary['arms']['px']
    assert arm['derived_miou'] == 39.5  # above mv2's 38, but at 0.825x FLOPs
    assert arm['goal_beats_baseline'] is False
    assert arm['flops_ratio_derived_baseline'] == pytest.approx(0.825)
    assert arm['in_random_window'] is False  # 16.5 vs 14.5: +13.8%
    assert arm['uncertain_choices'] == []


def test_large_histories_are_thinned_and_gzipped(tmp_path, monkeypatch):
    import gzip
    import json
    src = tmp_path / 'h.jsonl'
    src.write_text(''.join(json.dumps(dict(arch_step=i)) + '\n'
                           for i in range(1, 251)))
    small = report.copy_history(str(src), str(tmp_path / 'small.jsonl'))
    assert Path(small).read_text() == src.read_text()
    monkeypatch.setattr(report, 'GZIP_ABOVE', 10)
    out = report.copy_history(str(src), str(tmp_path / 'big.jsonl'))
    assert out.endswith('.gz') and not (tmp_path / 'big.jsonl').exists()
    steps = [json.loads(line)['arch_step'] for line in gzip.open(out, 'rt')]
    assert steps[0] == 1 and steps[-1] == 250 and len(steps) <= 101
    assert steps == sorted(steps)
