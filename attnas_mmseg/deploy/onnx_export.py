"""Export a segmentor's dense logits to ONNX and check them with onnxruntime.

The exported graph is ``backbone -> (neck) -> decode head -> bilinear resize to
the input``, i.e. MMSeg's ``EncoderDecoder.encode_decode`` without the data
preprocessor: its input is the *normalised* image (B, 3, H, W) (mean/std and
BGR->RGB already applied, as ``SegDataPreProcessor`` does), its output the
logits (B, num_classes, H, W). Shapes are static: one file per input size.

The exporter is torch's TorchScript-based one (``dynamo=False``, opset 17).
torch 2.13 defaults to the ``torch.export``-based exporter, which needs the
``onnxscript`` package that this stack does not install. The adaptive pools
that do not divide the feature map (Att4/5/11/12, e.g. pool 6 or 9 on the
64x128 map of a 1024x2048 input) export through
:class:`attnas_mmseg.ops.AdaptiveAvgPool2d`'s matrix form.
"""
import os
import warnings
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmseg.models.utils import resize
from torch.nn.modules.batchnorm import _BatchNorm


DEFAULT_OPSET = 17
INPUT_NAME, OUTPUT_NAME = 'input', 'logits'


class DenseLogits(nn.Module):
    """A segmentor's dense forward: x (B, 3, H, W) -> (B, num_classes, H, W).

    Args:
        segmentor: An MMSeg ``EncoderDecoder`` (any backbone/neck/decode
            head); auxiliary heads are not used at inference and are ignored.
    """

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seg = self.segmentor
        logits = seg.decode_head(seg.extract_feat(x))
        return resize(logits, size=x.shape[2:], mode='bilinear',
                      align_corners=seg.decode_head.align_corners)


def calibrate_bn(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Set every BN's running statistics to those of the batch ``x``.

    A freshly initialised MobileNetV2 in eval mode (running mean 0, var 1)
    shrinks its activations ~10x per block, so its logits are ~1e-8 and an
    export check against them checks nothing (and tiny values can hit slow
    denormal paths in benchmarks). One train-mode forward with cumulative
    averaging makes every BN normalise ``x``'s activations to O(1). Only for
    untrained models; returns ``model`` in eval mode.
    """
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    try:
        with torch.no_grad():
            DenseLogits(model)(x)
    finally:
        for bn, momentum in zip(bns, momenta):
            bn.momentum = momentum
        model.eval()
    return model


def export_module_onnx(module: nn.Module,
                       inputs: Sequence[torch.Tensor],
                       out: Union[str, Path],
                       input_names: Optional[Sequence[str]] = None,
                       output_names: Optional[Sequence[str]] = None,
                       opset: int = DEFAULT_OPSET) -> Path:
    """Export ``module(*inputs)`` (static shapes) to ``out``, replacing it.

    The file is written next to ``out`` first and moved into place once
    complete. Used for whole networks (:func:`export_onnx`) and for single
    ops timed alone (:mod:`attnas_mmseg.deploy.timing`).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + '.tmp')
    with warnings.catch_warnings():
        # Static-shape export: shapes read as Python ints are meant to be
        # constants, which is all these warnings report.
        warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
        warnings.filterwarnings('ignore', category=DeprecationWarning,
                                message='.*legacy TorchScript-based ONNX')
        with torch.no_grad():
            module.eval()
            torch.onnx.export(module, tuple(inputs), str(tmp),
                              opset_version=opset,
                              input_names=list(input_names or []) or None,
                              output_names=list(output_names or []) or None,
                              do_constant_folding=True, dynamo=False)
    os.replace(tmp, out)
    return out


def export_onnx(model: nn.Module,
                out: Union[str, Path],
                shape: Sequence[int],
                batch_size: int = 1,
                opset: int = DEFAULT_OPSET,
                overwrite: bool = False) -> Path:
    """Export ``DenseLogits(model)`` at (batch_size, 3, *shape) to ``out``.

    Refuses to replace an existing file unless ``overwrite``. The model is
    exported as given: fold BN first (:func:`fuse_conv_bn`) to export what
    is deployed, as ``tools/export_onnx.py`` does by default.
    """
    out = Path(out)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f'shape must be (H, W) > 0, got {tuple(shape)}')
    if out.exists() and not overwrite:
        raise FileExistsError(f'{out} exists; pass --overwrite to replace it')
    x = torch.zeros(batch_size, 3, *shape)
    return export_module_onnx(DenseLogits(model), [x], out,
                              input_names=[INPUT_NAME],
                              output_names=[OUTPUT_NAME], opset=opset)


def onnx_session(path: Union[str, Path], device: str = 'cpu',
                 threads: Optional[int] = None):
    """An onnxruntime session on ``device`` ('cpu' or 'cuda')."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    providers = ['CPUExecutionProvider']
    if device.startswith('cuda'):
        if 'CUDAExecutionProvider' not in ort.get_available_providers():
            raise RuntimeError('device: onnxruntime has no '
                               'CUDAExecutionProvider (install '
                               'onnxruntime-gpu)')
        providers.insert(0, 'CUDAExecutionProvider')
    return ort.InferenceSession(str(path), sess_options=options,
                                providers=providers)


def check_onnx(model: nn.Module,
               path: Union[str, Path],
               x: Optional[torch.Tensor] = None,
               shape: Optional[Sequence[int]] = None,
               seed: int = 0) -> Tuple[float, float]:
    """Run the ONNX file and PyTorch on the same input.

    Args:
        x: The input; if None, a seeded N(0, 1) image of ``shape`` (what a
            normalised image looks like).

    Returns:
        (max abs difference, max abs PyTorch logit), for a relative reading.
    """
    if x is None:
        if shape is None:
            raise ValueError('check_onnx: give x or shape')
        x = torch.randn(1, 3, *shape,
                        generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        ref = DenseLogits(model).eval()(x).numpy()
    session = onnx_session(path)
    got = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
    if got.shape != ref.shape:
        raise RuntimeError(f'onnx output shape {got.shape} != PyTorch '
                           f'{ref.shape}')
    return float(np.abs(got - ref).max()), float(np.abs(ref).max())
