from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403
from .resumable_sampler import ResumableSampler

__all__ = ['ResumableSampler']
