"""Make mmengine ``Runner`` checkpoints loadable under ``torch.load``'s ``weights_only`` default.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True`` and refuses every pickled
global that is not allow-listed. mmengine 0.10.7 calls ``torch.load`` without the argument
(``mmengine.runner.checkpoint.load_from_local``, used by ``Runner.resume``, ``load_from`` and
``mmseg.apis.init_model``), and a Runner checkpoint holds more than tensors: its
``message_hub`` keeps the logged scalars in ``HistoryBuffer`` objects backed by numpy arrays,
and runtime values such as ``eta`` or ``best_score`` as numpy scalars. Resuming therefore fails
with ``Unsupported global``.

Instead of turning ``weights_only`` off (arbitrary code execution on a hostile file) or patching
``torch.load``/site-packages, :func:`register_checkpoint_safe_globals` adds the few globals that
a Runner checkpoint really contains to torch's allow-list. Each entry was found by saving a
checkpoint with a real Runner (tiny model, ``IterBasedTrainLoop``, ``CheckpointHook``) and
loading it with a plain ``torch.load``, which names the next missing global on each failure;
then the same with an MMSeg ``EncoderDecoder`` trained by ``tools/train.py`` with a validation
loop and ``CheckpointHook(save_best='mIoU')``:

=========================================  ===================================================
entry                                      error it fixes / where it occurs
=========================================  ===================================================
``mmengine.logging.HistoryBuffer``         ``Unsupported global: GLOBAL mmengine.logging.
                                           history_buffer.HistoryBuffer``: every
                                           ``message_hub['log_scalars']`` value.
``numpy._core.multiarray._reconstruct``    ``Unsupported global: GLOBAL numpy._core.multiarray.
(also registered as ``numpy.core...``)     _reconstruct``: how an ``ndarray`` (the buffers'
                                           ``_log_history``/``_count_history``) is rebuilt.
                                           numpy < 2 writes the ``numpy.core`` path, so both
                                           names map to the same function.
``numpy.ndarray``                          ``Unsupported global: GLOBAL numpy.ndarray``: the
                                           class ``_reconstruct`` is called with.
``numpy.dtype``                            ``Unsupported global: GLOBAL numpy.dtype``: an array's
                                           or scalar's dtype is rebuilt as ``dtype('f8', ...)``.
``numpy.dtypes.Float64DType``              ``Can only build ... types allowlisted via
``numpy.dtypes.Int64DType``                add_safe_globals, but got <class 'numpy.dtypes.
``numpy.dtypes.Float32DType``              Float64DType'>`` (then ``Float32DType``):
                                           ``dtype.__setstate__`` only runs for allow-listed
                                           concrete dtype classes. float64: the buffers' value
                                           history and ``runtime_info['eta']``; int64: their
                                           count history; float32: ``runtime_info
                                           ['best_score']`` of ``CheckpointHook(save_best=
                                           'mIoU')``, since MMSeg's ``IoUMetric`` returns
                                           ``np.float32`` scores.
``numpy._core.multiarray.scalar``          ``Unsupported global: GLOBAL numpy._core.multiarray.
(also registered as ``numpy.core...``)     scalar``: the numpy scalars ``eta`` and
                                           ``best_score``.
``builtins.getattr`` ->                    ``Unsupported global: GLOBAL getattr``:
:func:`_history_buffer_statistic`          ``HistoryBuffer.__getstate__`` stores its
                                           ``statistics_methods`` (``HistoryBuffer.min`` ...),
                                           which pickle protocol 2 writes as
                                           ``getattr(HistoryBuffer, 'min')``. The real
                                           ``getattr`` would let a file reach any attribute of
                                           any allow-listed object, so the path is mapped to a
                                           stand-in that only resolves those four methods.
=========================================  ===================================================

Everything else in a Runner checkpoint (tensors, ``OrderedDict``, ``collections.Counter`` of a
``MultiStepLR``, plain containers) is already on torch's default allow-list.
"""
import pickle
from typing import Any, Callable, List, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

# numpy 2 moved ``numpy.core`` to ``numpy._core``; the functions are the same objects, only the
# module path written into the pickle differs.
if hasattr(np, '_core') and int(np.__version__.split('.')[0]) >= 2:
    _multiarray = np._core.multiarray
else:
    _multiarray = np.core.multiarray

# The statistics ``HistoryBuffer._set_default_statistics`` registers (mmengine 0.10.7).
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_statistic(obj: Any, name: str) -> Callable:
    """Resolve ``getattr(HistoryBuffer, name)`` for the default statistics and nothing else.

    Registered under the pickle path ``builtins.getattr``; see the module docstring.
    """
    if obj is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'weights_only load: getattr({obj!r}, {name!r}) is not allowed; only '
        f'getattr(HistoryBuffer, name) with name in {HISTORY_BUFFER_STATISTICS}.')


SafeGlobal = Union[Callable, Tuple[Callable, str]]

SAFE_GLOBALS: List[SafeGlobal] = [
    HistoryBuffer,
    np.ndarray,
    np.dtype,
    type(np.dtype(np.float64)),  # numpy.dtypes.Float64DType
    type(np.dtype(np.int64)),  # numpy.dtypes.Int64DType
    type(np.dtype(np.float32)),  # numpy.dtypes.Float32DType
    (_multiarray._reconstruct, 'numpy._core.multiarray._reconstruct'),
    (_multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
    (_multiarray.scalar, 'numpy._core.multiarray.scalar'),
    (_multiarray.scalar, 'numpy.core.multiarray.scalar'),
    (_history_buffer_statistic, 'builtins.getattr'),
]


def register_checkpoint_safe_globals() -> None:
    """Add :data:`SAFE_GLOBALS` to torch's ``weights_only`` allow-list (idempotent).

    torch keeps the allow-list as a set, so repeated calls add nothing. Before torch 2.6
    ``torch.load`` did not default to ``weights_only=True`` (and the ``(global, path)`` form is
    not understood everywhere), so older versions are left alone.
    """
    if torch.__version__ < '2.6':
        return
    torch.serialization.add_safe_globals(SAFE_GLOBALS)
