"""Disjoint weight/architecture halves of one training set (AttNAS §4.2)."""
import copy
import math
from typing import Union

import numpy as np
from mmengine.dataset import BaseDataset, force_full_init

from mmseg.registry import DATASETS

PARTS = ('weight', 'arch')


@DATASETS.register_module()
class HalfSplitDataset:
    """One of two disjoint, seeded parts of a dataset.

    AttNAS searches on "half of the images in Cityscapes training set ... as training
    set and the other half as validation set" (§4.2): network weights are fitted on
    ``part='weight'`` and the architecture parameters on ``part='arch'``. Indices
    ``0..N-1`` are permuted with ``numpy.random.default_rng(seed)``; the first
    ``ceil(ratio * N)`` go to ``'weight'``, the rest to ``'arch'``. Two wrappers with
    the same ``dataset``, ``seed`` and ``ratio`` therefore partition it exactly.

    Args:
        dataset (BaseDataset | dict): The dataset to split, or its config.
        part (str): ``'weight'`` or ``'arch'``.
        seed (int): Seed of the permutation. Defaults to 0.
        ratio (float): Fraction in (0, 1) given to ``'weight'``. Defaults to 0.5.
        lazy_init (bool): Defer loading the wrapped annotations until
            :meth:`full_init`. Defaults to False.
    """

    def __init__(self,
                 dataset: Union[BaseDataset, dict],
                 part: str,
                 seed: int = 0,
                 ratio: float = 0.5,
                 lazy_init: bool = False) -> None:
        if part not in PARTS:
            raise ValueError(f'part must be one of {PARTS}, got {part!r}')
        if not 0 < ratio < 1:
            raise ValueError(f'ratio must be in (0, 1), got {ratio!r}')
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        elif not isinstance(dataset, BaseDataset):
            raise TypeError('dataset must be a BaseDataset or a config dict, '
                            f'got {type(dataset)}')
        self.dataset = dataset
        self.part = part
        self.seed = seed
        self.ratio = ratio
        self._metainfo = dataset.metainfo
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's meta information (a copy)."""
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        """Load the wrapped dataset and draw this part's indices."""
        if self._fully_initialized:
            return
        self.dataset.full_init()
        num = len(self.dataset)
        order = np.random.default_rng(self.seed).permutation(num)
        cut = math.ceil(self.ratio * num)
        self.indices = order[:cut] if self.part == 'weight' else order[cut:]
        self._fully_initialized = True

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """Data info of the ``idx``-th sample of this part."""
        return self.dataset.get_data_info(int(self.indices[idx]))

    def __getitem__(self, idx: int) -> dict:
        self.full_init()
        return self.dataset[int(self.indices[idx])]

    @force_full_init
    def __len__(self) -> int:
        return len(self.indices)
