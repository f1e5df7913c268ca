"""Disjoint weight/architecture halves of one training set (AttNAS §4.2)."""
import copy
import math
from typing import Any, Iterator, Optional, Union

import numpy as np
from mmengine.dataset import (BaseDataset, ClassBalancedDataset,
                              RepeatDataset, force_full_init)

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
    the same ``dataset``, ``seed`` and ``ratio`` therefore partition it exactly;
    with different seeds or ratios they overlap, which a search refuses
    (:func:`check_disjoint_halves`, called by ``ArchUpdateHook``).

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


def _image_paths(dataset: Any) -> Optional[Iterator[str]]:
    """The ``img_path`` of every sample (None if the dataset cannot say);
    repeating wrappers are looked through: they add no image."""
    while isinstance(dataset, (RepeatDataset, ClassBalancedDataset)):
        dataset = dataset.dataset
    if not hasattr(dataset, 'get_data_info'):
        return None
    return (dataset.get_data_info(i).get('img_path')
            for i in range(len(dataset)))


def _describe(dataset: Any) -> str:
    if isinstance(dataset, HalfSplitDataset):
        return (f"HalfSplitDataset(part={dataset.part!r}, seed={dataset.seed}, "
                f'ratio={dataset.ratio})')
    return type(dataset).__name__


def check_disjoint_halves(weight: Any, arch: Any, weight_field: str,
                          arch_field: str) -> None:
    """Refuse a search whose arch data shares an image with its weight data.

    §4.2 fits the weights on one half and (alpha, beta) on the other; a shared
    image tunes the architecture on images its weights were trained on, with
    no error anywhere. Two ``HalfSplitDataset`` parts share images exactly when
    their seeds, ratios or wrapped datasets differ: the message names both.
    Datasets that cannot list their images (no ``get_data_info``) pass.
    """
    weight_paths, arch_paths = _image_paths(weight), _image_paths(arch)
    if weight_paths is None or arch_paths is None:
        return
    weight_set = {p for p in weight_paths if p is not None}
    arch_set = {p for p in arch_paths if p is not None}
    shared = sorted(weight_set & arch_set)
    if not shared:
        return
    fix = ('give both parts one seed and one ratio over the same dataset, '
           "e.g. HalfSplitDataset(part='weight', seed=0) and "
           "HalfSplitDataset(part='arch', seed=0)")
    if isinstance(weight, HalfSplitDataset) and \
            isinstance(arch, HalfSplitDataset) and \
            weight.seed != arch.seed:
        fix = (f'the seeds differ ({weight_field}.seed={weight.seed}, '
               f'{arch_field}.seed={arch.seed}) and each seed draws its own '
               f'split; set both to one seed')
    raise ValueError(
        f'{weight_field} ({_describe(weight)}, {len(weight_set)} images) and '
        f'{arch_field} ({_describe(arch)}, {len(arch_set)} images) share '
        f'{len(shared)} image(s), e.g. {shared[0]!r}: the search would tune '
        'alpha/beta on images its weights are trained on (§4.2 keeps the two '
        f'halves disjoint); {fix}')
