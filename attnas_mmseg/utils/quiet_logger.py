"""Silencing mmengine's current logger below WARNING for a block (its
per-parameter ``init_weights`` table, ``IoUMetric``'s per-class table)."""
import contextlib
import logging
from typing import Iterator

from mmengine.logging import MMLogger


@contextlib.contextmanager
def quiet_logger() -> Iterator[None]:
    """mmengine's current logger at WARNING inside, its level restored."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
