"""BN folded into the preceding convolution, as deployment runs a network.

In eval mode a BN after a convolution is an affine map per channel, so it can
be folded into that convolution's weight and bias (mmcv's ``fuse_conv_bn``,
what MMDetection's and MMSeg's users pass ``--fuse-conv-bn`` for). The output
is unchanged up to float rounding; eager PyTorch then runs one kernel instead
of two and skips a full read and write of the activation. torch's ONNX
exporter (eval mode) and onnxruntime fold BN on their own, so folding matters
for eager PyTorch and for what a latency table prices (``docs/latency.md``).
"""
import copy

import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm


def fuse_conv_bn(module: nn.Module, inplace: bool = False) -> nn.Module:
    """``module`` in eval mode with every conv->BN pair folded (mmcv).

    Args:
        module: Any ``nn.Module`` (a segmentor, a single op).
        inplace: Fold into ``module`` itself; by default a deep copy is
            folded and ``module`` is left as it was.

    Returns:
        The folded module, in eval mode. A BN that does not directly follow
        a convolution in its parent (none does in this project) stays.
    """
    from mmcv.cnn import fuse_conv_bn as mmcv_fuse_conv_bn
    fused = module if inplace else copy.deepcopy(module)
    fused.eval()  # not chained: some MMSeg modules' train() returns None
    return mmcv_fuse_conv_bn(fused)


def count_batchnorms(module: nn.Module) -> int:
    """Number of BN layers left in ``module`` (0 after a complete fold)."""
    return sum(isinstance(m, _BatchNorm) for m in module.modules())
