from .backbones import *  # noqa: F401,F403
from .builder import apply_arch, build_segmentor, extra_candidates
from .decode_heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403

__all__ = ['apply_arch', 'build_segmentor', 'extra_candidates']
