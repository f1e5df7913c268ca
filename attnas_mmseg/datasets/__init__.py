"""Datasets MMSeg lacks: CamVid, the search-time weight/arch split, synthetic data;
loading transforms that name a corrupt file."""
from .camvid import CamVidDataset
from .checked_loading import CheckedLoadAnnotations, CheckedLoadImageFromFile
from .split import HalfSplitDataset

# ``synthetic`` registers nothing and is also a ``python -m`` entry point: importing it
# here would make runpy warn that it runs a module already in ``sys.modules``.
__all__ = [
    'CamVidDataset', 'CheckedLoadAnnotations', 'CheckedLoadImageFromFile',
    'HalfSplitDataset', 'synthetic'
]
