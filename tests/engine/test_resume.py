"""An interrupted search, resumed with ``--resume``, ends where a straight one
does: weights, BN buffers, alpha/beta, both optimisers, schedules, and the
arch-half data position (the first arch step comes after one warm-up
iteration, so the arch half is mid-epoch at the break). With the shipped
configs' randomness on (random flip, photometric distortion, dropout) the
``RandomStateHook`` is what makes it exact: without it the resumed run
differs."""
import copy
import shutil

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from .search_cfg import search_cfg, uniform_search

KW = dict(max_epochs=3, warmup_epochs=0, warmup_iters=1, schedule_epochs=3,
          augment=True, dropout_ratio=0.1)


def run(cfg):
    runner = Runner.from_cfg(Config(copy.deepcopy(cfg)))
    runner.train()
    return runner


def resume(root, work_dir, **kw):
    cfg = search_cfg(root, work_dir, **dict(KW, **kw))
    cfg['resume'] = True
    return run(cfg)


def state(runner):
    """Every parameter and buffer (BN running stats, num_batches_tracked)."""
    return {k: v.detach().clone() for k, v in runner.model.state_dict().items()}


def differing(a, b):
    assert a.keys() == b.keys()
    return sorted(k for k in a if not torch.equal(a[k], b[k]))


def optimizer_tensors(runner):
    return {f'{name}.{param}.{key}': value
            for name, wrapper in runner.optim_wrapper.items()
            for param, slots in wrapper.optimizer.state_dict()['state'].items()
            for key, value in slots.items() if torch.is_tensor(value)}


def test_resume_matches_straight_run(tiny_cityscapes, tmp_path):
    straight = run(search_cfg(tiny_cityscapes, tmp_path / 'a', **KW))
    run(search_cfg(tiny_cityscapes, tmp_path / 'b', **dict(KW, max_epochs=2)))
    # the same checkpoints resumed by a config without the hook (control)
    shutil.copytree(tmp_path / 'b', tmp_path / 'c')
    resumed = resume(tiny_cityscapes, tmp_path / 'b')

    hooks = [next(h for h in r.hooks if type(h).__name__ == 'ArchUpdateHook')
             for r in (straight, resumed)]
    assert hooks[0].arch_steps == hooks[1].arch_steps == 5
    assert hooks[0]._arch_batch == hooks[1]._arch_batch
    a, b = state(straight), state(resumed)
    assert any('running_mean' in k for k in a)
    assert any('num_batches_tracked' in k for k in a)
    for name in ('backbone.alpha', 'decode_head.attention.beta'):
        assert torch.equal(a[name], b[name]), name
    assert differing(a, b) == []
    opt_a, opt_b = optimizer_tensors(straight), optimizer_tensors(resumed)
    assert opt_a and differing(opt_a, opt_b) == []
    lr_a = straight.optim_wrapper['weight'].get_lr()['lr']
    lr_b = resumed.optim_wrapper['weight'].get_lr()['lr']
    assert lr_a == lr_b
    # the checkpoint loads under torch's weights_only default
    ckpt = torch.load(tmp_path / 'b' / 'epoch_3.pth')
    assert ckpt['arch_update_hook']['arch_steps'] == 5
    assert set(ckpt['optimizer']) == {'weight', 'arch'}
    assert ckpt['random_state']['iter'] == 6  # 3 epochs of 2 batches
    assert len(ckpt['random_state']['states']) == 1

    control = resume(tiny_cityscapes, tmp_path / 'c', random_state_hook=False)
    assert 'backbone.alpha' in differing(a, state(control))


def test_gumbel_resume_matches_straight_run(tiny_cityscapes, tmp_path):
    """The sampled-path mode draws its paths from torch's generator, which
    the RandomStateHook restores: resumed == straight there too."""
    def cfg(work_dir, **kw):
        cfg = search_cfg(tiny_cityscapes, work_dir, **dict(KW, **kw))
        for part in ('backbone', 'decode_head'):
            cfg['model'][part]['search_mode'] = 'gumbel'
        return cfg

    straight = run(cfg(tmp_path / 'a'))
    run(cfg(tmp_path / 'b', max_epochs=2))
    resumed_cfg = cfg(tmp_path / 'b')
    resumed_cfg['resume'] = True
    resumed = run(resumed_cfg)
    a, b = state(straight), state(resumed)
    assert not torch.equal(a['backbone.alpha'],
                           straight.model.backbone.alpha.new_zeros(17, 6))
    assert differing(a, b) == []


def test_uniform_resume_matches_straight_run(tiny_cityscapes, tmp_path):
    """A uniform search draws its paths from torch's generator: resumed ==
    straight with the RandomStateHook, and without it (no other randomness
    here: no augmentation, no dropout) the replayed draws differ."""
    kw = dict(KW, augment=False, dropout_ratio=0.0)

    def cfg(work_dir, **more):
        return uniform_search(search_cfg(tiny_cityscapes, work_dir,
                                         **dict(kw, **more)))

    straight = run(cfg(tmp_path / 'a'))
    run(cfg(tmp_path / 'b', max_epochs=2))
    shutil.copytree(tmp_path / 'b', tmp_path / 'c')
    resumed_cfg = cfg(tmp_path / 'b')
    resumed_cfg['resume'] = True
    resumed = run(resumed_cfg)
    a, b = state(straight), state(resumed)
    assert differing(a, b) == []
    momenta = [{f'{param}.{key}': value for param, slots in r.optim_wrapper
                .optimizer.state_dict()['state'].items()
                for key, value in slots.items()} for r in (straight, resumed)]
    assert momenta[0] and differing(*momenta) == []
    # alpha/beta are saved and never move
    first = torch.load(tmp_path / 'a' / 'epoch_1.pth')['state_dict']
    for name in ('backbone.alpha', 'decode_head.attention.beta'):
        assert torch.equal(first[name], a[name]), name

    control_cfg = cfg(tmp_path / 'c', random_state_hook=False)
    control_cfg['resume'] = True
    changed = differing(a, state(run(control_cfg)))
    assert any(k.startswith('backbone.layer') for k in changed)
