"""MobileNetV2 inverted-residual block with a configurable depthwise kernel.

MMSeg's ``InvertedResidual`` fixes the depthwise kernel at 3x3 and its
``InvertedResidualV3`` has no dilation; the AttNAS backbone search space (§3.2)
needs both a kernel size in {3, 5} and MMSeg's dilation semantics (the dilated
output-stride-8/16 settings), so this block adds ``kernel_size`` to MMSeg's
MobileNetV2 block and keeps everything else identical.
"""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from torch.utils import checkpoint as cp


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise (k x k, stride, dilation) -> project (1x1).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        stride: Stride of the depthwise convolution (1 or 2).
        expand_ratio: Hidden width = ``round(in_channels * expand_ratio)``;
            with 1 the expansion convolution is omitted, as in MobileNetV2.
        kernel_size: Depthwise kernel size (odd).
        dilation: Dilation of the depthwise convolution.
        conv_cfg / norm_cfg / act_cfg: As in MMSeg's ``InvertedResidual``.
        with_cp: Gradient checkpointing of the block.

    Shapes:
        x: (B, in_channels, H, W) -> (B, out_channels, H / stride, W / stride)
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int,
                 expand_ratio: int,
                 kernel_size: int = 3,
                 dilation: int = 1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU6'),
                 with_cp: bool = False) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride}')
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        self.stride = stride
        self.with_cp = with_cp
        self.use_res_connect = stride == 1 and in_channels == out_channels
        hidden_dim = int(round(in_channels * expand_ratio))
        layers = []
        if expand_ratio != 1:
            layers.append(
                ConvModule(in_channels, hidden_dim, 1, conv_cfg=conv_cfg,
                           norm_cfg=norm_cfg, act_cfg=act_cfg))
        layers += [
            ConvModule(hidden_dim, hidden_dim, kernel_size, stride=stride,
                       padding=dilation * (kernel_size // 2),
                       dilation=dilation, groups=hidden_dim,
                       conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                       act_cfg=act_cfg),
            ConvModule(hidden_dim, out_channels, 1, conv_cfg=conv_cfg,
                       norm_cfg=norm_cfg, act_cfg=None),
        ]
        self.conv = nn.Sequential(*layers)

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_res_connect else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._inner_forward, x, use_reentrant=False)
        return self._inner_forward(x)
