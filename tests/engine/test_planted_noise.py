"""The fast planted-signal check (issue 16): the real search (ArchUpdateHook in
an mmengine Runner) on a tiny searching model whose tables hold a noise
candidate, op 7 of every block and Att14 of every layer
(attnas_mmseg/ops/noise.py). A search that works ranks them low; a flipped
or detached arch gradient does not (checked on a copy of the tree:
docs/design.md, "User candidates and planted signals").

Tiny: width 0.25, 32x64 crops of the 8-image tiny set (4 weight images in
batches of 2, the 4 arch images in one batch), no cost term, Adam without
weight decay at lr 0.1, seed 1, 160 arch steps in every mode, one torch
thread (a search this small is chaotic: its trajectory, so its ranks, move
with the kernels, i.e. with the machine and the thread count).

Measured on two machines, seeds 0-4, 1 and 2 threads:

* darts at 80 arch steps (the budget before): the noise op last in 11-14 of
  17 blocks on one machine, 0-14 on the other; too close to chance to assert
  on every machine.
* darts at 160 arch steps (6 runs): the noise op below its block's mean
  logit in 16-17 of 17 blocks (last in 7-14). Its beta ranks the noise
  attention's cells 8th-21st of 28: never in the derived top-4, not
  reliably in the bottom half.
* gumbel and proxyless, 160 arch steps: the noise attention's cells rank
  18-28 of 28, but the noise op is last in only 1-7 of 17 blocks, about
  chance, and still 1-3 after 400 steps: in the sampled modes alpha does not
  separate the noise op at this size. That is a finding of the planted
  benchmark (issue 16, item 4), not a budget choice, so for them only the
  attention is asserted here.

So the assertions are the ones with room on every run measured: the arch
parameters moved (a dropped gradient leaves them at their 1e-3
initialisation); the noise attention out of the derived top-4 in every mode
(with beta's gradient negated, darts ranked its cells 1st-4th, seeds 0, 1)
and in the bottom half of Eq. (2)'s ranking in the sampled modes; for darts
the noise op below its block's mean in at least 13 of 17 blocks. That last
one checks the finding, not the gradient's sign: with alpha's gradient alone
negated, seed 1 still had it below the mean in 14 blocks (last in 4), so a
flipped alpha is caught by tests/search/space/test_arch_gradients.py, which
checks the gradients themselves.
"""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from attnas_mmseg.search.space.arch_params import named_arch_parameters

from .search_cfg import half, pipeline, search_cfg

#: (warm-up epochs, epochs) per mode: 2 weight iterations and 2 arch steps an
#: epoch after the warm-up.
BUDGET = dict(darts=(4, 84), gumbel=(4, 84), proxyless=(4, 84))
#: The modes whose alpha separates the noise op at the budget, and whose
#: beta does not reliably put the noise attention in the bottom half.
ALPHA_SEPARATES = ('darts', )
NOISE_OP, NOISE_ATTENTION = 7, 14
SIZE = (32, 64)
SEED = 1


def planted_cfg(root, work_dir, mode):
    warmup, epochs = BUDGET[mode]
    cfg = search_cfg(root, work_dir, max_epochs=epochs, warmup_epochs=warmup,
                     flops_weight=0.0, log_interval=10_000,
                     random_state_hook=False,
                     arch_dataloader=half(root, 'arch', 4))
    for loader in (cfg['train_dataloader'],
                   cfg['custom_hooks'][0]['arch_dataloader']):
        loader['dataset']['dataset']['pipeline'] = pipeline(SIZE)
    model = cfg['model']
    model['backbone'].update(widen_factor=0.25, search_mode=mode,
                             extra_ops=[dict(type='NoiseOp')])
    model['decode_head'].update(in_channels=80, search_mode=mode,
                                extra_attentions=[
                                    dict(type='NoiseAttention')])
    cfg['optim_wrapper']['weight']['optimizer']['lr'] = 0.05
    cfg['optim_wrapper']['arch']['optimizer'].update(lr=0.1,
                                                     weight_decay=0.0)
    cfg['default_hooks']['checkpoint'].update(interval=10_000,
                                              save_last=False)
    cfg['default_hooks']['logger']['interval'] = 10_000
    cfg['randomness']['seed'] = SEED
    return cfg


def ranks(logits, column):
    """Rank of ``column`` in each row: 1 + the entries strictly above it."""
    return [1 + int((row > row[column - 1]).sum()) for row in logits]


@pytest.mark.parametrize('mode', sorted(BUDGET))
def test_noise_candidates_end_low(tiny_cityscapes, tmp_path, mode):
    torch.set_num_threads(1)   # restored by conftest's torch_threads
    runner = Runner.from_cfg(Config(copy.deepcopy(
        planted_cfg(tiny_cityscapes, tmp_path, mode))))
    runner.train()
    params = dict(named_arch_parameters(runner.model))
    alpha = params['backbone.alpha'].detach()
    beta = params['decode_head.attention.beta'].detach()
    assert alpha.shape == (17, NOISE_OP)
    assert beta.shape == (2, NOISE_ATTENTION)
    assert beta.std() > 0.1, 'beta stayed at its initialisation'
    # the noise attention's cells out of the derived top-4 of the unified
    # ranking of Eq. (2); in its bottom half in the sampled modes
    flat = beta.flatten()
    cell_ranks = [1 + int((flat > v).sum()) for v in beta[:, -1]]
    assert min(cell_ranks) > 4, cell_ranks
    if mode not in ALPHA_SEPARATES:
        assert min(cell_ranks) > flat.numel() // 2, cell_ranks
    else:
        assert alpha.std() > 0.1, 'alpha stayed at its initialisation'
        below = alpha[:, NOISE_OP - 1] < alpha.mean(dim=1)
        assert int(below.sum()) >= 13, (ranks(alpha, NOISE_OP), below)
