"""The fast planted-signal check (issue 16): the real search (ArchUpdateHook in
an mmengine Runner) on a tiny searching model whose tables hold a noise
candidate, op 7 of every block and Att14 of every layer
(attnas_mmseg/ops/noise.py). A search that works ranks them low; a flipped
or detached arch gradient does not (checked on a copy of the tree:
docs/design.md, "User candidates and planted signals").

Tiny: width 0.25, 32x64 crops of the 8-image tiny set (4 weight images in
batches of 2, the 4 arch images in one batch), no cost term, Adam without
weight decay at lr 0.1, seed 1. Measured at these budgets (seeds 0, 1, 2):

* darts, 80 arch steps: the noise op last in 11, 14, 11 of 17 blocks; the
  noise attention's cells rank 15-27 of the 28.
* gumbel and proxyless, 160 arch steps: the noise attention's cells rank
  18-28 of 28, but the noise op is last in only 1-5 of 17 blocks, no more
  than chance, and still 1-3 after 400 steps: in the sampled modes alpha does
  not separate the noise op at this size. That is a finding of the planted
  benchmark (issue 16, item 4), not a budget choice, so for them only the
  attention is asserted here.
"""
import copy

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from attnas_mmseg.search.space.arch_params import named_arch_parameters

from .search_cfg import half, pipeline, search_cfg

#: (warm-up epochs, epochs) per mode: 2 weight iterations and 2 arch steps an
#: epoch after the warm-up.
BUDGET = dict(darts=(4, 44), gumbel=(4, 84), proxyless=(4, 84))
#: The modes whose alpha separates the noise op at the budget (module doc).
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
    runner = Runner.from_cfg(Config(copy.deepcopy(
        planted_cfg(tiny_cityscapes, tmp_path, mode))))
    runner.train()
    params = dict(named_arch_parameters(runner.model))
    alpha = params['backbone.alpha'].detach()
    beta = params['decode_head.attention.beta'].detach()
    assert alpha.shape == (17, NOISE_OP)
    assert beta.shape == (2, NOISE_ATTENTION)
    # every cell of the noise attention in the bottom half of the unified
    # ranking of Eq. (2), far from the derived top-4
    flat = beta.flatten()
    cell_ranks = [1 + int((flat > v).sum()) for v in beta[:, -1]]
    assert min(cell_ranks) > flat.numel() // 2, cell_ranks
    if mode in ALPHA_SEPARATES:
        op_ranks = ranks(alpha, NOISE_OP)
        assert sum(r == NOISE_OP for r in op_ranks) >= 9, op_ranks
