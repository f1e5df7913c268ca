from .arch_update_hook import ArchUpdateHook
from .random_state_hook import RandomStateHook

__all__ = ['ArchUpdateHook', 'RandomStateHook']
