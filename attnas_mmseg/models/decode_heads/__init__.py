from .attnas_head import AttNASHead

__all__ = ['AttNASHead']
