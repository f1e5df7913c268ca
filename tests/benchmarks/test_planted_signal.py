"""benchmarks/planted_signal.py's options, measurements and report (the
experiment itself is long; --smoke runs the real tools)."""
import pytest
import torch

from attnas_mmseg.search import ArchSpec
from attnas_mmseg.search.space.extra_candidates import ExtraCandidates

from .test_benchmark_scripts import REPO, _script

planted = _script('planted_signal')
report = _script('planted_report')
measuring = _script('_planted_measure')
NOISE = ExtraCandidates([dict(type='NoiseOp')],
                        [dict(type='NoiseAttention')])


def test_defaults_and_checks(capsys):
    args = planted.parse_args([])
    assert args.modes == ['darts', 'gumbel', 'proxyless', 'uniform']
    assert args.seeds == [0, 1, 2, 3, 4] and args.premise_seeds == [0, 1]
    assert args.results_dir == str(REPO / 'docs' / 'results' / 'planted')
    for argv, message in ((['--epochs', '3'], 'go together'),
                          (['--epochs', '3', '--warmup-epochs', '3'],
                           'warmup-epochs must be in'),
                          (['--smoke'], 'outside docs/results')):
        with pytest.raises(SystemExit):
            planted.parse_args(argv)
        assert message in capsys.readouterr().err
    smoke = planted.parse_args(['--smoke', '--results-dir', '/tmp/x'])
    assert (smoke.num_train, smoke.epochs) == (8, 2)


def test_premise_networks_differ_only_where_claimed():
    arms = {name: (bb, att) for task in planted.PREMISE_ARMS.values()
            for name, bb, att in task}
    assert arms['with'][1] == ((6, 13), ) and arms['without'][1] == ((6, ), )
    clean, noisy = arms['clean'][0], arms['noise_op'][0]
    assert [i + 1 for i, (a, b) in enumerate(zip(clean, noisy)) if a != b] \
        == [planted.NOISE_BLOCK] and noisy[planted.NOISE_BLOCK - 1] == 7
    for bb, att in arms.values():   # every arm is a network of the space
        ArchSpec(attention=att, backbone=bb, extra=NOISE)


def test_rank_of_counts_strictly_greater():
    assert measuring.rank_of([3.0, 1.0, 2.0], 1) == 3
    assert measuring.rank_of([1.0, 1.0, 0.0], 0) == 1   # a tie is not below


def test_measure_reads_ranks_gaps_and_the_needed_attention(tmp_path):
    alpha = torch.arange(7.0).repeat(17, 1)       # op 7 highest ...
    alpha[1:, 6] = -1.0                           # ... except in block 1
    beta = torch.zeros(2, 14)
    beta[0, 12], beta[1, 5], beta[0, 0], beta[1, 2] = 4, 3, 2, 1
    beta[:, 13] = -2.0                            # noise attention last
    ckpt = tmp_path / 'c.pth'
    torch.save(dict(state_dict={'backbone.alpha': alpha,
                                'decode_head.attention.beta': beta},
                    arch_update_hook=dict(arch_steps=5, noise_sigma=0.5)),
               ckpt)
    spec = ArchSpec(attention=((1, 13), (3, 6)),
                    backbone=(7, ) + (6, ) * 16, meta=dict(topk=4),
                    extra=NOISE)
    spec.save(tmp_path / 'arch.json')
    m = planted.measure(planted.CONFIG.format('harmful'), str(ckpt),
                        str(tmp_path / 'arch.json'))
    assert m['noise_op_ranks'] == [1] + [7] * 16 and m['noise_op_last'] == 16
    assert m['noise_op_gap_sigma'][1] == pytest.approx((0 - -1) / 0.5)
    assert m['noise_op_derived'] == 1 and m['arch_steps'] == 5
    assert m['noise_attention_ranks'] == [14, 14]
    assert m['noise_attention_cell_ranks'] == [27, 27]
    assert not m['noise_attention_derived']
    assert m['needed_derived'] and m['needed_cell_rank'] == 1
    # the 5th cell (logit 0) is the first out of the top-4
    assert m['needed_gap_sigma'] == pytest.approx((4 - 0) / 0.5)
    # a uniform checkpoint holds no hook state: only the derivation counts
    torch.save(dict(state_dict={'backbone.alpha': alpha,
                                'decode_head.attention.beta': beta}), ckpt)
    u = planted.measure(planted.UNIFORM_CONFIG.format('harmful'), str(ckpt),
                        str(tmp_path / 'arch.json'), ranks=False)
    assert u['noise_op_derived'] == 1 and u['needed_derived']
    assert u['noise_op_ranks'] is None and u['noise_op_last'] is None
    assert not u['noise_attention_derived'] and u['arch_steps'] == 0


def test_summaries_and_report():
    runs = [dict(task='needed', arm=a, seed=s, arch=a, miou=m)
            for a, s, m in (('with', 0, 60.0), ('with', 1, 50.0),
                            ('without', 0, 40.0), ('without', 1, 44.0))]
    premise = report.premise_summary(runs, 10.0)['needed']
    assert premise['arms']['with']['mean'] == 55.0
    assert premise['gaps'] == {'with': dict(gap=13.0, holds=True)}
    search = [dict(task='harmful', mode='darts', seed=s, arch='a',
                   minutes=1.0, noise_op_ranks=[7] * 16 + [k],
                   noise_op_last=16 + (k == 7), noise_op_clear=3,
                   noise_op_derived=0, noise_attention_derived=False,
                   noise_attention_ranks=[14, 13], needed_derived=s == 0,
                   needed_clear=False, num_ops=7)
              for s, k in ((0, 7), (1, 2))]
    summary = report.search_summary(search)['harmful']['darts']
    assert summary['noise_op_last_min'] == 16
    assert summary['noise_op_last_fraction'] == pytest.approx(33 / 34)
    assert summary['needed_derived_runs'] == 1
    text = report.render(dict(
        argv=['--modes', 'darts'], threads=2, environment='env',
        options=dict(num_train=96, num_val=32, data_seed=0, epochs=None,
                     warmup_epochs=None, premise_epochs=30, options=[]),
        premise=report.premise_summary(runs, 10.0), premise_runs=runs,
        runs=search, summary=report.search_summary(search)))
    assert '| harmful | darts | 2 | 97% | 16/17 |' in text
    assert 'needed, with: gap 13.00 mIoU points (holds' in text
    # a uniform search (no arch step): only what its derivation holds counts
    uniform = [dict(search[0], mode='uniform', seed=s, noise_op_ranks=None,
                    noise_op_last=None, noise_op_clear=None,
                    noise_attention_ranks=None, noise_op_derived=d,
                    arch='mv2(1) AttSet1(13)')
               for s, d in ((0, 0), (1, 2))]
    summary = report.search_summary(uniform)['harmful']['uniform']
    assert summary['noise_op_last_fraction'] is None
    assert summary['noise_op_derived_runs'] == 1
    assert summary['global_derived_runs'] == 2
    text = '\n'.join(report._search_lines(
        report.search_summary(uniform)))
    assert '| harmful | uniform | 2 | - | - | - | 1/2 | 1.0 | 0/2 | - |' in text


# ------------------------------------------- benchmarks/planted_gradient_snr
snr = _script('planted_gradient_snr')


def test_gradient_snr_statistics_by_hand():
    # 4 draws, 2 blocks; block 0 ran the noise op in the forward pass in
    # draws 0 and 1, drew it at weight 0 in draw 2, not at all in draw 3
    d = torch.tensor([[3., 1.], [1., -1.], [2., 1.], [-2., -1.]])
    kinds = [['forward', 'no'], ['forward', 'no'], ['zero', 'no'],
             ['no', 'no']]
    out = snr._stats(d, kinds)
    assert out['mean'] == pytest.approx([1.0, 0.0])
    # sample std of (3, 1, 2, -2): sqrt(((2^2 + 0 + 1 + 3^2)) / 3)
    std0 = (14 / 3) ** 0.5
    assert out['std'][0] == pytest.approx(std0)
    assert out['snr'][0] == pytest.approx(1 / std0)
    assert out['steps_to_separate'][0] == pytest.approx((2 * std0) ** 2)
    assert out['steps_to_separate'][1] is None      # no signal: never
    assert out['mean_forward'] == [pytest.approx(2.0), None]
    assert out['mean_zero'][0] == pytest.approx(2.0)
    assert out['share_forward'] == [0.5, 0.0] and out['share_no'] == [
        0.25, 1.0]
    assert out['summary']['rows_positive'] == 1


def test_gradient_snr_reads_what_a_draw_ran():
    weights = torch.tensor([0., 0., 1., 0.])
    log = [(weights, [2, 3]), (torch.full((4, ), 0.25), None)]
    assert snr._drawn(log, 0, 2) == 'forward'
    assert snr._drawn(log, 0, 3) == 'zero'       # a gumbel runner-up
    assert snr._drawn(log, 0, 1) == 'no'
    assert snr._drawn(log, 1, 3) == 'forward'    # darts runs every op


def test_a_task_whose_premise_fails_is_not_searched():
    def arm(name, seed, miou):
        return dict(task='needed', arm=name, seed=seed, arch='', miou=miou)
    failed = [arm('with', 0, 57.2), arm('with', 1, 33.3),
              arm('without', 0, 79.1), arm('without', 1, 42.9)]
    held = [arm('with', 0, 80.0), arm('with', 1, 70.0),
            arm('without', 0, 50.0), arm('without', 1, 60.0)]  # +20
    args = planted.parse_args([])
    assert not planted.premise_allows_search(args, 'needed', failed)
    assert planted.premise_allows_search(args, 'needed', held)
    assert planted.premise_allows_search(args, 'needed', [])  # not measured
    forced = planted.parse_args(['--search-without-premise'])
    assert planted.premise_allows_search(forced, 'needed', failed)


def test_report_counts_the_global_attentions_a_network_holds():
    assert report._global_attentions(
        'mv2(1,6,1,1,2,5,7,7,4,7,7,2,5,4,4,7,4) AttSet1(1)+AttSet2(1,3,4)') \
        == [1]
    assert report._global_attentions('AttSet1(10,11,13)+AttSet2(6)') == [13]
    assert report._global_attentions('AttSet1(14,11)+AttSet2(12)') == []
