"""AttNAS for MMSegmentation 1.x.

Importing this package registers everything in MMSeg's registries: the searchable
backbone, the attention head, the search hook and optimiser constructor, and the
datasets. ``attnas_mmseg.utils`` comes first: it makes checkpoints written by an
mmengine ``Runner`` loadable under torch's ``weights_only`` default.
"""
from . import utils  # noqa: F401  (must precede anything that loads checkpoints)
from . import datasets, engine, export, models, search  # noqa: F401

__version__ = '0.1.0'
