"""Distributed runs on machines without CUDA (gloo), e.g. CPU-only torch.

mmengine 0.10.7's ``pytorch`` launcher calls ``torch.cuda.set_device``
unconditionally, which a CPU-only torch build lacks. mmengine skips its own
initialisation when a process group already exists, so on a machine without
CUDA the tools initialise a gloo one here first (nccl, MMSeg's default, needs
GPUs). With CUDA this does nothing and mmengine's path runs unchanged.
"""
import os

import torch
import torch.distributed as torch_dist


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
