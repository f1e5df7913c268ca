"""Fast PyTorch eager inference: BN folded and the channels_last memory format.

On a CPU, oneDNN runs convolutions, depthwise ones above all, much faster on
NHWC (channels_last) tensors than on NCHW (issue 19 measured AttNAS-S 553 ->
334 ms at 512x1024, 1 thread, BN folded; ``docs/benchmarks.md``). Outputs are
those of the plain model up to float rounding (tested to 1e-4). For MMSeg's
``inference_model``::

    model = init_model(config, checkpoint, device='cpu')
    model = prepare_for_inference(model)   # fold BN, channels_last
    result = inference_model(model, 'demo.png')

and ``prepare_for_inference(inferencer.model, inplace=True)`` for an
``MMSegInferencer``.
"""
import copy
from typing import Any, Dict, Tuple

import torch
import torch.nn as nn

from .fuse import fuse_conv_bn

#: name -> torch memory format of 4-D tensors; the first is the default.
MEMORY_FORMATS = {'channels_last': torch.channels_last,
                  'contiguous': torch.contiguous_format}
DEFAULT_MEMORY_FORMAT = 'channels_last'
_ATTR = '_attnas_input_memory_format'


def memory_format_of(name: str) -> torch.memory_format:
    """The torch memory format called ``name`` (a key of MEMORY_FORMATS)."""
    if name not in MEMORY_FORMATS:
        raise ValueError(f'memory_format must be one of '
                         f'{list(MEMORY_FORMATS)}, got {name!r}')
    return MEMORY_FORMATS[name]


def to_memory_format(value: Any, memory_format: str) -> Any:
    """``value`` with every 4-D tensor in it (also in lists, tuples and
    dicts) in ``memory_format``; anything else as it is."""
    fmt = memory_format_of(memory_format)
    if isinstance(value, torch.Tensor):
        return value.contiguous(memory_format=fmt) if value.dim() == 4 \
            else value
    if isinstance(value, (list, tuple)):
        return type(value)(to_memory_format(v, memory_format) for v in value)
    if isinstance(value, dict):
        return {k: to_memory_format(v, memory_format)
                for k, v in value.items()}
    return value


def _inputs_to_format(module: nn.Module, args: Tuple[Any, ...],
                      kwargs: Dict[str, Any]) -> Tuple[Tuple, Dict]:
    fmt = getattr(module, _ATTR)
    return to_memory_format(args, fmt), to_memory_format(kwargs, fmt)


def prepare_for_inference(model: nn.Module,
                          memory_format: str = DEFAULT_MEMORY_FORMAT,
                          fuse: bool = True,
                          inplace: bool = False) -> nn.Module:
    """``model`` in eval mode, BN folded and its 4-D weights and inputs in
    ``memory_format``: the fastest eager setting measured here.

    Args:
        model: A segmentor (``EncoderDecoder``, e.g. from ``init_model``),
            :class:`~.onnx_export.DenseLogits` or any single module.
        memory_format: 'channels_last' (default) or 'contiguous' (NCHW, as
            built).
        fuse: Fold every conv->BN pair (:func:`~.fuse.fuse_conv_bn`).
        inplace: Change ``model`` itself; by default a deep copy.

    Returns:
        The prepared model. A forward pre-hook converts every 4-D tensor
        argument of its ``forward`` (the image batch of ``inference_model``,
        ``MMSegInferencer`` and ``model(x)``) to ``memory_format``; outputs
        follow the weights' format (``.contiguous()`` gives NCHW back).
    """
    fmt = memory_format_of(memory_format)
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()  # not chained: some MMSeg modules' train() returns None
    if fuse:
        fuse_conv_bn(model, inplace=True)
    model.to(memory_format=fmt)
    if not hasattr(model, _ATTR):  # once, however often it is prepared
        model.register_forward_pre_hook(_inputs_to_format, with_kwargs=True)
    setattr(model, _ATTR, memory_format)
    return model
