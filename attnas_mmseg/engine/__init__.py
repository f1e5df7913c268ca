from .config_checks import (ConfigCheckError, DatasetNotFoundError,
                            check_config)
from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403
from .resumable_sampler import ResumableSampler

__all__ = [
    'ConfigCheckError', 'DatasetNotFoundError', 'ResumableSampler',
    'check_config'
]
