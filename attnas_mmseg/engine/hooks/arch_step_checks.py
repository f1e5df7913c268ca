"""What :class:`ArchUpdateHook` needs of a run before its first arch step."""
from typing import Any

import torch.nn as nn

from ...search.space.search_modes import check_arch_step, searched_modes
from ..optimizers.search_optim_wrapper import SearchOptimWrapperDict


def check_arch_step_run(runner: Any, model: nn.Module) -> None:
    """Searched modules in modes that make arch steps (not ``'uniform'``,
    :func:`check_arch_step`) and the two optimisers of
    ``constructor='AttNASOptimWrapperConstructor'``."""
    check_arch_step(searched_modes(model), True,
                    'custom_hooks: ArchUpdateHook')
    if not isinstance(runner.optim_wrapper, SearchOptimWrapperDict):
        raise TypeError(
            'optim_wrapper: ArchUpdateHook needs the two optimisers of '
            "constructor='AttNASOptimWrapperConstructor', got "
            f'{type(runner.optim_wrapper).__name__}')
