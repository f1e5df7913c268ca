"""search_mode='uniform' (SPOS): one op per block and ``sample_topk`` cells
drawn uniformly whatever alpha/beta hold, no gradient to them, no arch step;
the argmax / top-k in eval mode."""
import copy
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner

from attnas_mmseg.engine.config_checks import (ConfigCheckError, check_config,
                                               config_search_modes)
from attnas_mmseg.engine.optimizers import (AttNASOptimWrapperConstructor,
                                            SearchOptimWrapperDict)
from attnas_mmseg.export.checkpoint import load_search_checkpoint
from attnas_mmseg.models import (AttNASHead, SearchableMobileNetV2,
                                 build_segmentor)
from attnas_mmseg.search.space.search_modes import (block_weights,
                                                    cell_weights,
                                                    check_arch_step,
                                                    searched_modes)

from ..._builders import segmentor_cfg
from ...engine.search_cfg import search_cfg

REPO = Path(__file__).resolve().parents[3]
CONFIG = 'configs/demo/attnas-search-uniform_demo_synthetic-cityscapes-64x128.py'
BN = dict(type='BN')
# chi-square upper 1e-6 quantiles (scipy.stats.chi2.isf(1e-6, df)); the
# cell statistic of draws without replacement is below a chi-square's
CHI2_DF4, CHI2_DF5, CHI2_DF25 = 33.38, 35.89, 73.89
WEIGHT = dict(type='OptimWrapper', optimizer=dict(
    type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
ARCH = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=3e-4))


def chi_square(counts: torch.Tensor, expected: float) -> float:
    return float(((counts.double() - expected)**2 / expected).sum())


def count_calls(named_modules):
    """Forward-call counts of each named module, and the hook handles."""
    calls = {name: 0 for name, _ in named_modules}

    def make(name):
        def hook(module, inputs, output):
            calls[name] += 1
        return hook

    return calls, [m.register_forward_hook(make(n)) for n, m in named_modules]


def block_ops(net):
    """((block, op), module) of every candidate, blocks numbered 0-16."""
    blocks = [block for name in net.layers for block in getattr(net, name)]
    return [((b, j), op) for b, block in enumerate(blocks)
            for j, op in enumerate(block)]


def head_cells(head):
    return [((l, j), att) for l, layer in enumerate(head.attention.layers)
            for j, att in enumerate(layer.values())]


def uniform_segmentor(**kw):
    cfg = segmentor_cfg(channels=32, **kw)
    cfg['backbone']['search_mode'] = 'uniform'
    cfg['decode_head'].update(search_mode='uniform', sample_topk=4)
    return build_segmentor(cfg).train()


def loss_of(model, size=(32, 32)):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(2):
        sample = SegDataSample(gt_sem_seg=PixelData(
            data=torch.randint(0, 4, (1, *size))))
        sample.set_metainfo(dict(img_shape=size, pad_shape=size,
                                 ori_shape=size))
        samples.append(sample)
    losses = model(torch.rand(2, 3, *size) * 255, samples, mode='loss')
    return model.parse_losses(losses)[0]


# ------------------------------------------------------------ the draws
def test_block_draws_are_uniform_whatever_alpha():
    torch.manual_seed(0)
    alpha = torch.zeros(17, 6, requires_grad=True)
    with torch.no_grad():   # softmax(alpha) puts 1 - 1e-21 on one op a block
        alpha[torch.arange(17), torch.arange(17) % 6] = 50.0
    draws = 3000
    counts = torch.zeros(17, 6)
    for _ in range(draws):
        weights, active = block_weights(alpha, 'uniform', 1.0, True, False)
        assert not weights.requires_grad
        assert torch.equal(weights.sum(1), torch.ones(17))   # one-hot
        assert torch.equal(weights.argmax(1), torch.tensor(active)[:, 0])
        counts += weights
    for block in range(17):
        assert chi_square(counts[block], draws / 6) < CHI2_DF5, \
            (block, counts[block])


def test_cell_draws_are_uniform_over_all_layers_whatever_beta():
    torch.manual_seed(0)
    beta = torch.zeros(2, 13, requires_grad=True)
    with torch.no_grad():
        beta[0, :4] = 50.0   # the unified softmax's top-4: layer 0 only
    draws, k = 3000, 4
    counts = torch.zeros(2, 13)
    in_layer0 = torch.zeros(k + 1)
    for _ in range(draws):
        weights, run, sampled = cell_weights(beta, 'uniform', k, 1.0, True,
                                             False)
        assert not weights.requires_grad
        assert torch.equal(run, sampled)
        assert int(run.sum()) == k                       # k distinct cells
        assert torch.equal(weights, run.to(weights.dtype))  # weight 1 each
        counts += weights
        in_layer0[int(run[0].sum())] += 1
    assert chi_square(counts.flatten(), draws * k / 26) < CHI2_DF25, counts
    # drawn from all 26 cells at once, not layer by layer: how many fall in
    # layer 0 is hypergeometric, all 4 in one layer with P = 2 * 715 / 14950
    pmf = torch.tensor([math.comb(13, j) * math.comb(13, k - j)
                        for j in range(k + 1)]) / math.comb(26, k)
    stat = float(((in_layer0 - draws * pmf)**2 / (draws * pmf)).sum())
    assert stat < CHI2_DF4, in_layer0


def test_draws_come_from_torch_global_generator():
    """What makes RandomStateHook's checkpointed state replay them."""
    alpha, beta = torch.zeros(17, 6), torch.zeros(2, 13)

    def draw(seed):
        torch.manual_seed(seed)
        return (block_weights(alpha, 'uniform', 1.0, True, False)[1],
                cell_weights(beta, 'uniform', 4, 1.0, True, False)[1])

    first = draw(1)
    assert draw(1)[0] == first[0] and torch.equal(draw(1)[1], first[1])
    assert draw(2)[0] != first[0]


# ----------------------------------------------------------- the modules
def test_one_drawn_op_per_block_and_k_drawn_cells_run():
    torch.manual_seed(0)
    net = SearchableMobileNetV2(search_mode='uniform', widen_factor=0.25,
                                out_indices=(6, ), norm_cfg=BN).train()
    head = AttNASHead(num_layers=2, search_mode='uniform', sample_topk=4,
                      in_channels=80, channels=16, num_classes=3,
                      norm_cfg=BN).train()
    with torch.no_grad():
        net.alpha.zero_()[:, 0] = 100.0
        head.attention.beta.zero_()[0, :4] = 100.0
    ops, op_handles = count_calls(block_ops(net))
    cells, cell_handles = count_calls(head_cells(head))
    ran_ops, ran_cells = set(), set()
    for _ in range(12):
        before_ops, before_cells = dict(ops), dict(cells)
        head(net(torch.rand(2, 3, 32, 32)))
        for b in range(17):
            ran = [j for j in range(6) if ops[b, j] > before_ops[b, j]]
            assert len(ran) == 1
            assert ops[b, ran[0]] == before_ops[b, ran[0]] + 1
            ran_ops.add((b, ran[0]))
        ran = [c for c in cells if cells[c] > before_cells[c]]
        assert len(ran) == 4 and all(cells[c] == before_cells[c] + 1
                                     for c in ran)
        ran_cells.update(ran)
    for h in op_handles + cell_handles:
        h.remove()
    # alpha/beta are ignored: P(a block draws one op 12 times) = 6^-11
    assert all(len({j for b2, j in ran_ops if b2 == b}) > 1 for b in range(17))
    assert ran_cells - {(0, j) for j in range(4)}


def test_no_gradient_reaches_alpha_or_beta():
    torch.manual_seed(0)
    model = uniform_segmentor()
    alpha, beta = model.backbone.alpha, model.decode_head.attention.beta
    loss_of(model).backward()
    assert alpha.grad is None and beta.grad is None
    # only the drawn op of a block is in the graph
    for (b, j), op in block_ops(model.backbone):
        if b == 0:
            has_grad = [p.grad is not None for p in op.parameters()]
            assert all(has_grad) or not any(has_grad)
    with_grad = [j for (b, j), op in block_ops(model.backbone)
                 if b == 0 and next(op.parameters()).grad is not None]
    assert len(with_grad) == 1


def test_eval_runs_the_argmax_and_draws_nothing():
    torch.manual_seed(0)
    net = SearchableMobileNetV2(search_mode='uniform', widen_factor=0.25,
                                out_indices=(6, ), norm_cfg=BN).eval()
    head = AttNASHead(num_layers=2, search_mode='uniform', sample_topk=4,
                      in_channels=80, channels=16, num_classes=3,
                      norm_cfg=BN).eval()
    argmax = [(b * 5) % 6 for b in range(17)]
    top4 = {(0, 2), (1, 0), (1, 7), (1, 12)}
    with torch.no_grad():
        net.alpha.zero_()[torch.arange(17), argmax] = 1.0
        head.attention.beta.zero_()
        for cell in top4:
            head.attention.beta[cell] = 1.0
    ops, _ = count_calls(block_ops(net))
    cells, _ = count_calls(head_cells(head))
    x = torch.rand(1, 3, 32, 32)
    state = torch.get_rng_state()
    with torch.no_grad():
        head(net(x))
    assert torch.equal(torch.get_rng_state(), state)
    assert {c for c, n in ops.items() if n} == set(enumerate(argmax))
    assert {c for c, n in cells.items() if n} == top4


# ---------------------------------------------- no arch step: the wiring
def test_check_arch_step():
    uniform = dict(backbone='uniform', head='uniform')
    assert check_arch_step(uniform, False, 'the hook') is False
    assert check_arch_step(dict(backbone='gumbel'), True, 'the hook') is True
    with pytest.raises(ValueError, match="the hook: search_mode='uniform'"):
        check_arch_step(uniform, True, 'the hook')
    with pytest.raises(ValueError, match=r"backbone.*'uniform'.*darts"):
        check_arch_step(dict(backbone='uniform', head='darts'), False, 'x')


def test_constructor_gives_one_weight_optimiser_without_alpha_beta():
    torch.manual_seed(0)
    model = uniform_segmentor()
    assert set(searched_modes(model).values()) == {'uniform'}
    wrapper = AttNASOptimWrapperConstructor(dict(weight=WEIGHT))(model)
    assert type(wrapper) is OptimWrapper
    arch = {id(model.backbone.alpha), id(model.decode_head.attention.beta)}
    params = [id(p) for g in wrapper.optimizer.param_groups
              for p in g['params']]
    assert not arch & set(params)
    assert len(params) == sum(1 for _ in model.parameters()) - 2
    alpha = model.backbone.alpha.detach().clone()
    beta = model.decode_head.attention.beta.detach().clone()
    for _ in range(2):
        wrapper.update_params(loss_of(model))
    assert torch.equal(model.backbone.alpha, alpha)
    assert torch.equal(model.decode_head.attention.beta, beta)

    with pytest.raises(ValueError, match="optim_wrapper.arch: search_mode="):
        AttNASOptimWrapperConstructor(dict(weight=WEIGHT, arch=ARCH))(model)
    darts = build_segmentor(segmentor_cfg(channels=32))
    with pytest.raises(ValueError, match='optim_wrapper.arch: missing'):
        AttNASOptimWrapperConstructor(dict(weight=WEIGHT))(darts)
    assert isinstance(AttNASOptimWrapperConstructor(
        dict(weight=WEIGHT, arch=ARCH))(darts), SearchOptimWrapperDict)
    mixed = segmentor_cfg(channels=32)
    mixed['backbone']['search_mode'] = 'uniform'
    for given in ({}, dict(arch=ARCH)):
        with pytest.raises(ValueError, match='search_mode: backbone'):
            AttNASOptimWrapperConstructor(dict(weight=WEIGHT, **given))(
                build_segmentor(mixed))


def test_config_checks_refuse_a_hook_or_a_mix():
    cfg = Config.fromfile(REPO / CONFIG)
    assert config_search_modes(cfg) == {'model.backbone': 'uniform',
                                 'model.decode_head': 'uniform'}
    assert [h.type for h in cfg.custom_hooks] == ['RandomStateHook']
    with_hook = copy.deepcopy(cfg)
    with_hook.custom_hooks.append(dict(type='ArchUpdateHook'))
    with pytest.raises(ConfigCheckError,
                       match="custom_hooks: ArchUpdateHook: search_mode="):
        check_config(with_hook, 'train')
    mixed = copy.deepcopy(cfg)
    mixed.model.decode_head.search_mode = 'darts'
    with pytest.raises(ConfigCheckError, match='search_mode: model.backbone'):
        check_config(mixed, 'train')


def test_arch_update_hook_refuses_a_uniform_model(tiny_cityscapes, tmp_path):
    """A Runner built past tools/train.py's checks meets the hook's."""
    cfg = search_cfg(tiny_cityscapes, tmp_path, max_epochs=1)
    for part in ('backbone', 'decode_head'):
        cfg['model'][part]['search_mode'] = 'uniform'
    cfg['optim_wrapper'].pop('arch')
    cfg['param_scheduler'] = cfg['param_scheduler']['weight']
    with pytest.raises(ValueError,
                       match="custom_hooks: ArchUpdateHook: search_mode="):
        Runner.from_cfg(Config(cfg)).train()


def run(args):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


def test_train_tool_runs_a_uniform_search_and_derive_refuses_it(
        tiny_cityscapes, tmp_path):
    work_dir = tmp_path / 'uniform'
    roots = [f'{loader}.dataset.dataset.data_root={tiny_cityscapes}'
             for loader in ('train_dataloader', 'arch_dataloader')]
    train = run(['tools/train.py', CONFIG, '--work-dir', str(work_dir),
                 '--cfg-options', *roots, 'train_dataloader.batch_size=2',
                 'train_cfg.max_epochs=1'])
    assert train.returncode == 0, train.stdout[-2000:] + train.stderr[-3000:]
    checkpoint = work_dir / 'epoch_1.pth'
    ckpt, alpha, beta = load_search_checkpoint(str(checkpoint))
    assert alpha.shape == (17, 6) and beta.shape == (2, 13)
    assert 'arch_update_hook' not in ckpt
    assert 'weight' not in ckpt['optimizer']      # one optimiser
    assert alpha.abs().max() < 0.01               # the 1e-3 initialisation
    derive = run(['tools/derive_arch.py', CONFIG, str(checkpoint),
                  '--out-dir', str(tmp_path / 'derived')])
    assert derive.returncode != 0
    assert "search_mode='uniform'" in derive.stderr
    assert 'tools/search_subnet.py' in derive.stderr
    assert not (tmp_path / 'derived').exists()
