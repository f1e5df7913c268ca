"""The scorers: one signature, costs against independent counts, logprob by
hand, the proxies on a real batch of the tiny synthetic set."""
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from mmengine.config import Config

from attnas_mmseg.deploy.latency_measure import lut_settings
from attnas_mmseg.evaluation.scorers import (SCORERS, ScoreContext,
                                             arch_log_prob, get_scorer,
                                             load_batch, score_all)
from attnas_mmseg.export.random_arch import sample_archs, search_flops_table
from attnas_mmseg.models import build_segmentor
from attnas_mmseg.search.cost.flops import (FLOPS_PER_G, build_flops_table,
                                            count_complete_flops)
from attnas_mmseg.search.cost.latency_parts import latency_parts
from attnas_mmseg.search.cost.latency_table import LatencyLUT
from attnas_mmseg.search.space.arch_spec import ArchSpec

CONFIG = 'configs/demo/attnas-search_demo_synthetic-cityscapes-64x128.py'
SIZE = (64, 128)
SPECS = sample_archs(2, seed=0)


@pytest.fixture(scope='module')
def cfg(tiny_cityscapes) -> Config:
    """The demo search config reading the tiny synthetic set."""
    cfg = Config.fromfile(CONFIG)
    cfg.train_dataloader.dataset.dataset.data_root = str(tiny_cityscapes)
    return cfg


@pytest.fixture(scope='module')
def context(cfg) -> ScoreContext:
    return ScoreContext(cfg, batch_size=3, input_size=SIZE)


def test_every_scorer_is_registered_with_one_signature():
    assert sorted(SCORERS) == sorted([
        'flops', 'params', 'latency', 'logprob', 'synflow', 'naswot',
        'grad_norm', 'inherited'])
    with pytest.raises(ValueError, match='scorer must be one of'):
        get_scorer('accuracy')


# --------------------------------------------------------------- logprob
def _arch_params():
    alpha = torch.zeros(17, 6)
    alpha[0, 0] = math.log(2.0)       # block 1: op1 2/7, the others 1/7
    beta = torch.zeros(2, 13)
    beta[0, 4] = math.log(3.0)        # Eq. 2 over 26 cells: 3/28, 1/28
    return alpha, beta


SPEC = ArchSpec.parse('AttSet1(5,12)+AttSet2(1)', 'mv2(' + ','.join(
    ['1', '2'] + ['3'] * 15) + ')')
EXPECTED = (math.log(2 / 7) + 16 * math.log(1 / 6)
            + math.log(3 / 28) + 2 * math.log(1 / 28))


def test_logprob_by_hand():
    assert arch_log_prob(SPEC, *_arch_params()) == pytest.approx(EXPECTED)
    head_only = ArchSpec.parse('AttSet1(5,12)+AttSet2(1)')
    assert arch_log_prob(head_only, None, _arch_params()[1]) == \
        pytest.approx(math.log(3 / 28) + 2 * math.log(1 / 28))
    # every cell in layer 1: the notation drops the empty layer 2, which
    # the two-layer beta still prices (the CamVid ground truth's r00)
    one_layer = ArchSpec.parse('AttSet1(5,12,1)')
    assert one_layer.num_layers == 1
    assert arch_log_prob(one_layer, None, _arch_params()[1]) == \
        pytest.approx(math.log(3 / 28) + 2 * math.log(1 / 28))


def test_logprob_refuses_what_the_search_does_not_price():
    alpha, beta = _arch_params()
    with pytest.raises(ValueError, match='alpha: the spec has a backbone'):
        arch_log_prob(SPEC, None, beta)
    with pytest.raises(ValueError,
                       match=r'beta: expected shape \(>= 2, 13\)'):
        arch_log_prob(SPEC, alpha, beta[:, :12])
    # a spec with more layers than the search's beta
    with pytest.raises(ValueError, match=r'got \(1, 13\)'):
        arch_log_prob(SPEC, alpha, beta[:1])
    with pytest.raises(ValueError, match=r'alpha: expected shape \(17, 6\)'):
        arch_log_prob(SPEC, alpha[:, :5], beta)


def test_logprob_scorer_reads_a_search_checkpoint(tmp_path, cfg):
    alpha, beta = _arch_params()
    path = tmp_path / 'search.pth'
    torch.save(dict(state_dict={'backbone.alpha': alpha,
                                'decode_head.attention.beta': beta,
                                'decode_head.conv_seg.weight': torch.ones(1)}),
               path)
    context = ScoreContext(cfg, search_checkpoint=str(path))
    assert score_all('logprob', {'a': str(SPEC)}, context) == {
        'a': pytest.approx(EXPECTED)}
    assert not any(k[0] == 'batch' for k in context.cache if
                   isinstance(k, tuple))
    with pytest.raises(ValueError, match='search_checkpoint'):
        SCORERS['logprob'](SPEC, ScoreContext(cfg))


# ----------------------------------------------------------------- costs
def test_flops_is_the_search_table_price_and_the_built_network_count(
        context):
    table = search_flops_table(CONFIG, SIZE)
    for spec in SPECS:
        built = build_flops_table(build_segmentor(CONFIG, arch=spec,
                                                  init_weights=False), SIZE)
        value = SCORERS['flops'](spec, context)
        assert value == pytest.approx(table.network_cost(spec) / FLOPS_PER_G)
        assert value == pytest.approx(built.fixed / FLOPS_PER_G, rel=1e-9)
    # no data was read for it
    assert not any(k[0] == 'batch' for k in context.cache
                   if isinstance(k, tuple))


def test_params_are_mmengines_count_of_the_fixed_network(context):
    for spec in SPECS:
        model = build_segmentor(CONFIG, arch=spec, init_weights=False)
        _, count = count_complete_flops(model, SIZE)
        assert SCORERS['params'](spec, context) == pytest.approx(count / 1e6)


def test_latency_is_the_lut_sum_over_the_network(tmp_path, context):
    # every entry 1 ms: the fixed parts + one op per block + each attention
    parts = latency_parts(build_segmentor(CONFIG, device='meta'), SIZE)
    lut = LatencyLUT(tmp_path / 'lut.json',
                     lut_settings('torch', 'cpu', 1, SIZE))
    for key in dict.fromkeys(p.key for p in parts):
        lut.entries[key] = dict(ms=1.0, label='')
    lut.save()
    fixed = sum(p.role == 'fixed' for p in parts)
    with_lut = replace(context, latency_lut=str(lut.path))
    for atts in ('AttSet1(1)+AttSet2(2,3)', 'AttSet1(4)'):
        spec = ArchSpec.parse(atts, 'mv2(' + ','.join(['2'] * 17) + ')')
        assert SCORERS['latency'](spec, with_lut) == pytest.approx(
            fixed + 17 + sum(map(len, spec.attention)))
    with pytest.raises(ValueError, match='latency_lut'):
        SCORERS['latency'](SPEC, context)


# ---------------------------------------------------------- the batch
def test_load_batch_is_seeded(cfg):
    # whatever the caller's global RNGs hold (the pipeline flips with numpy)
    np.random.seed(1)
    first = load_batch(cfg, 'train', 4, seed=0)
    np.random.seed(2)
    state = np.random.get_state()
    again = load_batch(cfg, 'train', 4, seed=0)
    assert np.array_equal(np.random.get_state()[1], state[1])
    other = load_batch(cfg, 'train', 4, seed=3)
    assert len(first['inputs']) == 4
    for a, b in zip(first['inputs'], again['inputs']):
        assert torch.equal(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(first['inputs'],
                                                     other['inputs']))
    # the sampler is seeded too: the weight half's 4 images, reshuffled
    paths = [[s.img_path for s in b['data_samples']] for b in (first, other)]
    assert sorted(paths[0]) == sorted(paths[1]) and paths[0] != paths[1]


@pytest.mark.parametrize('kwargs,match', [
    (dict(split='arch'), 'split must be one of'),
    (dict(split='test'), 'no test_dataloader'),
    (dict(batch_size=0), 'batch_size'),
])
def test_load_batch_refuses_bad_arguments(cfg, kwargs, match):
    cfg = cfg.copy()
    cfg.pop('test_dataloader', None)
    with pytest.raises(ValueError, match=match):
        load_batch(cfg, **kwargs)


# -------------------------------------------------------------- proxies
@pytest.mark.parametrize('name', ['synflow', 'naswot', 'grad_norm'])
def test_proxies_on_a_real_batch_are_deterministic(cfg, name):
    first = score_all(name, {'a': SPECS[0], 'b': SPECS[1]},
                      ScoreContext(cfg, batch_size=3))
    again = score_all(name, {'a': SPECS[0], 'b': SPECS[1]},
                      ScoreContext(cfg, batch_size=3))
    assert first == again
    assert all(math.isfinite(v) for v in first.values())
    assert first['a'] != first['b']


def test_proxies_of_one_spec_share_one_network(context):
    for name in ('synflow', 'naswot', 'grad_norm'):
        SCORERS[name](SPECS[0], context)
        built = context.cache['network'][1]
    SCORERS['naswot'](SPECS[0], context)
    assert context.cache['network'][1] is built
    SCORERS['naswot'](SPECS[1], context)
    assert context.cache['network'][1] is not built


def test_inherited_needs_a_supernet_checkpoint(context):
    with pytest.raises(ValueError, match='supernet_checkpoint'):
        SCORERS['inherited'](SPEC, context)


def test_inherited_is_the_subnet_evaluators_miou(tmp_path, cfg):
    from attnas_mmseg.evaluation.subnet_evaluator import SubnetEvaluator
    cfg = cfg.copy()
    cfg.arch_dataloader.dataset.dataset.data_root = \
        cfg.train_dataloader.dataset.dataset.data_root
    with torch.random.fork_rng():
        torch.manual_seed(0)
        supernet = build_segmentor(cfg)
    path = str(tmp_path / 'supernet.pth')
    torch.save(dict(state_dict=supernet.state_dict()), path)
    context = ScoreContext(cfg, supernet_checkpoint=path,
                           inherited_split='arch', calib_batches=1)
    scores = score_all('inherited', {'a': SPECS[0], 'b': SPECS[1]}, context)
    evaluator = SubnetEvaluator(cfg, path, split='arch', calib_batches=1)
    for name, spec in zip('ab', SPECS):
        assert scores[name] == evaluator.evaluate(spec)['mIoU']
        assert 0 <= scores[name] <= 100
    # one evaluator (one calibration draw) for every spec
    assert sum(isinstance(k, tuple) and k[0] == 'evaluator'
               for k in context.cache) == 1
