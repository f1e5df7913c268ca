"""RandomStateHook with real mmengine Runners on a toy model whose data and
forward draw from python ``random``, numpy and torch: a resumed run ends
bit-identical to an uninterrupted one although other hooks draw random numbers
in ``before_train`` (as a dataloader build does) and after each epoch (as a
validation loop does); without the hook it does not."""
import copy
import io
import random
import uuid
from pathlib import Path

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from attnas_mmseg.engine.hooks.random_state_hook import (
    RandomStateHook, get_random_state, set_random_state)


def draws():
    return (random.random(), float(np.random.rand()), float(np.random.randn()),
            float(torch.rand(1)))


def test_state_round_trips_through_weights_only_load():
    np.random.randn()  # leaves a cached gaussian in numpy's state
    saved = get_random_state()
    expected = draws()
    buffer = io.BytesIO()
    torch.save(dict(random_state=saved), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)['random_state']
    draws()
    set_random_state(loaded)
    assert draws() == expected


class NoisyData(Dataset):
    """Samples augmented with all three generators of the main process."""

    def __len__(self):
        return 6

    def __getitem__(self, idx):
        x = torch.full((4, ), float(idx))
        return dict(inputs=x * random.uniform(0.5, 1.5) +
                    float(np.random.randn()) + torch.randn(4))


class DropoutModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 1)
        self.drop = nn.Dropout(0.5)
        self.bn = nn.BatchNorm1d(4)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(self.drop(self.bn(torch.stack(inputs))))
        return dict(loss=out.pow(2).mean()) if mode == 'loss' else out


class Drawer(Hook):
    """Draws where a dataloader build (before_train) and a val loop (after
    the checkpoint of an epoch) would."""
    priority = 'LOWEST'

    def before_train(self, runner):
        draws()

    def after_train_epoch(self, runner):
        draws()


def runner(work_dir: Path, max_epochs: int, hook: bool = True,
           resume: bool = False, load_from=None, num_workers: int = 0,
           persistent_workers: bool = False) -> Runner:
    hooks = [Drawer()] + ([RandomStateHook()] if hook else [])
    torch.manual_seed(0)  # the same initial weights in every run
    return Runner(
        model=DropoutModel(), work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=NoisyData(), batch_size=2, num_workers=num_workers,
            persistent_workers=persistent_workers,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=hooks, randomness=dict(seed=0), resume=resume,
        load_from=load_from, default_scope='mmengine',
        # one logger and MessageHub per runner, also for runners made within one second
        experiment_name=f'{work_dir.name}_{uuid.uuid4().hex[:12]}')


def weights(r: Runner):
    return {k: v.clone() for k, v in r.model.state_dict().items()}


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def train(work_dir, max_epochs, **kw):
    r = runner(work_dir, max_epochs, **kw)
    r.train()
    return weights(r)


def test_resume_is_exact_and_only_with_the_hook(tmp_path):
    straight = train(tmp_path / 'straight', 3)
    for name, hook in (('hook', True), ('none', False)):
        train(tmp_path / name, 2, hook=hook)
        resumed = train(tmp_path / name, 3, hook=hook, resume=True)
        assert same(straight, resumed) == hook, name


def test_dataloader_workers_recreated_every_epoch(tmp_path):
    """mmengine seeds each worker with seed + num_workers * rank + worker_id
    (the epoch is not part of it): workers re-created every epoch start from
    the same states in the uninterrupted and in the resumed run."""
    kw = dict(num_workers=2, persistent_workers=False)
    straight = train(tmp_path / 'straight', 3, **kw)
    train(tmp_path / 'b', 2, **kw)
    assert same(straight, train(tmp_path / 'b', 3, resume=True, **kw))


def test_persistent_workers_warn(tmp_path):
    """Persistent workers carry states no checkpoint holds (a resumed run
    differs); the hook says so. No epoch runs, so no worker starts."""
    r = runner(tmp_path, 0, num_workers=2, persistent_workers=True)
    r.train()
    log = ''.join(p.read_text() for p in tmp_path.glob('*/*.log'))
    assert 'persistent_workers=True' in log and 'not repeat' in log


def test_checkpoint_of_another_world_size_uses_rank0_and_warns(tmp_path):
    straight = train(tmp_path / 'straight', 3)
    train(tmp_path / 'b', 2)
    path = tmp_path / 'b' / 'epoch_2.pth'
    ckpt = torch.load(path)
    ckpt['random_state']['states'] *= 2  # as written by two processes
    torch.save(ckpt, path)
    resumed = runner(tmp_path / 'b', 3, resume=True)
    resumed.train()
    assert same(straight, weights(resumed))
    log = ''.join(p.read_text() for p in (tmp_path / 'b').glob('*/*.log'))
    assert 'random states of 2 process(es), this run has 1' in log


def test_load_from_without_resume_restores_nothing(tmp_path):
    train(tmp_path / 'a', 2)
    path = tmp_path / 'a' / 'epoch_2.pth'
    stripped = copy.deepcopy(torch.load(path))
    del stripped['random_state']
    torch.save(stripped, tmp_path / 'stripped.pth')
    # a new run from trained weights starts from the seed, state or not
    assert same(train(tmp_path / 'b', 1, load_from=str(path)),
                train(tmp_path / 'c', 1, load_from=str(tmp_path / 'stripped.pth')))
