"""Runner checkpoints load and resume under torch's ``weights_only`` default."""
import inspect
import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmseg.evaluation import IoUMetric
from torch.utils.data import Dataset

import attnas_mmseg  # noqa: F401  (registration happens at import)
from attnas_mmseg.utils import SAFE_GLOBALS, register_checkpoint_safe_globals
from attnas_mmseg.utils.checkpoint_compat import (HISTORY_BUFFER_STATISTICS,
                                                  _history_buffer_statistic,
                                                  _multiarray)

MAX_ITERS = 4


class _TinyRegressor(BaseModel):
    """``y = fc(x)`` with an MSE loss; small enough to train in milliseconds.

    In ``predict`` mode it emits a 4x4 label map per sample, as a segmentor does, so that
    MMSeg's ``IoUMetric`` can score it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 1)

    def forward(self, inputs, labels=None, gt_sem_seg=None, mode: str = 'tensor'):
        out = self.fc(torch.stack(inputs)).squeeze(-1)
        if mode == 'loss':
            return dict(loss=((out - torch.stack(labels))**2).mean())
        if mode == 'predict':
            return [
                dict(pred_sem_seg=dict(data=torch.full((1, 4, 4), int(y > 0))),
                     gt_sem_seg=dict(data=gt)) for y, gt in zip(out, gt_sem_seg)
            ]
        return out


class _FixedDataset(Dataset):
    """8 samples, each a pure function of its index."""

    metainfo = dict(classes=('background', 'foreground'))

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> dict:
        gen = torch.Generator().manual_seed(index)
        return dict(
            inputs=torch.randn(3, generator=gen),
            labels=torch.tensor(float(index)),
            gt_sem_seg=torch.randint(0, 2, (1, 4, 4), generator=gen))


def _dataloader() -> dict:
    return dict(
        dataset=_FixedDataset(),
        batch_size=2,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='pseudo_collate'))


def _build_runner(work_dir: str, name: str, **kwargs) -> Runner:
    torch.manual_seed(0)
    return Runner(
        model=_TinyRegressor(),
        work_dir=work_dir,
        experiment_name=name,
        train_dataloader=_dataloader(),
        # A validation loop with MMSeg's metric and save_best puts its np.float32 best_score
        # into the checkpoint, as a real search or retrain config does.
        val_dataloader=_dataloader(),
        val_cfg=dict(),
        val_evaluator=[IoUMetric(iou_metrics=['mIoU'])],
        # Momentum and a step in the LR schedule make the result depend on the optimizer and
        # scheduler state, so a resume that dropped either would not reproduce the weights.
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[3], by_epoch=False),
        train_cfg=dict(by_epoch=False, max_iters=MAX_ITERS, val_interval=2),
        default_hooks=dict(
            checkpoint=dict(
                type='CheckpointHook', interval=2, by_epoch=False, save_best='mIoU'),
            logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0),
        default_scope='mmengine',
        log_level='WARNING',
        **kwargs)


@pytest.fixture(scope='module')
def straight_run(tmp_path_factory) -> str:
    """Work dir of an uninterrupted run that saved ``iter_2.pth`` and ``iter_4.pth``."""
    work_dir = str(tmp_path_factory.mktemp('straight'))
    _build_runner(work_dir, 'straight').train()
    return work_dir


def test_runner_checkpoint_needs_and_gets_safe_globals(straight_run):
    path = os.path.join(straight_run, f'iter_{MAX_ITERS}.pth')
    registered = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
            torch.load(path)
    finally:
        torch.serialization.add_safe_globals(registered)

    ckpt = torch.load(path)
    assert ckpt['meta']['iter'] == MAX_ITERS
    loss = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss, HistoryBuffer)
    assert loss.data[0].dtype == np.float64 and loss.data[1].dtype == np.int64
    assert len(loss.data[0]) == MAX_ITERS
    runtime_info = ckpt['message_hub']['runtime_info']
    assert isinstance(runtime_info['eta'], np.float64)
    assert isinstance(runtime_info['best_score'], np.float32)


def test_resume_reproduces_straight_run(straight_run, tmp_path):
    resumed = _build_runner(
        str(tmp_path), 'resumed', load_from=os.path.join(straight_run, 'iter_2.pth'), resume=True)
    resumed.train()

    assert resumed.iter == MAX_ITERS
    expected = torch.load(os.path.join(straight_run, f'iter_{MAX_ITERS}.pth'))['state_dict']
    got = resumed.model.state_dict()
    assert expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=0)


def test_register_is_idempotent():
    before = torch.serialization.get_safe_globals()
    register_checkpoint_safe_globals()
    register_checkpoint_safe_globals()
    assert len(torch.serialization.get_safe_globals()) == len(before)


def test_allow_list_holds_only_documented_entries():
    functions = {_multiarray._reconstruct, _multiarray.scalar, _history_buffer_statistic}
    for entry in SAFE_GLOBALS:
        obj, path = entry if isinstance(entry, tuple) else (entry, None)
        if inspect.isclass(obj):
            assert obj.__module__.split('.')[0] in ('numpy', 'mmengine'), entry
        else:
            assert obj in functions, entry
        assert obj not in (eval, exec, getattr, setattr, __import__, os.system, compile), entry
    assert (_history_buffer_statistic, 'builtins.getattr') in SAFE_GLOBALS


@pytest.mark.parametrize('obj,name', [(os, 'system'), (HistoryBuffer, '__init__'),
                                      (np.ndarray, 'tofile')])
def test_getattr_stand_in_refuses_other_lookups(obj, name):
    with pytest.raises(pickle.UnpicklingError, match='not allowed'):
        _history_buffer_statistic(obj, name)


def test_getattr_stand_in_resolves_statistics():
    for name in HISTORY_BUFFER_STATISTICS:
        assert _history_buffer_statistic(HistoryBuffer, name) is getattr(HistoryBuffer, name)


class _SneakyGetattr:
    """Pickles as ``getattr(HistoryBuffer, '__init__')``: allowed type, forbidden attribute."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


def test_weights_only_load_rejects_other_getattr(tmp_path):
    path = tmp_path / 'sneaky.pth'
    torch.save({'x': _SneakyGetattr()}, path)
    with pytest.raises(pickle.UnpicklingError, match='not allowed'):
        torch.load(path)
