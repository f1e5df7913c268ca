from .search_optim_wrapper import (AttNASOptimWrapperConstructor,
                                   SearchOptimWrapperDict)

__all__ = ['AttNASOptimWrapperConstructor', 'SearchOptimWrapperDict']
