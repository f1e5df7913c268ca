"""One ``ArchUpdateHook.arch_step`` descends: the CE it is given, the latency
term it adds.

Adam without weight decay and the FLOPs weight 0, so alpha/beta move by the
CE gradient alone (Adam's weight decay would move them with a zero gradient,
issue 20). The CE is evaluated here, on the very batch the step uses (the
whole arch half in one unshuffled batch) and, for a sampled mode, with the
same random draw, before and after the step.
"""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from attnas_mmseg.deploy.latency_measure import lut_settings
from attnas_mmseg.engine import ArchUpdateHook
from attnas_mmseg.models import build_segmentor
from attnas_mmseg.search.cost.latency_parts import latency_parts
from attnas_mmseg.search.cost.latency_table import LatencyLUT
from attnas_mmseg.search.space.arch_params import named_arch_parameters
from attnas_mmseg.search.space.search_modes import arch_pass

from ..search.cost import test_unsettled_cut as cut
from .search_cfg import half, search_cfg

#: Images in the arch half of the tiny set (8 train images, half each).
ARCH_IMAGES = 4
LUT_SIZE = (64, 128)


def descent_cfg(root, work_dir, mode='darts', arch_lr=1e-4, **hook_kwargs):
    """A search whose arch step sees only the CE (and ``hook_kwargs``' terms):
    no FLOPs term, no weight decay; the whole arch half in one fixed batch."""
    cfg = search_cfg(root, work_dir, max_epochs=1, warmup_epochs=1,
                     flops_weight=0.0,
                     arch_dataloader=half(root, 'arch', ARCH_IMAGES,
                                          shuffle=False),
                     **hook_kwargs)
    cfg['optim_wrapper']['arch']['optimizer'].update(lr=arch_lr,
                                                     weight_decay=0.0)
    cfg['train_dataloader']['batch_size'] = 4   # a one-iteration warm-up
    cfg['model']['backbone']['search_mode'] = mode
    cfg['model']['decode_head']['search_mode'] = mode
    return cfg


def warmed_up(cfg):
    """The runner after its warm-up epoch (hook and optimisers set up), its
    hook, and the model in train mode."""
    runner = Runner.from_cfg(Config(copy.deepcopy(cfg)))
    runner.train()
    runner.model.train()
    hook = next(h for h in runner.hooks if isinstance(h, ArchUpdateHook))
    return runner, hook


def arch_params(runner):
    return [p for _, p in named_arch_parameters(runner.model)]


def arch_half_ce(runner, data, seed):
    """The arch pass's CE on ``data`` with the torch RNG at ``seed`` (the
    sampled modes' draw), and its gradient in alpha/beta."""
    model = runner.model
    torch.manual_seed(seed)
    with arch_pass([model.backbone, model.decode_head]):
        ce = model.loss(data['inputs'], data['data_samples'])['decode.loss_ce']
    return float(ce), torch.autograd.grad(ce, arch_params(runner))


@pytest.mark.parametrize('mode', ['darts', 'proxyless'])
def test_arch_step_lowers_the_arch_half_ce(tiny_cityscapes, tmp_path, mode):
    """(gumbel's forward value is the sampled network, constant in alpha for
    a fixed draw, so the CE of one draw does not move with a step.)"""
    cfg = descent_cfg(tiny_cityscapes, tmp_path, mode)
    runner, hook = warmed_up(cfg)
    loader = runner.build_dataloader(
        cfg['custom_hooks'][0]['arch_dataloader'])
    assert len(loader) == 1
    data = runner.model.data_preprocessor(next(iter(loader)), True)
    ce0, grads = arch_half_ce(runner, data, seed=5)
    before = [p.detach().clone() for p in arch_params(runner)]

    torch.manual_seed(5)   # the step draws what arch_half_ce drew
    hook.arch_step(runner)
    # the step saw this batch and this draw: it logged the same CE
    logged = runner.message_hub.get_scalar('train/arch_ce').current()
    assert logged == pytest.approx(ce0, rel=1e-6)
    ce1, _ = arch_half_ce(runner, data, seed=5)
    assert ce1 < ce0
    # and the fall is the first-order one of the move made: <grad, delta>
    moved = sum(float((g * (p.detach() - b)).sum())
                for g, p, b in zip(grads, arch_params(runner), before))
    assert moved < 0
    assert ce1 - ce0 == pytest.approx(moved, rel=0.3)


def write_lut(path, model_cfg):
    """A hand-written LUT for the model of ``model_cfg``: entry i (in the
    plan order of its parts) costs i + 1 ms."""
    parts = latency_parts(build_segmentor(model_cfg, device='meta'), LUT_SIZE)
    lut = LatencyLUT(path, lut_settings('torch', 'cpu', 1, LUT_SIZE))
    for i, key in enumerate(dict.fromkeys(p.key for p in parts)):
        lut.entries[key] = dict(ms=float(i + 1), label='')
    lut.save()
    return lut


def test_latency_term_lowers_the_predicted_latency(tiny_cityscapes, tmp_path):
    """With a latency weight large enough to dominate the CE, a few arch
    steps lower the predicted latency when it is above the target, by about
    what sign descent (Adam's first steps) on the latency predicts."""
    lut_path = tmp_path / 'lut.json'
    probe = descent_cfg(tiny_cityscapes, tmp_path)
    write_lut(lut_path, probe['model'])
    cfg = descent_cfg(tiny_cityscapes, tmp_path, arch_lr=3e-2,
                      latency_lut=str(lut_path), latency_target=1.0,
                      latency_weight=1000.0)
    runner, hook = warmed_up(cfg)
    table = hook.latency_table
    alpha, beta = arch_params(runner)
    assert alpha.dim() == 2 and beta.shape[-1] == 13

    def expected_ms():
        return table.predict(alpha, beta, 'expected')

    def derived_ms():
        return float(table.predict(alpha, beta, 'derived', 4))

    start, derived0 = expected_ms(), derived_ms()
    assert float(start) > 1.0 and derived0 > 1.0   # above the target
    g_alpha, g_beta = torch.autograd.grad(start, [alpha, beta])
    steps, lr = 3, 3e-2
    # each of Adam's first steps moves every logit by about lr against the
    # sign of its gradient: to first order the latency falls by this much
    sign_descent = steps * lr * float(g_alpha.abs().sum() +
                                      g_beta.abs().sum())
    for _ in range(steps):
        hook.arch_step(runner)
    fall = float(start) - float(expected_ms())
    assert fall > 0.5 * sign_descent
    assert derived_ms() < derived0


@pytest.mark.parametrize('mode,held', [('abs', True), ('hinge', False),
                                       ('eq4_signed', False)])
def test_the_hook_guards_the_cut_under_abs_only(mode, held):
    """Only |Eq. 4| pulls from both sides; hinge and Eq. (4) as printed push
    one way and settle the cut themselves."""
    derived = cut.FIXED + sum(cut.COSTS[:3]) + cut.COSTS[9]
    target = (2 * derived - cut.COSTS[9] + cut.COSTS[12]) / 2
    hook = ArchUpdateHook(flops_target=target, flops_loss_mode=mode)
    hook._alpha, hook._beta = None, cut._beta().requires_grad_()
    pred = hook._predict(cut._table(), target)
    cut.cost_loss(pred, target, mode).backward()
    assert (hook._beta.grad[0, 9] == 0) == held
