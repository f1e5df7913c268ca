from .arch_update_hook import ArchUpdateHook

__all__ = ['ArchUpdateHook']
