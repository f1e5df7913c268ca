"""A ``DefaultSampler`` that can resume in the middle of an epoch."""
from typing import Iterator

from mmengine.dataset import DefaultSampler
from mmseg.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class ResumableSampler(DefaultSampler):
    """mmengine's ``DefaultSampler`` plus :meth:`skip`.

    The arch half of the search data is consumed one batch per arch step, not
    in step with the runner's epochs; to resume a search exactly, the hook
    records (epoch, batches consumed) and, after loading, skips that many
    samples of that epoch's order *without loading them*.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._skip = 0

    def skip(self, num_samples: int) -> None:
        """Drop the first ``num_samples`` indices of the next iteration."""
        if num_samples < 0:
            raise ValueError(f'num_samples must be >= 0, got {num_samples}')
        self._skip = num_samples

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())[self._skip:]
        self._skip = 0
        return iter(indices)
