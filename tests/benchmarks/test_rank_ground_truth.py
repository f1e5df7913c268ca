"""benchmarks/rank_ground_truth.py: its options, the window draw and the
names, the pilot's noise statistics, the ground-truth record, the resized
copy, the setting as a config, and a work dir continued from its markers (the
trainings themselves are long; --smoke runs the real tools)."""
import json
import math

import mmcv
import numpy as np
import pytest
from mmengine.config import Config

from attnas_mmseg.export.random_arch import (sample_archs,
                                             sample_archs_stratified,
                                             search_flops_table)
from attnas_mmseg.search.cost.flops import FLOPS_PER_G
from mmseg.registry import TRANSFORMS

from .test_benchmark_scripts import REPO, _script

rg = _script('rank_ground_truth')
rk = _script('_ranking')
SPACE = REPO / 'configs' / 'demo' / 'attnas-search_demo_camvid-120x160.py'


# ------------------------------------------------------------- options
def test_help_documents_the_options(capsys):
    with pytest.raises(SystemExit):
        rg.parse_args(['--help'])
    text = capsys.readouterr().out
    for option in ('--num-archs', '--pilot-archs', '--seeds', '--searched',
                   '--window', '--strata', '--val-split', '--class-weight',
                   '--height', '--width', '--epochs',
                   '--batch-size', '--lr', '--schedule', '--no-cache',
                   '--threads', '--device', '--work-dir', '--results-dir',
                   '--stop-after', '--ignore-pilot-goals', '--smoke'):
        assert option in text, option
    assert 'ground_truth.json' in text  # the stages, from the docstring


def test_defaults_and_checks(capsys):
    args = rg.parse_args([])
    assert (args.num_archs, args.pilot_archs, args.seeds) == (16, 6, [0, 1])
    assert (args.height, args.width, args.epochs, args.batch_size,
            args.lr, args.schedule) == (120, 160, 30, 8, 0.05, 'poly')
    assert args.window == [0.4, 1.0] and args.cache
    assert args.strata is None  # uniform over the window
    assert args.val_split is None  # SegNet's val
    assert rg.parse_args(['--val-split', 'segnet']).val_split is None
    assert rg.parse_args(['--val-split', 'blocks']).val_split == 'blocks'
    assert args.class_weight is None  # the retrain's unweighted loss
    assert args.results_dir == str(REPO / 'docs/results/camvid/ranking')
    for argv, message in (
            (['--smoke', '--results-dir', str(REPO / 'docs/results/x')],
             'must not write under docs/results'),
            (['--seeds', '3', '3'], '>= 2 distinct seeds'),
            (['--window', '1.0', '0.4'], '0 < LOW <= HIGH'),
            (['--strata', '0'], '--strata must be >= 1'),
            (['--val-split', 'blocks', '--no-cache'], 'needs the cache'),
            (['--class-weight', 'inverse'], "choose from 'median-freq'"),
            (['--strata', '3', '--window', '0.5', '0.5'], 'LOW < HIGH'),
            (['--num-archs', '3'], '--pilot-archs must be <='),
            (['--pilot-archs', '1'], '--pilot-archs must be >= 2'),
            (['--epochs', '0'], '--epochs must be >= 1'),
            (['--lr-min', '0.1'], '--lr-min in [0, --lr)'),
            (['--searched', 'r03=a.json'], 'other than r<digits>'),
            (['--searched', 'a=x.json', '--searched', 'a=y.json'],
             'given twice'),
            (['--searched', 'a'], 'expected NAME=path'),
            (['--num-archs', '8', '--first', 'r08'],
             "['r08'] are not networks of this draw (allowed: r00, r01,")):
        with pytest.raises(SystemExit):
            rg.parse_args(argv)
        assert message in capsys.readouterr().err, argv
    smoke = rg.parse_args(['--smoke', '--work-dir', '/tmp/w'])
    assert smoke.results_dir == '/tmp/w/results'
    assert (smoke.num_archs, smoke.pilot_archs, smoke.epochs,
            smoke.num_train, smoke.num_val) == (3, 2, 1, 8, 4)
    assert smoke.ignore_pilot_goals


def test_first_moves_the_named_networks_to_the_front_of_the_queue():
    nets = [dict(name=n) for n in ('r06', 'r07', 'r08', 'darts', 'uniform')]
    order = lambda first: [n['name'] for n in rg.first_in_queue(nets, first)]
    assert order([]) == ['r06', 'r07', 'r08', 'darts', 'uniform']
    assert order(['uniform', 'darts']) == ['uniform', 'darts', 'r06', 'r07',
                                           'r08']
    # a pilot network (not in this part of the queue) is left alone
    assert order(['r00', 'r08', 'r08']) == ['r08', 'r06', 'r07', 'darts',
                                            'uniform']
    args = rg.parse_args(['--searched', 'darts=a.json', '--first', 'darts'])
    assert rg.all_names(args)[-1] == 'darts' and args.first == ['darts']


def test_names():
    assert rk.network_names(3) == ['r00', 'r01', 'r02']
    names = rk.network_names(101)
    assert names[0] == 'r000' and names[-1] == 'r100'
    assert rk.parse_searched(['a=x/arch.json', 'b_2=y.json']) == [
        ('a', 'x/arch.json'), ('b_2', 'y.json')]
    with pytest.raises(ValueError, match='num-archs'):
        rk.network_names(0)


# --------------------------------------------------------- the draw
def test_sample_draws_inside_the_window_and_names_them(tmp_path):
    # the CamVid space priced at 64x128 (cheap to count), retrained from the
    # proxy base
    space = tmp_path / 'space.py'
    space.write_text(f"_base_ = ['{SPACE}']\nderive = dict(input_size=(64, "
                     f"128), retrain_base='{REPO / rg.PROXY_CONFIG}')\n")
    searched = tmp_path / 'found.json'
    arch = 'mv2(1,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3) AttSet1(6,13)+AttSet2(2,4)'
    from attnas_mmseg.search import ArchSpec
    ArchSpec.parse_arch(arch).save(searched)
    # a narrow window, so that most candidates fall outside it
    args = rg.parse_args(['--num-archs', '3', '--pilot-archs', '2',
                          '--window', '0.5', '0.55',
                          '--searched', f's1={searched}'])
    out = rg.sample_networks(args, str(space), str(tmp_path / 'nets'))
    ref = out['reference']['flops_G']
    assert out['window_G'] == pytest.approx([0.5 * ref, 0.55 * ref])
    nets = out['networks']
    assert [n['name'] for n in nets] == ['r00', 'r01', 'r02', 's1']
    assert [n['source'] for n in nets] == ['random'] * 3 + [
        f'searched:{searched}']
    assert nets[3]['spec'] == arch
    # the built networks' counts (write_derived) lie in the table's window
    for net in nets[:3]:
        assert 0.5 * ref <= net['flops_G'] <= 0.55 * ref
        assert (tmp_path / 'nets' / net['name'] / 'retrain.py').exists()
    # the sampler's own draw, seed 0: a longer draw keeps these first
    table = search_flops_table(str(space))
    again = sample_archs(5, 0, price=lambda s: table.network_cost(s) /
                         FLOPS_PER_G, window=tuple(out['window_G']))
    assert [n['spec'] for n in nets[:3]] == [str(s) for s in again[:3]]


def test_strata_spread_the_draw_over_the_window(tmp_path):
    space = tmp_path / 'space.py'
    space.write_text(f"_base_ = ['{SPACE}']\nderive = dict(input_size=(64, "
                     f"128), retrain_base='{REPO / rg.PROXY_CONFIG}')\n")
    args = rg.parse_args(['--num-archs', '4', '--pilot-archs', '3',
                          '--strata', '3'])
    out = rg.sample_networks(args, str(space), str(tmp_path / 'nets'))
    low, high = out['window_G']
    width = (high - low) / 3
    nets = out['networks']
    # r00, r01, r02 in the three bins in turn, r03 in the first again
    for i, net in enumerate(nets):
        bin_low = low + width * (i % 3)
        assert bin_low - 1e-6 <= net['flops_G'] <= bin_low + width + 1e-6
    # the draw is sample_archs_stratified's, seed 0
    table = search_flops_table(str(space))
    again = sample_archs_stratified(
        4, 0, 3, price=lambda s: table.network_cost(s) / FLOPS_PER_G,
        window=(low, high))
    assert [n['spec'] for n in nets] == [str(s) for s in again]
    assert rg.setting_of(args)['strata'] == 3


def test_reference_is_mv2_aspp_at_720x960():
    # docs/benchmarks.md: mv2+ASPP (256 ch) 20.66G, 7.14M at 720x960
    ref = rk.reference_cost(str(REPO / rg.REFERENCE_CONFIG), (720, 960))
    assert ref['flops_G'] == pytest.approx(20.66, abs=0.005)
    assert ref['params_M'] == pytest.approx(7.14, abs=0.005)


# --------------------------------------------------------- the pilot
def test_pilot_stats_against_hand_arithmetic():
    stats = rk.pilot_stats(dict(a={'0': 30, '1': 32}, b={'0': 36, '1': 34},
                                c={'0': 40, '1': 41}))
    # variances (ddof 1): a 2, b 2, c 0.5 -> pooled sqrt(4.5 / 3)
    assert stats['within_std'] == pytest.approx(math.sqrt(1.5))
    # means 31, 35, 40.5 around 35.5: (20.25 + 0.25 + 25) / 2
    assert stats['between_std'] == pytest.approx(math.sqrt(22.75))
    assert stats['ratio'] == pytest.approx(math.sqrt(22.75 / 1.5))
    # the means' spread holds 1.5 / 2 of seed noise
    assert stats['true_between_std'] == pytest.approx(math.sqrt(22.0))
    assert stats['attainable_tau'] == pytest.approx(
        2 / math.pi * math.asin(math.sqrt(22.0 / 22.75)))
    assert stats['tau'] == pytest.approx(1.0)  # same order under both seeds
    assert stats['tau_goal_met'] and stats['ratio_goal_met']
    # seed 0: a < b < c, seed 1: b < a < c: 2 concordant, 1 discordant pair
    noisy = rk.pilot_stats(dict(a={'0': 30, '1': 35}, b={'0': 33, '1': 31},
                                c={'0': 40, '1': 41}))
    assert noisy['tau'] == pytest.approx(1 / 3)
    assert not noisy['tau_goal_met']
    three = rk.pilot_stats(dict(a={'0': 1, '1': 2, '2': 1},
                                b={'0': 2, '1': 1, '2': 2}))
    # two networks: each pair of seeds agrees (+1) or not (-1)
    assert three['tau_per_pair'] == {'0-1': -1.0, '0-2': 1.0, '1-2': -1.0}
    assert three['tau'] == pytest.approx(-1 / 3)
    with pytest.raises(ValueError, match='same >= 2 seeds'):
        rk.pilot_stats(dict(a={'0': 1, '1': 2}, b={'0': 1}))
    assert 'NOT met' in rk.pilot_lines(noisy)[1]
    assert 'flops_tau' not in noisy
    # FLOPs against the means (a 32.5, b 32, c 40.5): c > a > b in FLOPs
    # agrees on (c, a) and (c, b), not on (a, b)
    sized = rk.pilot_stats(dict(a={'0': 30, '1': 35}, b={'0': 33, '1': 31},
                                c={'0': 40, '1': 41}),
                           flops=dict(a=10.0, b=8.0, c=12.0))
    assert sized['flops_tau'] == pytest.approx(1.0)
    sized = rk.pilot_stats(dict(a={'0': 30, '1': 35}, b={'0': 33, '1': 31},
                                c={'0': 40, '1': 41}),
                           flops=dict(a=8.0, b=10.0, c=12.0))
    assert sized['flops_tau'] == pytest.approx(1 / 3)
    assert sized['flops_G'] == dict(a=8.0, b=10.0, c=12.0)
    assert 'FLOPs against the mean mIoU 0.333' in rk.pilot_lines(sized)[3]
    assert 'own spread 4.69 mIoU' in rk.pilot_lines(stats)[2]


# ---------------------------------------------------- the ground truth
def _net(name, source='random'):
    return dict(name=name, spec=f'spec-{name}', flops_G=10.0, params_M=3.0,
                source=source, config=f'/nowhere/{name}/retrain.py')


def _run(name, seed, miou, train_s=1800.0):
    return rk.kept_run(name, seed, miou, train_s, 0.0, 2, 'cpu')


def test_ground_truth_holds_the_finished_networks_in_the_format():
    nets = [_net('r00'), _net('r01'), _net('x', 'searched:a.json')]
    runs = {'r00-s0': _run('r00', 0, 30.0), 'r00-s1': _run('r00', 1, 34.0),
            'x-s0': _run('x', 0, 40.0, 3600.0)}
    truth = rk.ground_truth(dict(epochs=30), nets, runs, [0, 1], ['r00'],
                            dict(sample=dict(wall_s=360.0, threads=2)))
    assert set(truth) >= {'setting', 'networks', 'cpu_hours'}
    assert truth['networks'] == [dict(
        name='r00', spec='spec-r00', flops_G=10.0, params_M=3.0,
        miou={'0': 30.0, '1': 34.0}, mean=32.0, source='random')]
    assert not truth['complete'] and truth['pending'] == ['r01', 'x']
    # CPU hours = wall x 2 threads: 2 x 0.5 h pilot runs, one 1 h run
    assert truth['cpu_hours'] == pytest.approx(
        dict(sample=0.2, pilot=2.0, train=2.0))
    assert truth['wall_hours']['pilot'] == pytest.approx(1.0)
    json.dumps(truth, allow_nan=False)


def test_final_val_metrics_reads_the_last_epochs_validation(tmp_path):
    logs = tmp_path / '20260101_000000' / 'vis_data'
    logs.mkdir(parents=True)
    (logs / 'scalars.json').write_text(
        '{"loss": 1.0, "epoch": 1, "iter": 1, "step": 1}\n'
        '{"mIoU": 10.0, "aAcc": 50.0, "step": 1}\n'
        '{"mIoU": 12.5, "aAcc": 60.0, "step": 2}\n')
    assert rk.final_val_metrics(str(tmp_path), 2)['mIoU'] == 12.5
    assert rk.final_val_metrics(str(tmp_path), 3) is None


# -------------------------------------------------- the setting, the data
def test_proxy_config_holds_the_setting(tmp_path):
    setting = dict(height=60, width=80, epochs=7, batch_size=3, lr=0.02,
                   lr_min=1e-5, schedule='cosine', num_train=5, num_val=None)
    path = tmp_path / 'proxy.py'
    path.write_text(rk.proxy_config_text(str(REPO / rg.PROXY_CONFIG),
                                         setting, '/data/x'))
    cfg = Config.fromfile(path)
    train, val = cfg.train_dataloader, cfg.test_dataloader
    assert train.batch_size == 3 and train.dataset.indices == 5
    assert 'indices' not in val.dataset
    assert train.dataset.data_root == val.dataset.data_root == '/data/x'
    for pipeline in (train.dataset.pipeline, val.dataset.pipeline):
        assert [t.scale for t in pipeline if t.type == 'Resize'] == [(80, 60)]
    assert cfg.model.data_preprocessor.size == (60, 80)
    assert cfg.optim_wrapper.optimizer.lr == 0.02
    assert cfg.optim_wrapper.optimizer.type == 'SGD'  # from the base
    assert cfg.param_scheduler == [dict(
        type='CosineAnnealingLR', T_max=7, eta_min=1e-5, begin=0, end=7,
        by_epoch=True)]
    assert cfg.train_cfg.max_epochs == 7 and cfg.train_cfg.val_interval == 7
    assert cfg.default_hooks.checkpoint.interval == 1
    assert cfg.model.decode_head.loss_decode.get('class_weight') is None
    with pytest.raises(ValueError, match='schedule'):
        rk.proxy_config_text(str(REPO / rg.PROXY_CONFIG),
                             dict(setting, schedule='step'), '/data/x')
    weights = [0.5 + i / 10 for i in range(11)]  # CamVid's 11 classes
    path.write_text(rk.proxy_config_text(str(REPO / rg.PROXY_CONFIG),
                                         setting, '/data/x', weights))
    loss = Config.fromfile(path).model.decode_head.loss_decode
    assert loss.class_weight == pytest.approx(weights)
    # MMSeg's CrossEntropyLoss fails on CamVid's void with class weights
    assert loss.type == 'ClassWeightedCrossEntropyLoss'
    assert loss.loss_weight == 1.0 and not loss.use_sigmoid
    with pytest.raises(ValueError, match='10 weights for the 11 classes'):
        rk.proxy_config_text(str(REPO / rg.PROXY_CONFIG), setting, '/data/x',
                             weights[:10])


def _label_maps(folder, *maps):
    folder.mkdir()
    for i, label in enumerate(maps):
        mmcv.imwrite(np.array(label, np.uint8), str(folder / f'f{i}.png'))
    return str(folder)


def test_median_frequency_weights_against_hand_arithmetic(tmp_path):
    # map 0: 5 of class 0, 2 of class 1, 1 void (7 labelled pixels);
    # map 1: 6 of class 0, 2 of class 2 (8 labelled pixels)
    ann = _label_maps(tmp_path / 'ann', [[0, 0, 0, 1], [0, 0, 11, 1]],
                      [[2, 2, 0, 0], [0, 0, 0, 0]])
    # f = 11/15, 2/7, 2/8; the median is 2/7
    assert rk.median_frequency_weights(ann, 3) == pytest.approx(
        [(2 / 7) / (11 / 15), 1.0, (2 / 7) / (2 / 8)])
    with pytest.raises(ValueError, match=r'classes \[2\] appear in none of '
                       r'the 1 label maps'):
        rk.median_frequency_weights(ann, 3, limit=1)
    with pytest.raises(ValueError, match='outside 0-1 and void 11'):
        rk.median_frequency_weights(ann, 2)
    with pytest.raises(ValueError, match='no .png label map'):
        rk.median_frequency_weights(_label_maps(tmp_path / 'empty'), 3)


def test_class_weight_stage_reads_the_train_split(tmp_path, tiny_camvid):
    args = rg.parse_args(['--class-weight', 'median-freq', '--num-train',
                          '4'])
    # the synthetic layout draws 7 of CamVid's 11 classes: no frequency
    with pytest.raises(ValueError, match=r'classes \[2, 6, 7, 10\] appear '
                       r'in none of the 4 label maps under .*trainannot'):
        rg.stage_class_weight(args, str(tiny_camvid))
    ann = tmp_path / 'trainannot'
    _label_maps(ann, [list(range(11)) + [11]], [[0] * 12])
    found = rg.stage_class_weight(args, str(tmp_path))
    assert found['method'] == 'median-freq' and len(found['weights']) == 11
    # class 0: 1 + 12 of 23 labelled pixels; the others 1 of 11 (the median)
    assert found['weights'][0] == pytest.approx((1 / 11) / (13 / 23))
    assert found['weights'][1:] == pytest.approx([1.0] * 10)


def test_resized_copy_gives_the_pipelines_pixels(tiny_camvid, tmp_path):
    # 64x128 -> 24x48: a factor (0.375) at which interpolations differ
    counts = rk.write_resized_copy(str(tiny_camvid), str(tmp_path), 30, 48)
    assert counts == dict(train=8, trainannot=8, val=4, valannot=4)
    name = sorted((tiny_camvid / 'train').iterdir())[0].name
    assert mmcv.imread(str(tmp_path / 'trainannot' / name),
                       flag='unchanged').shape == (24, 48)
    steps = [TRANSFORMS.build(t) for t in (
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
        dict(type='Resize', scale=(48, 30), keep_ratio=True))]

    def load(root):
        out = dict(img_path=str(root / 'train' / name),
                   seg_map_path=str(root / 'trainannot' / name),
                   reduce_zero_label=False, seg_fields=[])
        for step in steps:
            out = step(out)
        return out

    source, cached = load(tiny_camvid), load(tmp_path)
    assert source['img'].shape == (24, 48, 3)
    np.testing.assert_array_equal(source['img'], cached['img'])
    np.testing.assert_array_equal(source['gt_seg_map'], cached['gt_seg_map'])


def test_scene_blocks_hold_out_every_fourth_run_of_each_sequence():
    names = [f'0001TP_{i:06d}.png' for i in range(0, 600, 30)] + \
        [f'Seq05VD_f{i:05d}.png' for i in range(40)]
    kept, held = rk.scene_blocks(names, block=4, every=4)
    # 0001TP: 20 frames, runs 0-4 of 4: run 2 held (frames 8-11 in order)
    assert [n for n in held if n.startswith('0001TP')] == [
        f'0001TP_{i:06d}.png' for i in range(240, 360, 30)]
    # Seq05VD: 40 frames, runs 0-9: runs 2 and 6 held
    assert [n for n in held if n.startswith('Seq05VD')] == [
        f'Seq05VD_f{i:05d}.png' for i in (*range(8, 12), *range(24, 28))]
    assert sorted(kept + held) == sorted(names) and not set(kept) & set(held)
    with pytest.raises(ValueError, match='not a CamVid frame'):
        rk.scene_blocks(['frame.png'])


def test_blocks_split_tests_on_held_out_train_scenes(tiny_camvid, tmp_path):
    import shutil
    src = tmp_path / 'src'
    for folder in ('train', 'trainannot', 'val', 'valannot'):
        (src / folder).mkdir(parents=True)
    first = sorted((tiny_camvid / 'train').iterdir())[0].name
    for i in range(3 * rk.SCENE_BLOCK):   # runs 0, 1, 2: run 2 held out
        for folder in ('train', 'trainannot'):
            shutil.copy(tiny_camvid / folder / first,
                        src / folder / f'0016E5_{i:05d}.png')
    for folder in ('val', 'valannot'):
        shutil.copy(tiny_camvid / 'trainannot' / first,
                    src / folder / 'v_1.png')
    counts = rk.write_resized_copy(str(src), str(tmp_path / 'dst'), 30, 48,
                                   'blocks')
    block = rk.SCENE_BLOCK
    assert counts == dict(train=2 * block, trainannot=2 * block, val=block,
                          valannot=block)
    held = sorted(p.name for p in (tmp_path / 'dst' / 'valannot').iterdir())
    assert held == [f'0016E5_{i:05d}.png' for i in range(2 * block,
                                                          3 * block)]
    assert not (tmp_path / 'dst' / 'val' / 'v_1.png').exists()
    with pytest.raises(ValueError, match='no held-out run'):
        rk.write_resized_copy(str(tiny_camvid), str(tmp_path / 'x'), 30, 48,
                              'blocks')
    with pytest.raises(ValueError, match='val_split must be one of'):
        rk.write_resized_copy(str(src), str(tmp_path / 'x'), 30, 48, 'test')


# ---------------------------------------------------------------- resume
def _kept(work, name, value):
    path = work / name / 'done.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def test_stop_after_cache_writes_only_the_resized_copy(tmp_path,
                                                      tiny_camvid):
    work = tmp_path / 'work'
    out = rg.main(['--stop-after', 'cache', '--data-root', str(tiny_camvid),
                   '--height', '24', '--width', '32', '--work-dir', str(work),
                   '--results-dir', str(tmp_path / 'results'),
                   '--threads', '1'])
    root = work / 'data' / 'camvid-24x32'
    assert out['cache']['root'] == str(root)
    assert out['cache']['files'] == dict(train=8, trainannot=8, val=4,
                                         valannot=4)
    assert len(list((root / 'val').iterdir())) == 4
    assert not (work / 'sample').exists() and not (work / 'proxy.py').exists()


def test_class_weight_is_computed_on_the_cached_train_split(tmp_path,
                                                            tiny_camvid):
    work = tmp_path / 'work'
    # the synthetic layout draws 7 of the 11 classes: the weights cannot be
    # made, and the run stops before drawing any network
    with pytest.raises(ValueError, match=r'classes \[2, 6, 7, 10\] appear in '
                       r'none of the 8 label maps under .*camvid-24x32'):
        rg.main(['--class-weight', 'median-freq', '--data-root',
                 str(tiny_camvid), '--height', '24', '--width', '32',
                 '--work-dir', str(work), '--results-dir',
                 str(tmp_path / 'results'), '--threads', '1'])
    assert (work / 'data' / 'camvid-24x32' / 'trainannot').is_dir()
    assert not (work / 'sample').exists()


def test_a_work_dir_continues_from_its_markers(tmp_path, tiny_camvid):
    work, results = tmp_path / 'work', tmp_path / 'results'
    argv = ['--num-archs', '3', '--pilot-archs', '2', '--no-cache',
            '--data-root', str(tiny_camvid), '--work-dir', str(work),
            '--results-dir', str(results), '--threads', '1']
    nets = [_net('r00'), _net('r01'), _net('r02')]
    _kept(work, 'sample', dict(
        networks=nets, input_size=[720, 960], window_G=[8.0, 20.0],
        reference=dict(flops_G=20.0), wall_s=36.0, threads=1))
    # a noisy pilot: the order flips between the seeds (tau -1)
    for name, seed, miou in (('r00', 0, 30.0), ('r00', 1, 33.0),
                             ('r01', 0, 32.0), ('r01', 1, 31.0)):
        _kept(work, f'runs/{name}-s{seed}', _run(name, seed, miou, 360.0))
    _kept(work, 'runs/r02-s0', _run('r02', 0, 20.0, 360.0))
    out = rg.main(argv)   # every stage kept: nothing is trained
    assert out['pilot']['tau'] == pytest.approx(-1.0)
    assert not out['pilot']['tau_goal_met']
    pilot = json.loads((results / 'pilot.json').read_text())
    assert pilot['miou'] == {'r00': {'0': 30.0, '1': 33.0},
                             'r01': {'0': 32.0, '1': 31.0}}
    truth = json.loads((results / 'ground_truth.json').read_text())
    # stopped after the pilot: r02's seed 1 was not trained
    assert [n['name'] for n in truth['networks']] == ['r00', 'r01']
    assert truth['pending'] == ['r02'] and truth['setting']['epochs'] == 30
    assert truth['cpu_hours']['pilot'] == pytest.approx(4 * 0.1 * 2)
    assert (work / 'proxy.py').exists() and (work / 'space.py').exists()
    # going on trains only what has no marker: r02 seed 1, whose config
    # does not exist here; the record was rewritten after each kept run
    (results / 'ground_truth.json').unlink()
    with pytest.raises(RuntimeError, match=r'r02/retrain.py'):
        rg.main(argv + ['--ignore-pilot-goals'])
    assert not (work / 'runs' / 'r01-s0' / 'train').exists()
    partial = json.loads((results / 'ground_truth.json').read_text())
    assert partial['pending'] == ['r02']
    assert partial['cpu_hours']['sample'] == pytest.approx(0.01)
    # other results options are refused
    with pytest.raises(SystemExit, match='other epochs'):
        rg.main(argv + ['--epochs', '5'])


def test_workers_train_what_one_worker_would(tmp_path, tiny_camvid):
    """--workers 2 runs the kept runs' stages in a pool: the same pilot, the
    same record, and the missing run still fails by its name."""
    work, results = tmp_path / 'work', tmp_path / 'results'
    argv = ['--num-archs', '3', '--pilot-archs', '2', '--no-cache',
            '--data-root', str(tiny_camvid), '--work-dir', str(work),
            '--results-dir', str(results), '--threads', '1',
            '--workers', '2']
    _kept(work, 'sample', dict(
        networks=[_net('r00'), _net('r01'), _net('r02')],
        input_size=[720, 960], window_G=[8.0, 20.0],
        reference=dict(flops_G=20.0), wall_s=36.0, threads=1))
    for name, seed, miou in (('r00', 0, 30.0), ('r00', 1, 31.0),
                             ('r01', 0, 40.0), ('r01', 1, 42.0),
                             ('r02', 0, 20.0)):
        _kept(work, f'runs/{name}-s{seed}', _run(name, seed, miou, 360.0))
    out = rg.main(argv + ['--stop-after', 'pilot'])
    assert out['pilot']['tau'] == pytest.approx(1.0)
    assert out['pilot']['tau_goal_met'] and out['pilot']['ratio_goal_met']
    truth = json.loads((results / 'ground_truth.json').read_text())
    assert [n['name'] for n in truth['networks']] == ['r00', 'r01']
    with pytest.raises(RuntimeError, match=r'r02/retrain.py'):
        rg.main(argv)
    # the failed run's tools wrote into its own log
    assert (work / 'runs' / 'r02-s1' / 'run.log').exists()
    with pytest.raises(SystemExit):
        rg.parse_args(['--workers', '0'])


def test_runs_finished_before_are_recorded_before_any_training(tmp_path,
                                                              tiny_camvid):
    """--first puts an untrained network ahead of finished ones; those are
    in the ground truth before it trains (here: fails, its config missing)."""
    work, results = tmp_path / 'work', tmp_path / 'results'
    argv = ['--num-archs', '4', '--pilot-archs', '2', '--no-cache',
            '--data-root', str(tiny_camvid), '--work-dir', str(work),
            '--results-dir', str(results), '--threads', '1',
            '--ignore-pilot-goals', '--first', 'r02']
    _kept(work, 'sample', dict(
        networks=[_net(f'r0{i}') for i in range(4)],
        input_size=[720, 960], window_G=[8.0, 20.0],
        reference=dict(flops_G=20.0), wall_s=36.0, threads=1))
    for name in ('r00', 'r01', 'r03'):
        for seed in (0, 1):
            _kept(work, f'runs/{name}-s{seed}',
                  _run(name, seed, 30.0 + seed + int(name[-1]), 360.0))
    with pytest.raises(RuntimeError, match=r'r02/retrain.py'):
        rg.main(argv)
    truth = json.loads((results / 'ground_truth.json').read_text())
    assert [n['name'] for n in truth['networks']] == ['r00', 'r01', 'r03']
    assert truth['pending'] == ['r02']


def test_adopt_takes_an_earlier_ground_truths_runs(tmp_path, tiny_camvid):
    """--adopt: a work dir that lost its runs continues from the record they
    left (here, the pilot's two networks): nothing of theirs is trained
    again, their hours are carried, the pilot's per-class table too; another
    setting, another draw or runs of its own are refused by name."""
    first, results = tmp_path / 'first', tmp_path / 'results'
    base = ['--num-archs', '3', '--pilot-archs', '2', '--no-cache',
            '--data-root', str(tiny_camvid), '--threads', '1',
            '--ignore-pilot-goals']
    nets = [_net('r00'), _net('r01'), _net('r02')]
    sample = dict(networks=nets, input_size=[720, 960], window_G=[8.0, 20.0],
                  reference=dict(flops_G=20.0), wall_s=36.0, threads=1)
    _kept(first, 'sample', sample)
    for name, seed, miou in (('r00', 0, 30.0), ('r00', 1, 31.0),
                             ('r01', 0, 40.0), ('r01', 1, 42.0)):
        _kept(first, f'runs/{name}-s{seed}', _run(name, seed, miou, 360.0))
    with pytest.raises(RuntimeError, match=r'r02/retrain.py'):
        rg.main(base + ['--work-dir', str(first), '--results-dir',
                        str(results)])
    earlier = results / 'ground_truth.json'
    pilot = json.loads((results / 'pilot.json').read_text())
    pilot['class_seed_std'] = {'Sky': 0.5}   # as its runs' logs gave it
    (results / 'pilot.json').write_text(json.dumps(pilot))

    second, again = tmp_path / 'second', tmp_path / 'again'
    argv = base + ['--work-dir', str(second), '--results-dir', str(again),
                   '--adopt', str(earlier)]
    _kept(second, 'sample', sample)
    (again / 'pilot.json').parent.mkdir()
    (again / 'pilot.json').write_text(json.dumps(pilot))
    for _ in range(2):   # the second time, the adopt stage is kept
        with pytest.raises(RuntimeError, match=r'r02/retrain.py'):
            rg.main(argv)
        truth = json.loads((again / 'ground_truth.json').read_text())
        assert [n['name'] for n in truth['networks']] == ['r00', 'r01']
        assert truth['networks'][1]['miou'] == {'0': 40.0, '1': 42.0}
        assert truth['pending'] == ['r02']
        # the first record's 4 pilot runs of 0.1 h at 2 threads, not redone
        assert truth['cpu_hours']['adopt'] == pytest.approx(0.8)
        assert truth['cpu_hours']['pilot'] == 0.0
        assert not (second / 'runs' / 'r00-s0' / 'train').exists()
        kept = json.loads((second / 'runs' / 'r01-s1' / 'done.json')
                          .read_text())
        assert kept['adopted_from'] == str(earlier)
        assert json.loads((again / 'pilot.json').read_text())[
            'class_seed_std'] == {'Sky': 0.5}

    with pytest.raises(SystemExit, match=r'adopted .*ground_truth.json '
                       r'already'):
        rg.main(argv[:-1] + [str(results / 'pilot.json')])
    third = tmp_path / 'third'
    work = third / 'epochs'
    _kept(work, 'sample', sample)
    with pytest.raises(SystemExit, match=r'another setting: epochs 30 there, '
                       r'5 here'):
        rg.main(base + ['--work-dir', str(work), '--results-dir', str(again),
                        '--adopt', str(earlier), '--epochs', '5'])
    work = third / 'pilot'
    _kept(work, 'sample', sample)
    with pytest.raises(SystemExit, match=r'pilot.json: not a ground_truth'):
        rg.main(base + ['--work-dir', str(work), '--results-dir', str(again),
                        '--adopt', str(results / 'pilot.json')])
    larger = json.loads(earlier.read_text())
    larger['networks'].append(dict(larger['networks'][0], name='r07'))
    (tmp_path / 'larger.json').write_text(json.dumps(larger))
    work = third / 'draw'
    _kept(work, 'sample', sample)
    with pytest.raises(SystemExit, match=r'network r07 is not in this draw '
                       r'\(r00, r01, r02\)'):
        rg.main(base + ['--work-dir', str(work), '--results-dir', str(again),
                        '--adopt', str(tmp_path / 'larger.json')])
    work = third / 'spec'
    _kept(work, 'sample', dict(sample, networks=[
        dict(nets[0], spec='other'), nets[1], nets[2]]))
    with pytest.raises(SystemExit, match='r00 is spec-r00 there, other in '
                       'this draw'):
        rg.main(base + ['--work-dir', str(work), '--results-dir', str(again),
                        '--adopt', str(earlier)])
    work = third / 'own'
    _kept(work, 'sample', sample)
    _kept(work, 'runs/r00-s0', _run('r00', 0, 30.0, 360.0))
    with pytest.raises(SystemExit, match=r'trained r00-s0 itself'):
        rg.main(base + ['--work-dir', str(work), '--results-dir', str(again),
                        '--adopt', str(earlier)])
    assert not (work / 'runs' / 'r01-s0').exists()   # destroyed nothing


IOU_TABLE = """2026/11/30 11:58:05 - mmengine - INFO - per class results:
2026/11/30 11:58:05 - mmengine - INFO - 
+------------+-------+-------+
|   Class    |  IoU  |  Acc  |
+------------+-------+-------+
|    Sky     | {sky} | 90.01 |
|    Tree    | {tree} | 87.41 |
| SignSymbol |  nan  |  nan  |
+------------+-------+-------+
2026/11/30 11:58:05 - mmengine - INFO - Epoch(val) [30][101/101]    aAcc: 82.3300  mIoU: 39.0200
"""


def test_class_iou_reads_the_last_logged_table(tmp_path):
    run = tmp_path / 'r00-s0'
    assert rk.class_iou(str(run)) is None
    log = run / 'train' / '20261130_1' / '20261130_1.log'
    log.parent.mkdir(parents=True)
    log.write_text('start\n' + IOU_TABLE.format(sky=80.0, tree=70.5) +
                   'more\n' + IOU_TABLE.format(sky=83.51, tree=78.11))
    found = rk.class_iou(str(run))
    assert found['Sky'] == 83.51 and found['Tree'] == 78.11
    assert math.isnan(found['SignSymbol']) and len(found) == 3


def test_class_seed_std_against_hand_arithmetic():
    iou = dict(a={'0': dict(Tree=80.0, Sky=90.0), '1': dict(Tree=40.0,
                                                           Sky=90.0)},
               b={'0': dict(Tree=70.0, Sky=88.0), '1': dict(Tree=74.0,
                                                           Sky=92.0)})
    # Tree: variances 800 and 8 -> sqrt(404); Sky: 0 and 8 -> 2
    std = rk.class_seed_std(iou)
    assert list(std) == ['Tree', 'Sky']
    assert std['Tree'] == pytest.approx(math.sqrt(404))
    assert std['Sky'] == pytest.approx(2.0)
    lines = rk.pilot_lines(dict(rk.pilot_stats(
        dict(a={'0': 30, '1': 32}, b={'0': 36, '1': 34})),
        class_seed_std=std))
    assert lines[-1].endswith('Tree 20.1, Sky 2.0')
