"""Python's, numpy's and torch's global generators seeded for a block and
restored after it (data pipelines' random transforms and dropout draw from
them), so a draw inside is the same whatever ran before."""
import contextlib
import random
from typing import Iterator

import numpy as np
import torch


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """The three CPU generators seeded with ``seed`` inside, restored after.
    """
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
