"""An interrupted search, resumed with ``--resume``, ends where a straight one
does: weights, alpha/beta, both optimisers, schedules, and the arch-half data
position (the first arch step comes after one warm-up iteration, so the arch
half is mid-epoch at the break)."""
import copy

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from .search_cfg import search_cfg


def run(cfg):
    runner = Runner.from_cfg(Config(copy.deepcopy(cfg)))
    runner.train()
    return runner


def test_resume_matches_straight_run(tiny_cityscapes, tmp_path):
    kw = dict(max_epochs=3, warmup_epochs=0, warmup_iters=1,
              schedule_epochs=3)
    straight = run(search_cfg(tiny_cityscapes, tmp_path / 'a', **kw))

    first = search_cfg(tiny_cityscapes, tmp_path / 'b', **dict(
        kw, max_epochs=2))
    run(first)
    resumed_cfg = search_cfg(tiny_cityscapes, tmp_path / 'b', **kw)
    resumed_cfg['resume'] = True
    resumed = run(resumed_cfg)

    hooks = [next(h for h in r.hooks if type(h).__name__ == 'ArchUpdateHook')
             for r in (straight, resumed)]
    assert hooks[0].arch_steps == hooks[1].arch_steps == 5
    assert hooks[0]._arch_batch == hooks[1]._arch_batch
    a = dict(straight.model.named_parameters())
    b = dict(resumed.model.named_parameters())
    for name in ('backbone.alpha', 'decode_head.attention.beta'):
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5)
    lr_a = straight.optim_wrapper['weight'].get_lr()['lr']
    lr_b = resumed.optim_wrapper['weight'].get_lr()['lr']
    assert lr_a == lr_b
    # the checkpoint loads under torch's weights_only default
    ckpt = torch.load(tmp_path / 'b' / 'epoch_3.pth')
    assert ckpt['arch_update_hook']['arch_steps'] == 5
    assert set(ckpt['optimizer']) == {'weight', 'arch'}
