"""The search inside a real mmengine Runner on tiny Cityscapes-layout data."""
import copy
import json

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from attnas_mmseg.engine import ArchUpdateHook
from attnas_mmseg.engine.hooks.arch_history import HISTORY_FILE
from attnas_mmseg.search import ArchSpec, named_arch_parameters

from .search_cfg import search_cfg


def make_runner(cfg):
    return Runner.from_cfg(Config(copy.deepcopy(cfg)))


def arch_state(runner):
    return {n: p.detach().clone()
            for n, p in named_arch_parameters(runner.model)}


def weight_state(runner):
    return {n: p.detach().clone() for n, p in runner.model.named_parameters()
            if not n.endswith(('alpha', 'beta'))}


def hook_of(runner):
    return next(h for h in runner.hooks if isinstance(h, ArchUpdateHook))


def test_optimisers_are_disjoint(tiny_cityscapes, tmp_path):
    runner = make_runner(search_cfg(tiny_cityscapes, tmp_path))
    wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    arch_ids = {id(p) for _, p in named_arch_parameters(runner.model)}
    model_ids = {id(p) for p in runner.model.parameters()}
    # mmengine appends a dummy 0-dim group (base lr bookkeeping): skip it
    weight_ids = {id(p) for g in wrapper['weight'].param_groups
                  for p in g['params']} & model_ids
    assert len(arch_ids) == 2
    assert not arch_ids & weight_ids
    assert weight_ids == model_ids - arch_ids
    assert {id(p) for g in wrapper['arch'].param_groups
            for p in g['params']} == arch_ids
    assert isinstance(wrapper['arch'].optimizer, torch.optim.Adam)
    assert isinstance(wrapper['weight'].optimizer, torch.optim.SGD)


def test_warmup_keeps_alpha_beta(tiny_cityscapes, tmp_path):
    runner = make_runner(search_cfg(tiny_cityscapes, tmp_path, max_epochs=1,
                                    warmup_epochs=1))
    before_arch, before_w = arch_state(runner), weight_state(runner)
    runner.train()
    after_arch, after_w = arch_state(runner), weight_state(runner)
    assert all(torch.equal(before_arch[n], after_arch[n]) for n in
               before_arch)
    assert any(not torch.equal(before_w[n], after_w[n]) for n in before_w)
    assert hook_of(runner).arch_steps == 0


def test_search_updates_alpha_beta_and_logs(tiny_cityscapes, tmp_path):
    runner = make_runner(search_cfg(tiny_cityscapes, tmp_path, max_epochs=2,
                                    warmup_epochs=1))
    before = arch_state(runner)
    runner.train()
    after = arch_state(runner)
    hook = hook_of(runner)
    assert hook.arch_steps == 2   # 4 weight images, batch 2, epoch 2 only
    for name in before:
        assert not torch.equal(before[name], after[name]), name
    warm = torch.load(tmp_path / 'epoch_1.pth', map_location='cpu')
    settings = warm['arch_update_hook']['settings']
    assert settings['flops_target_G'] == 0.01   # search_cfg's, as run
    assert settings['flops_pricing'] == 'derived'
    for name in before:
        assert torch.equal(warm['state_dict'][name], before[name])
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'arch step 2' in log and 'mv2(' in log and 'AttSet' in log
    assert 'FLOPs_pred' in log and 'H(alpha)' in log
    assert 'margins: alpha' in log and 'within noise' in log
    records = [json.loads(line) for line in next(
        tmp_path.glob('*/arch_history.jsonl')).read_text().splitlines()]
    assert len(records) == 2
    last = records[-1]
    assert len(last['alpha_margin']) == 17 and last['beta_margin'] >= 0
    probs = torch.tensor(last['alpha']).topk(2, -1).values
    assert last['alpha_margin'] == pytest.approx(
        (probs[:, 0] - probs[:, 1]).tolist(), abs=1e-6)
    assert last['sigma'] > 0 and isinstance(last['uncertain'], list)
    scalars = runner.message_hub.log_scalars
    for key in ('arch_ce', 'loss_flops', 'flops_pred_G', 'entropy_alpha',
                'entropy_beta'):
        assert f'train/{key}' in scalars


def test_history_prices_the_logged_architecture(tiny_cityscapes, tmp_path):
    """Each record's FLOPs_pred is the cost of the architecture it logs (the
    arch after the step), not of the one the step started from."""
    runner = make_runner(search_cfg(tiny_cityscapes, tmp_path, max_epochs=3,
                                    warmup_epochs=1, flops_pricing='derived'))
    runner.train()
    table = hook_of(runner).flops_table
    lines = next(tmp_path.glob(f'*/{HISTORY_FILE}')).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 4
    for record in records:
        spec = ArchSpec.parse_arch(record['arch'])
        assert record['flops_pred_G'] == pytest.approx(
            table.network_cost(spec) / 1e9, rel=1e-6), record['arch_step']


def test_steps_do_not_leak(tiny_cityscapes, tmp_path):
    runner = make_runner(search_cfg(tiny_cityscapes, tmp_path, max_epochs=1,
                                    warmup_epochs=1))
    runner.train()   # warm-up only: sets up the hook and the optimisers
    hook = hook_of(runner)
    # arch step: weights (and their grads) untouched, alpha/beta move
    w0, a0 = weight_state(runner), arch_state(runner)
    grads0 = {n: None if p.grad is None else p.grad.clone()
              for n, p in runner.model.named_parameters()}
    hook.arch_step(runner)
    w1, a1 = weight_state(runner), arch_state(runner)
    assert all(torch.equal(w0[n], w1[n]) for n in w0)
    assert all(not torch.equal(a0[n], a1[n]) for n in a0)
    for n, p in runner.model.named_parameters():
        if n in w0:
            g0 = grads0[n]
            assert (p.grad is None and g0 is None) or torch.equal(p.grad, g0)
    # weight step: alpha/beta untouched and left without gradient
    batch = next(iter(runner.train_dataloader))
    runner.model.train_step(batch, runner.optim_wrapper)
    w2, a2 = weight_state(runner), arch_state(runner)
    assert all(torch.equal(a1[n], a2[n]) for n in a1)
    assert any(not torch.equal(w1[n], w2[n]) for n in w1)
    for _, p in named_arch_parameters(runner.model):
        assert p.grad is None or not p.grad.any()


def test_flops_term_lowers_flops_pred(tiny_cityscapes, tmp_path):
    runner = make_runner(search_cfg(tiny_cityscapes, tmp_path, max_epochs=1,
                                    warmup_epochs=1, flops_weight=100.0))
    runner.train()
    hook = hook_of(runner)
    # the hook prices the derived network (a step function of alpha/beta)
    # with the expected cost's gradient: the expected cost must fall
    pred0 = float(hook.flops_table.predict(hook._alpha, hook._beta))
    for _ in range(3):
        hook.arch_step(runner)
    pred1 = float(hook.flops_table.predict(hook._alpha, hook._beta))
    assert pred1 < pred0


@pytest.mark.parametrize('kwargs,field', [
    (dict(flops_weight=-1.0), 'flops_weight'),
    (dict(flops_target=0.0), 'flops_target'),
    (dict(flops_loss_mode='square'), 'flops_loss_mode'),
    (dict(warmup_epochs=-1), 'warmup_epochs'),
    (dict(interval=0), 'interval'),
    (dict(flops_target=float('inf')), 'flops_target'),
    (dict(flops_target=float('nan')), 'flops_target'),
    (dict(flops_target=True), 'flops_target'),
    (dict(flops_pricing='median'), 'flops_pricing'),
    (dict(topk=True), 'topk'),
    (dict(latency_target=10.0), 'latency_lut'),
    (dict(latency_lut='lut.json'), 'latency_target'),
    (dict(gumbel_tau=(1.0, 0.0)), 'gumbel_tau'),
    (dict(gumbel_tau=2.0), 'gumbel_tau'),
])
def test_bad_hook_arguments(kwargs, field):
    args = dict(arch_dataloader=dict())
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        ArchUpdateHook(**args)


def test_unkeyed_scheduler_is_refused(tiny_cityscapes, tmp_path):
    cfg = search_cfg(tiny_cityscapes, tmp_path, max_epochs=1)
    cfg['param_scheduler'] = dict(type='PolyLR', power=0.9, begin=0, end=1,
                                  by_epoch=True)
    with pytest.raises(ValueError, match='param_scheduler'):
        make_runner(cfg).train()


@pytest.mark.parametrize('change,field', [
    (lambda cfg: cfg['custom_hooks'][0].update(topk=27), 'topk'),
    (lambda cfg: cfg['custom_hooks'][0]['arch_dataloader'].update(
        batch_size=100, drop_last=True), 'arch_dataloader'),
])
def test_bad_search_setups_fail_before_training(tiny_cityscapes, tmp_path,
                                                change, field):
    cfg = search_cfg(tiny_cityscapes, tmp_path, max_epochs=1)
    change(cfg)
    runner = make_runner(cfg)
    with pytest.raises(ValueError, match=field):
        runner.train()
    assert runner.iter == 0


def random_search_cfg(root, work_dir, search_mode):
    """A search with random augmentation and dropout, in ``search_mode``."""
    cfg = search_cfg(root, work_dir, max_epochs=2, warmup_epochs=1)
    for loader in (cfg['train_dataloader'],
                   cfg['custom_hooks'][0]['arch_dataloader']):
        pipeline = loader['dataset']['dataset']['pipeline']
        pipeline.insert(-1, dict(type='RandomFlip', prob=0.5))
    cfg['model']['decode_head']['dropout_ratio'] = 0.1
    cfg['model']['backbone']['search_mode'] = search_mode
    cfg['model']['decode_head']['search_mode'] = search_mode
    return cfg


@pytest.mark.parametrize('search_mode', ['darts', 'gumbel', 'proxyless'])
def test_same_seed_same_search(tiny_cityscapes, tmp_path, search_mode):
    results = []
    for run in ('a', 'b'):
        runner = make_runner(random_search_cfg(
            tiny_cityscapes, tmp_path / run, search_mode))
        before = arch_state(runner)
        runner.train()
        after = arch_state(runner)
        assert all(not torch.equal(before[n], after[n]) for n in before)
        results.append(after)
    for name in results[0]:
        assert torch.equal(results[0][name], results[1][name]), name


def test_gumbel_search_anneals_tau_and_logs(tiny_cityscapes, tmp_path):
    cfg = random_search_cfg(tiny_cityscapes, tmp_path, 'gumbel')
    cfg['custom_hooks'][0]['gumbel_tau'] = (4.0, 1.0)
    runner = make_runner(cfg)
    runner.train()
    hook = hook_of(runner)
    assert hook.arch_steps == 2
    # 4 iterations, 2 of warm-up: the last arch step ends the annealing
    tau = runner.model.backbone.tau
    assert tau == pytest.approx(1.0)
    assert runner.model.decode_head.attention.tau == tau


@pytest.mark.parametrize('scheduler', [
    dict(weight=[dict(type='PolyLR', power=0.9, begin=0, end=1)]),
    dict(type='PolyLR', power=0.9, begin=0, end=1),
    [dict(type='PolyLR', power=0.9, begin=0, end=1)],
])
def test_scheduler_without_arch_key_is_refused_before_the_runner(
        tiny_cityscapes, tmp_path, scheduler):
    from attnas_mmseg.engine.config_checks import (ConfigCheckError,
                                                  check_config)
    cfg = Config(search_cfg(tiny_cityscapes, tmp_path, max_epochs=1))
    cfg.param_scheduler = scheduler
    with pytest.raises(ConfigCheckError, match="param_scheduler.*'arch'"):
        check_config(cfg, 'train')
