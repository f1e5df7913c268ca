"""§3.3.3 derivation and tools/derive_arch.py."""
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from attnas_mmseg.search import (ArchSpec, derive_arch, derive_attention,
                                 derive_backbone)
from attnas_mmseg.export import (arch_params_from_checkpoint,
                                         export_derived)

from .._builders import segmentor_cfg

REPO = Path(__file__).resolve().parents[2]


def hand_set_beta():
    beta = torch.zeros(2, 13)
    beta[0, 11], beta[0, 12] = 5.0, 4.0      # Att12, Att13 in AttSet1
    beta[1, 2], beta[1, 6] = 4.5, 3.0        # Att3, Att7 in AttSet2
    beta[1, 0] = 2.0                         # 5th best: dropped with top-4
    return beta


def test_topk_over_all_layers_places_each_in_its_layer():
    assert derive_attention(hand_set_beta(), 4) == ((12, 13), (3, 7))
    assert derive_attention(hand_set_beta(), 5) == ((12, 13), (1, 3, 7))
    assert derive_attention(hand_set_beta(), 1) == ((12, ), ())


def test_argmax_backbone_and_spec():
    alpha = torch.zeros(17, 6)
    code = (3, 3, 2, 3, 2, 3, 2, 3, 2, 6, 3, 6, 5, 3, 2, 5, 1)
    for i, op in enumerate(code):
        alpha[i, op - 1] = 1.0
    assert derive_backbone(alpha) == code
    spec = derive_arch(alpha, hand_set_beta())
    assert str(spec) == ('mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1) '
                         'AttSet1(12,13)+AttSet2(3,7)')


@pytest.mark.parametrize('topk', [0, 27, 2.5])
def test_topk_out_of_range(topk):
    with pytest.raises(ValueError, match='topk'):
        derive_attention(hand_set_beta(), topk)


def test_bad_shapes():
    with pytest.raises(ValueError, match='alpha'):
        derive_backbone(torch.zeros(16, 6))
    with pytest.raises(ValueError, match='beta'):
        derive_attention(torch.zeros(2, 12))


@pytest.fixture
def search_run(tmp_path):
    """A search config file with a retrain base, and a checkpoint whose
    alpha/beta are hand-set."""
    base = tmp_path / 'retrain_base.py'
    Config(dict(model=segmentor_cfg(num_classes=19, channels=32),
                custom_imports=dict(imports=['attnas_mmseg']))).dump(
                    str(base))
    cfg = tmp_path / 'search.py'
    Config(dict(model=segmentor_cfg(num_classes=19, channels=32),
                derive=dict(topk=4, input_size=(64, 128),
                            retrain_base='retrain_base.py'))).dump(str(cfg))
    alpha = torch.zeros(17, 6)
    alpha[:, 1] = 1.0
    ckpt = tmp_path / 'search.pth'
    torch.save(dict(state_dict={'backbone.alpha': alpha,
                                'decode_head.attention.beta':
                                hand_set_beta(),
                                'decode_head.conv_seg.bias': torch.zeros(19)},
                    meta=dict(epoch=1)), ckpt)
    return cfg, ckpt


def test_derive_tool_writes_spec_and_trainable_config(search_run, tmp_path):
    cfg, ckpt = search_run
    out = tmp_path / 'derived'
    proc = subprocess.run(
        [sys.executable, 'tools/derive_arch.py', str(cfg), str(ckpt),
         '--out-dir', str(out)], cwd=REPO, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'AttSet1(12,13)+AttSet2(3,7)' in proc.stdout
    spec = ArchSpec.load(out / 'arch.json')
    assert spec.attention == ((12, 13), (3, 7))
    assert spec.backbone == (2, ) * 17
    assert spec.meta['flops_paper_G'] > 0 and spec.meta['params_M'] > 0
    assert spec.meta['input_size'] == [64, 128]
    retrain = Config.fromfile(str(out / 'retrain.py'))
    assert retrain.model.decode_head.arch == [[12, 13], [3, 7]]
    assert retrain.model.backbone.arch == [2] * 17
    from mmseg.registry import MODELS
    model = MODELS.build(retrain.model)
    assert not any(n.endswith(('alpha', 'beta'))
                   for n, _ in model.named_parameters())

    # refuses to overwrite; the files stay as they were
    before = (out / 'arch.json').read_text()
    proc = subprocess.run(
        [sys.executable, 'tools/derive_arch.py', str(cfg), str(ckpt),
         '--out-dir', str(out), '--topk', '2'], cwd=REPO,
        capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and 'overwrite' in proc.stderr
    assert (out / 'arch.json').read_text() == before


def test_derive_errors_leave_nothing_behind(search_run, tmp_path):
    cfg, ckpt = search_run
    with pytest.raises(ValueError, match='topk'):
        export_derived(str(cfg), str(ckpt), str(tmp_path / 'a'), topk=30)
    assert not (tmp_path / 'a').exists()
    weights_only = tmp_path / 'weights.pth'
    torch.save(dict(state_dict={'decode_head.conv_seg.bias':
                                torch.zeros(19)}), weights_only)
    with pytest.raises(ValueError, match='checkpoint'):
        export_derived(str(cfg), str(weights_only), str(tmp_path / 'b'))
    assert not (tmp_path / 'b').exists()


# ------------------------------------------------- bad inputs (issue 11)
def nothing_written(out: Path) -> bool:
    return not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize('topk,fragment', [
    (0, 'topk must be an int in 1..L*13'),      # was: silently 4
    (-1, 'topk must be an int in 1..L*13'),
    (True, 'topk must be an int in 1..L*13'),
    (2.5, 'topk must be an int in 1..L*13'),    # was: silently 2
    ('4', 'topk must be an int in 1..L*13'),
    (27, 'topk must be an int in 1..26'),       # 2 layers x 13 candidates
])
def test_topk_outside_the_candidates_is_refused(search_run, tmp_path, topk,
                                                fragment):
    cfg, ckpt = search_run
    with pytest.raises(ValueError, match=re.escape(fragment)):
        export_derived(str(cfg), str(ckpt), str(tmp_path / 'out'), topk=topk)
    assert nothing_written(tmp_path / 'out')


def valid_checkpoint_bytes(search_run) -> bytes:
    return search_run[1].read_bytes()


class Foreign:
    """A class torch's weights_only loader does not know."""


BAD_CHECKPOINTS = {
    'empty': (lambda p, good: p.write_bytes(b''), 'is empty (0 bytes)'),
    'truncated': (lambda p, good: p.write_bytes(good[:len(good) // 2]),
                  'truncated or corrupt'),
    'text': (lambda p, good: p.write_text('hello'), 'cannot be loaded'),
    'tensor': (lambda p, good: torch.save(torch.zeros(3), p),
               'holds a Tensor'),
    'list': (lambda p, good: torch.save([1, 2], p), 'holds a list'),
    'no state_dict': (lambda p, good: torch.save(dict(meta={}), p),
                      'holds no architecture parameters'),
    'state_dict not a dict': (
        lambda p, good: torch.save(dict(state_dict=[1]), p), 'holds a list'),
    'foreign object': (lambda p, good: torch.save(Foreign(), p),
                       'not a weights-only torch file'),
    'foreign weights': (
        lambda p, good: torch.save(
            dict(state_dict={'encoder.norm.beta': torch.zeros(768)}), p),
        'not a float tensor of shape (L, 13)'),
    'beta of ints': (
        lambda p, good: torch.save(
            dict(state_dict={'head.beta': torch.zeros(2, 13,
                                                      dtype=torch.long)}),
            p), 'not a float tensor'),
    'beta with NaN': (
        lambda p, good: torch.save(
            dict(state_dict={'head.beta': torch.full((2, 13), math.nan)}),
            p), 'NaN'),
    'alpha of another shape': (
        lambda p, good: torch.save(
            dict(state_dict={'backbone.alpha': torch.zeros(16, 6),
                             'head.beta': torch.zeros(2, 13)}), p),
        'not a float tensor of shape (17, 6)'),
    'two betas': (
        lambda p, good: torch.save(
            dict(state_dict={'a.beta': torch.zeros(2, 13),
                             'b.beta': torch.zeros(2, 13)}), p),
        'several beta'),
    'a folder': (lambda p, good: p.mkdir(), 'is not a file'),
    'missing': (lambda p, good: None, 'does not exist'),
}


@pytest.mark.parametrize('case', sorted(BAD_CHECKPOINTS))
def test_bad_checkpoints_name_the_file(search_run, tmp_path, case):
    make, fragment = BAD_CHECKPOINTS[case]
    path = tmp_path / 'bad.pth'
    make(path, valid_checkpoint_bytes(search_run))
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(ValueError, match=re.escape(fragment)) as err:
        export_derived(str(search_run[0]), str(path), str(tmp_path / 'out'))
    assert str(path) in str(err.value)
    assert nothing_written(tmp_path / 'out')
    if before is not None:
        assert path.read_bytes() == before  # the user's file is untouched


def test_bare_state_dict_is_accepted(search_run, tmp_path):
    state = torch.load(search_run[1], weights_only=True)['state_dict']
    path = tmp_path / 'state.pth'
    torch.save(state, path)
    alpha, beta = arch_params_from_checkpoint(str(path))
    assert torch.equal(beta, hand_set_beta()) and alpha.shape == (17, 6)


def test_users_files_in_out_dir_are_kept(search_run, tmp_path):
    cfg, ckpt = search_run
    out = tmp_path / 'derived'
    out.mkdir()
    mine = {'retrain.py.tmp': 'my notes', 'arch.json.tmp': 'mine too',
            'other.py': 'x = 1'}
    for name, text in mine.items():
        (out / name).write_text(text)
    export_derived(str(cfg), str(ckpt), str(out))
    for name, text in mine.items():
        assert (out / name).read_text() == text
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*mine, 'arch.json', 'retrain.py'])  # no temporary file left
    assert Config.fromfile(str(out / 'retrain.py')).model.decode_head.arch \
        == [[12, 13], [3, 7]]
    with pytest.raises(ValueError, match='out_dir'):
        export_derived(str(cfg), str(ckpt), str(out / 'other.py'))


def test_derive_reports_target_and_names_uncertain_blocks(search_run,
                                                          tmp_path, capsys):
    import runpy
    from pathlib import Path
    tool = Path(__file__).resolve().parents[2] / 'tools' / 'derive_arch.py'
    derive_main = runpy.run_path(str(tool))['main']
    cfg, ckpt = search_run
    state = torch.load(ckpt, weights_only=False)
    state['state_dict']['backbone.alpha'][4] = torch.tensor(
        [0.0, 1.0, 0.99, 0.0, 0.0, 0.0])   # block 5: a near tie
    state['arch_update_hook'] = dict(
        arch_steps=10, arch_epoch=0, arch_batch=10,
        settings=dict(flops_target_G=0.2, flops_input_size=[64, 128],
                      flops_loss_mode='abs', flops_pricing='derived'))
    state['optimizer'] = dict(arch=dict(param_groups=[dict(lr=0.03)]))
    torch.save(state, ckpt)
    derive_main([str(cfg), str(ckpt), '--out-dir', str(tmp_path / 'out')])
    out = capsys.readouterr().out
    spec = ArchSpec.load(tmp_path / 'out' / 'arch.json')
    search = spec.meta['search']
    assert search['flops_target_G'] == 0.2    # the run's, not the config's
    # the derived network's FLOPs at the hook's size (here also derive's)
    assert search['flops_derived_G'] == pytest.approx(
        spec.meta['flops_paper_G'], rel=1e-6)
    assert search['arch_steps'] == 10
    assert search['noise_sigma'] == pytest.approx(0.03 * 10**0.5, rel=1e-3)
    assert 'FLOPs target 0.20G vs derived' in out
    assert 'warning' in out and 'block 5' in out
    assert 'block 4,' not in out and 'block 6,' not in out


def _cost_table():
    from attnas_mmseg.search import CostTable
    backbone = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]] * 17)
    return CostTable(input_size=(8, 8), fixed=10.0, backbone=backbone,
                     attention=torch.ones(13), num_layers=2)


@pytest.mark.parametrize('target', [50.0, 80.0])   # reachable by the ties
def test_fit_to_target_switches_the_least_certain_blocks(target):
    from attnas_mmseg.search.derive import fit_backbone_to_target
    table = _cost_table()
    alpha = torch.zeros(17, 6)
    alpha[:, 2] = 5.0               # confident: op 3 everywhere ...
    alpha[:8, 2] = 0.01             # ... except 8 near-tied blocks
    spec = derive_arch(alpha, torch.zeros(2, 13), 4)
    cost = table.network_cost(spec)   # 10 + 17 * 3 + 4 = 65
    fit = fit_backbone_to_target(alpha, spec, table, target, 0.1)
    fitted, moves = fit.spec, fit.switches
    assert fit.reached
    assert abs(table.network_cost(fitted) / target - 1) <= 0.1
    assert fit.cost == pytest.approx(table.network_cost(fitted))
    assert moves and all(m['block'] <= 8 for m in moves)
    assert all(m['logit_gap'] <= 0.01 + 1e-9 for m in moves)
    assert fitted.attention == spec.attention
    changed = [i + 1 for i, (a, b) in enumerate(
        zip(spec.backbone, fitted.backbone)) if a != b]
    assert changed == sorted(m['block'] for m in moves)
    # within the window already: nothing changes
    same = fit_backbone_to_target(alpha, spec, table, cost, 0.1)
    assert same.spec.backbone == spec.backbone and same.switches == []
    assert same.reached


def test_fit_to_an_unreachable_target_stops_at_the_closest():
    from attnas_mmseg.search.derive import fit_backbone_to_target
    table = _cost_table()
    alpha = torch.zeros(17, 6)
    spec = derive_arch(alpha, torch.zeros(2, 13), 4)
    fit = fit_backbone_to_target(alpha, spec, table, 1.0, 0.1)
    assert fit.spec.backbone == (1, ) * 17      # the cheapest network
    assert not fit.reached
    # 10 fixed + 4 attentions of 1 + 17 blocks at 1 (hand arithmetic)
    assert (fit.fixed, fit.attention) == (10.0, 4.0)
    assert (fit.cost, fit.cheapest, fit.dearest) == (31.0, 31.0, 116.0)
    with pytest.raises(ValueError, match='target'):
        fit_backbone_to_target(alpha, spec, table, 0.0, 0.1)


def _one_block_table(block_costs):
    """Block 1 has ``block_costs``; the other blocks cost 1 whatever the op
    (no switch of theirs moves the cost); fixed 80, attentions free."""
    from attnas_mmseg.search import CostTable
    backbone = torch.ones(17, 6)
    backbone[0] = torch.tensor(block_costs)
    return CostTable(input_size=(8, 8), fixed=80.0, backbone=backbone,
                     attention=torch.zeros(13), num_layers=2)


def test_fit_never_switches_a_block_back():
    """Issue 19: the greedy step used to take the cheapest-in-logit switch
    past the window (block 1 op 6->1, 106 -> 96) and then come back
    (op 1->2): one block switched twice, back and forth."""
    from attnas_mmseg.search.derive import fit_backbone_to_target
    table = _one_block_table([0.0, 1.0, 5.0, 5.0, 5.0, 10.0])
    alpha = torch.full((17, 6), -5.0)
    alpha[:, 5] = 0.0                 # argmax: op 6 (block 1 costs 10)
    alpha[0, 0] = -0.001              # op 1: a near tie, 10 cheaper
    spec = derive_arch(alpha, torch.zeros(2, 13), 4)
    assert table.network_cost(spec) == 106.0      # 80 + 10 + 16 * 1
    fit = fit_backbone_to_target(alpha, spec, table, 97.0, 0.005)
    # 106 - 9 = 97: op 2 lands in the window in one switch, never past it
    assert fit.reached and fit.cost == 97.0
    assert [(m['block'], m['op_from'], m['op_to']) for m in fit.switches] \
        == [(1, 6, 2)]
    assert fit.switches[0]['logit_gap'] == pytest.approx(5.0)


def test_fit_that_can_only_step_over_the_window_says_so():
    from attnas_mmseg.search.derive import fit_backbone_to_target
    table = _one_block_table([0.0] * 5 + [10.0])
    alpha = torch.zeros(17, 6)
    alpha[0, 5] = 1.0
    spec = derive_arch(alpha, torch.zeros(2, 13), 4)
    # 106 against 100 +- 1%: the only switch (-10) ends at 96, closer
    fit = fit_backbone_to_target(alpha, spec, table, 100.0, 0.01)
    assert not fit.reached and fit.cost == 96.0
    assert [m['block'] for m in fit.switches] == [1]
    assert (fit.cheapest, fit.dearest) == (96.0, 106.0)
