"""Random-number states saved with a checkpoint, so that ``--resume`` continues exactly.

A search draws random numbers in every step: the data pipeline (``RandomFlip``,
``RandomResize``, ``PhotoMetricDistortion``), dropout, a ``gumbel`` search mode, and one
torch draw each time a ``DataLoader`` iterator is created. mmengine saves none of these
states; its ``Runner.resume`` only re-seeds with the original seed, so a resumed run replays
the first epoch's stream and drifts away from the uninterrupted run (issue 11: alpha off by
up to 0.31).

:class:`RandomStateHook` takes a snapshot of python ``random``, numpy's global generator and
torch's CPU (and CUDA) generators on every rank at the end of each training epoch, writes
the snapshots of all ranks into the checkpoint, and sets the generators back to the snapshot
at the start of the next epoch, *in the uninterrupted run as well as in the resumed one*.
Both runs therefore enter epoch ``k + 1`` with the same states, whatever was drawn in
between: the validation loop after epoch ``k`` in the uninterrupted run; ``Runner``
set-up, ``Runner.resume``'s re-seeding and every hook's ``before_train``
(``ArchUpdateHook`` building its arch dataloader) in the resumed one. mmengine calls
``after_load_checkpoint`` before ``before_train``, so restoring at load time would be too
early; ``before_train_epoch`` comes after all of it. The priority ``'LOW'`` puts the
snapshot before ``CheckpointHook`` (``'VERY_LOW'``) writes the file, and the restore after
every stock hook's ``before_train_epoch``.

What is exact (``docs/resume_and_dist.md`` has the details and the test that checks it):

* ``EpochBasedTrainLoop`` with checkpoints at epoch ends, dataloaders with
  ``num_workers=0`` (the pipeline draws from the main process, restored here), or with
  workers and ``persistent_workers=False``: mmengine's ``worker_init_fn`` seeds each worker
  with ``seed + num_workers * rank + worker_id``, the epoch not included, and the workers
  are re-created every epoch, so every epoch's workers start from the same states in both
  runs. Persistent workers keep their states across epochs, which no checkpoint can
  capture: not exact, and this hook warns.
* DDP: each rank restores its own snapshot when the world size is unchanged (rank 0's
  otherwise, with a warning).
* A checkpoint written mid-epoch (``CheckpointHook(by_epoch=False)`` in an epoch loop) or by
  an ``IterBasedTrainLoop`` holds rank 0's state at the save; mmengine restarts the epoch,
  or replays the skipped batches through the pipeline before any hook runs, so those
  resumes are close but not exact.
* ``load_from`` without ``resume`` (a new run from trained weights) restores nothing.
"""
import random
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop, Runner
from mmseg.registry import HOOKS

CHECKPOINT_KEY = 'random_state'

RandomState = Dict[str, object]


def get_random_state() -> RandomState:
    """The states of python ``random``, numpy's global generator and torch's generators.

    numpy's key is stored as an int64 tensor, not an ``ndarray``, so the checkpoint still
    loads under ``torch.load``'s ``weights_only`` default with no new allow-list entry.
    """
    kind, key, pos, has_gauss, cached = np.random.get_state()
    state: RandomState = dict(
        python=random.getstate(),
        numpy=dict(kind=str(kind), key=torch.from_numpy(key.astype(np.int64)),
                   pos=int(pos), has_gauss=int(has_gauss),
                   cached_gaussian=float(cached)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: RandomState) -> None:
    """Set the generators to a :func:`get_random_state` result."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    np_state = state['numpy']
    np.random.set_state(
        (np_state['kind'], np_state['key'].numpy().astype(np.uint32),
         np_state['pos'], np_state['has_gauss'], np_state['cached_gaussian']))
    torch.set_rng_state(state['torch'])
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() and \
            len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the random-number states in checkpoints and restore them on resume.

    Add ``dict(type='RandomStateHook')`` to ``custom_hooks``; it has no arguments. The
    checkpoint gets a ``'random_state'`` entry: ``iter`` (training iterations done at the
    snapshot) and ``states`` (one :func:`get_random_state` per rank).
    """

    priority = 'LOW'  # snapshot before CheckpointHook saves, restore after others' set-up

    def __init__(self) -> None:
        self._snapshots: Optional[List[RandomState]] = None  # every rank's, rank 0 only
        self._snapshot_iter: Optional[int] = None
        self._pending: Optional[RandomState] = None  # this rank's, to restore
        self._pending_iter: Optional[int] = None

    def _set_pending(self, iters: int, state: RandomState) -> None:
        self._pending, self._pending_iter = state, iters

    # -------------------------------------------------------------- snapshot
    def before_train(self, runner: Runner) -> None:
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            return
        workers = getattr(runner.train_dataloader, 'num_workers', 0)
        if workers > 0 and getattr(runner.train_dataloader, 'persistent_workers', False):
            runner.logger.warning(
                'RandomStateHook: train_dataloader has num_workers='
                f'{workers} with persistent_workers=True; the '
                "workers' random states live across epochs and cannot be "
                'saved, so a resumed run will not repeat the augmentation '
                'exactly (set persistent_workers=False for an exact resume)')

    def after_train_epoch(self, runner: Runner) -> None:
        state = get_random_state()
        self._set_pending(runner.iter, state)
        # a collective on every rank: before_save_checkpoint runs on rank 0 only
        snapshots = all_gather_object(state) if get_world_size() > 1 else [state]
        self._snapshots = snapshots if get_rank() == 0 else None
        self._snapshot_iter = runner.iter

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        iters = int(checkpoint['meta']['iter'])
        if self._snapshots is not None and self._snapshot_iter == iters:
            states = self._snapshots
        else:  # mid-epoch or iteration-based save: rank 0's state now
            states = [get_random_state()]
            self._set_pending(iters, states[0])
        checkpoint[CHECKPOINT_KEY] = dict(iter=iters, states=states)

    # --------------------------------------------------------------- restore
    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        saved = checkpoint.get(CHECKPOINT_KEY)
        if saved is None:
            runner.logger.warning(
                'RandomStateHook: the checkpoint has no random_state (written '
                'without this hook); the random streams restart from the seed')
            return
        states = saved['states']
        world, rank = get_world_size(), get_rank()
        if len(states) != world:
            runner.logger.warning(
                f'RandomStateHook: the checkpoint holds the random states of '
                f'{len(states)} process(es), this run has {world}; every rank '
                "takes rank 0's, so the resume is not exact")
        self._set_pending(int(saved['iter']),
                          states[rank if len(states) == world else 0])

    def _restore(self, runner: Runner) -> None:
        if self._pending is None:
            return
        if runner.iter == self._pending_iter:
            set_random_state(self._pending)
        else:  # load_from: a new run from trained weights, not a resume
            runner.logger.info(
                'RandomStateHook: not restoring the random state of iteration '
                f'{self._pending_iter} at iteration {runner.iter}')
        self._pending = self._pending_iter = None

    def before_train_epoch(self, runner: Runner) -> None:
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            self._restore(runner)

    def before_train_iter(self, runner: Runner, batch_idx: int,
                          data_batch=None) -> None:
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            self._restore(runner)


__all__ = ['RandomStateHook', 'get_random_state', 'set_random_state']
