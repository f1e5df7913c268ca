"""Distributed runs on machines without CUDA (gloo), e.g. CPU-only torch.

``bash tools/dist_train.sh CONFIG 2`` with a config written as MMSeg's (no
``model_wrapper_cfg``, ``SyncBN`` layers) meets three GPU assumptions in
mmengine 0.10.7 and torch:

1. mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device`` and defaults
   to nccl. mmengine skips its own initialisation when a process group already
   exists, so :func:`init_cpu_dist` creates a gloo one first.
2. ``Runner.wrap_model`` builds ``MMDistributedDataParallel(device_ids=
   [LOCAL_RANK])``, which DDP refuses for a CPU module ("device_ids ... got
   device_ids [0]"). :func:`set_cpu_model_wrapper` gives the config a
   :class:`CPUDistributedDataParallel` (``device_ids=None``) when it names no
   wrapper, or sets ``device_ids=None`` on the DDP wrapper it names.
3. torch's ``SyncBatchNorm`` only runs on GPUs. :class:`CPUDistributedDataParallel`
   turns SyncBN layers back into BN, so each rank keeps BN statistics of its
   own batches (``broadcast_buffers=False``, as mmengine's GPU default); the
   checkpoint, written by rank 0, holds rank 0's (docs/resume_and_dist.md).

At the end of a run :func:`teardown_cpu_dist` lets gloo's worker threads
finish before the interpreter exits; without it a rank can abort ("terminate
called without an active exception").

With CUDA none of this applies and mmengine's path runs unchanged.
"""
import os
import time

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS
from torch.nn.parallel import DistributedDataParallel

CPU_WRAPPER = 'CPUDistributedDataParallel'


def _without_cuda(launcher: str) -> bool:
    return launcher != 'none' and not torch.cuda.is_available()


def init_cpu_dist(launcher: str) -> bool:
    """Initialise ``torch.distributed`` for ``launcher='pytorch'`` on CPU.

    Returns True if a process group was created here.
    """
    if launcher != 'pytorch' or torch.cuda.is_available() or \
            torch_dist.is_initialized():
        return False
    torch_dist.init_process_group(
        backend='gloo', rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']))
    return True


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for processes without a GPU.

    Args:
        module: The model; its SyncBN layers become BN (torch's SyncBN needs
            GPUs), so BN statistics are per rank.
        device_ids: Must be None (a CPU module has no device ids).
        **kwargs: Passed to ``MMDistributedDataParallel`` (e.g.
            ``broadcast_buffers``, ``find_unused_parameters``).
    """

    def __init__(self, module: torch.nn.Module, device_ids=None,
                 **kwargs) -> None:
        if device_ids is not None:
            raise ValueError(f'device_ids must be None for {CPU_WRAPPER} (a CPU '
                             f'module has no device ids), got {device_ids!r}')
        # torch's and mmcv's SyncBatchNorm, as revert_sync_batchnorm handles
        if any(type(m).__name__ == 'SyncBatchNorm' for m in module.modules()):
            print_log(
                f'{CPU_WRAPPER}: SyncBN layers reverted to BN (SyncBN needs '
                'GPUs); BN statistics are per rank and the checkpoint holds '
                "rank 0's", logger='current')
        super().__init__(module=revert_sync_batchnorm(module), device_ids=None,
                         **kwargs)


def set_cpu_model_wrapper(cfg: Config) -> None:
    """Make ``cfg.model_wrapper_cfg`` work without CUDA (in place).

    Does nothing with CUDA or without a launcher. Without a wrapper in the
    config: :class:`CPUDistributedDataParallel` with mmengine's defaults
    (``broadcast_buffers=False``, ``find_unused_parameters`` from the config).
    With a DDP wrapper that gives no ``device_ids``: ``device_ids=None``.
    """
    if not _without_cuda(cfg.get('launcher', 'none')):
        return
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        cfg.model_wrapper_cfg = dict(
            type=CPU_WRAPPER, device_ids=None, broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
        return
    wrapper_type = wrapper.get('type', 'MMDistributedDataParallel')
    if isinstance(wrapper_type, str):
        wrapper_type = MODEL_WRAPPERS.get(wrapper_type)
    if isinstance(wrapper_type, type) and \
            issubclass(wrapper_type, DistributedDataParallel):
        wrapper.setdefault('device_ids', None)


def setup_cpu_dist(cfg: Config) -> bool:
    """:func:`set_cpu_model_wrapper` then :func:`init_cpu_dist`; the tools call this.

    Returns True if a gloo process group was created here.
    """
    set_cpu_model_wrapper(cfg)
    return init_cpu_dist(cfg.get('launcher', 'none'))


def teardown_cpu_dist(timeout_s: float = 60.0) -> None:
    """End a run on the gloo group :func:`init_cpu_dist` created. Collective:
    every rank calls it after a run that succeeded, never after an error
    (another rank may be inside a collective this one would pair with).

    gloo's worker threads free a finished collective after its caller moved
    on; freeing a tensor Python has dropped takes the GIL, which aborts the
    process once the interpreter is finalizing (pytorch#190489). A last
    collective on a tensor held here, waited for until the worker lets go of
    it, lets them take the GIL in time. Not ``barrier()``: its work holds the
    collectives before it and frees them last. ``destroy_process_group``
    alone joins the workers only when no DDP wrapper keeps the group alive.
    """
    if not torch_dist.is_initialized():
        return
    drain = torch.zeros(1)
    torch_dist.all_reduce(drain)
    deadline = time.monotonic() + timeout_s
    while drain._use_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.001)  # without the GIL: a worker waiting for it gets it
    torch_dist.destroy_process_group()
