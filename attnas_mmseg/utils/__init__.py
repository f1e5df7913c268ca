"""Utilities shared by the rest of the package.

Importing this package registers the globals that mmengine ``Runner`` checkpoints need under
torch's ``weights_only`` loading (see :mod:`.checkpoint_compat`).
"""
from .checkpoint_compat import SAFE_GLOBALS, register_checkpoint_safe_globals
from .cpu_dist import (CPUDistributedDataParallel, init_cpu_dist,
                       set_cpu_model_wrapper, setup_cpu_dist)

register_checkpoint_safe_globals()

__all__ = [
    'SAFE_GLOBALS', 'CPUDistributedDataParallel', 'init_cpu_dist',
    'register_checkpoint_safe_globals', 'set_cpu_model_wrapper', 'setup_cpu_dist'
]
