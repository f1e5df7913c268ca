"""The five kinds of attention candidate of Table 1 (Att1-Att13).

Every candidate maps ``(B, C, H, W) -> (B, C, H, W)``, so any selection of them
can be stacked in layers (§3.2). Which concrete candidate is Att1..Att13 is
declared once, in :mod:`attnas_mmseg.search.space.candidates`.

Layer choices follow Table 1's FLOPs column under the paper's counter (see
``docs/design.md``): pooled branches are conv1x1-BN-ReLU, atrous branches are
conv-with-bias + ReLU without BN, strip pooling uses bias-free convs with BN,
and the self-attention projections are matrix products (invisible to ``thop``,
which is why Table 1 prices Att11/Att12 at their pooling alone).
"""
import math

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.utils import resize

from .pooling import AdaptiveAvgPool2d


class PoolConvAttention(nn.Module):
    """Att1-Att5, PSP-style: ``Pool{bins}_conv1bn_upsample``.

    Args:
        channels: Input and output channels C.
        bins: Output size of the adaptive average pooling.
        conv_cfg / norm_cfg / act_cfg: For the 1x1 conv-BN-act.
        align_corners: For the bilinear upsampling.
    """

    def __init__(self, channels: int, bins: int, conv_cfg=None,
                 norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU'),
                 align_corners: bool = False) -> None:
        super().__init__()
        self.align_corners = align_corners
        self.pool = AdaptiveAvgPool2d(bins)
        self.conv = ConvModule(channels, channels, 1, conv_cfg=conv_cfg,
                               norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(self.pool(x))
        return resize(out, size=x.shape[2:], mode='bilinear',
                      align_corners=self.align_corners)


class AtrousConvAttention(nn.Module):
    """Att6-Att9, ASPP-style: ``AtrousConv{d}``.

    As in ASPP, dilation 1 is the 1x1 branch; other dilations are 3x3.

    Args:
        channels: Input and output channels C.
        dilation: Atrous rate.
        conv_cfg / act_cfg: For the conv (bias, no normalisation).
    """

    def __init__(self, channels: int, dilation: int, conv_cfg=None,
                 norm_cfg=None, act_cfg=dict(type='ReLU'),
                 align_corners: bool = False) -> None:
        super().__init__()
        kernel_size = 1 if dilation == 1 else 3
        self.conv = ConvModule(channels, channels, kernel_size,
                               padding=0 if dilation == 1 else dilation,
                               dilation=dilation, bias=True,
                               conv_cfg=conv_cfg, norm_cfg=None,
                               act_cfg=act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class StripPoolingAttention(nn.Module):
    """Att10, strip pooling (Hou et al., 2020): ``HoriPool_VertPool_conv3bn``.

    ``x * sigmoid(conv3x3bn(relu(expand(convbn(pool_h x)) +
    expand(convbn(pool_w x)))))``.
    """

    def __init__(self, channels: int, conv_cfg=None,
                 norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU'),
                 align_corners: bool = False) -> None:
        super().__init__()
        self.pool_h = AdaptiveAvgPool2d((None, 1))
        self.pool_w = AdaptiveAvgPool2d((1, None))
        self.conv_h = ConvModule(channels, channels, (3, 1), padding=(1, 0),
                                 conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                 act_cfg=None)
        self.conv_w = ConvModule(channels, channels, (1, 3), padding=(0, 1),
                                 conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                 act_cfg=None)
        self.fuse = ConvModule(channels, channels, 3, padding=1,
                               conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                               act_cfg=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2:]
        x_h = self.conv_h(self.pool_h(x)).expand(-1, -1, h, w)
        x_w = self.conv_w(self.pool_w(x)).expand(-1, -1, h, w)
        gate = self.fuse(torch.relu(x_h + x_w)).sigmoid()
        return x * gate


class PooledSelfAttention(nn.Module):
    """Att11-Att12: ``Pool{bins}_SelfAttention_upsample``.

    Scaled dot-product self-attention (Vaswani et al.) over the ``bins**2``
    pooled positions, a residual with a learned scale ``gamma`` (zero at
    init, as in DANet's position attention), then bilinear upsampling.

    With ``projection=False`` (default) queries, keys and values are the
    pooled features themselves, which is what Table 1 (pooling FLOPs only)
    and Table 2's parameter counts support (docs/design.md); with ``True``,
    learned query/key projections to ``C // reduction`` and a value
    projection to C are added (matrix products, invisible to thop).
    """

    def __init__(self, channels: int, bins: int, projection: bool = False,
                 reduction: int = 8, conv_cfg=None, norm_cfg=None,
                 act_cfg=None, align_corners: bool = False) -> None:
        super().__init__()
        self.align_corners = align_corners
        self.bins = bins
        self.pool = AdaptiveAvgPool2d(bins)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.projection = projection
        if projection:
            key_dim = max(channels // reduction, 1)
            self.query = nn.Parameter(torch.empty(key_dim, channels))
            self.key = nn.Parameter(torch.empty(key_dim, channels))
            self.value = nn.Parameter(torch.empty(channels, channels))
            for weight in (self.query, self.key, self.value):
                nn.init.kaiming_uniform_(weight, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.pool(x).flatten(2)                    # (B, C, N)
        if self.projection:
            q = torch.matmul(self.query, pooled)            # (B, D, N)
            k = torch.matmul(self.key, pooled)              # (B, D, N)
            v = torch.matmul(self.value, pooled)            # (B, C, N)
        else:
            q = k = v = pooled
        logits = torch.matmul(q.transpose(1, 2), k) / math.sqrt(q.shape[1])
        attn = logits.softmax(dim=-1)                       # (B, N, N)
        out = pooled + self.gamma * torch.matmul(v, attn.transpose(1, 2))
        out = out.reshape(out.shape[0], out.shape[1], self.bins, self.bins)
        return resize(out, size=x.shape[2:], mode='bilinear',
                      align_corners=self.align_corners)


class SEAttention(nn.Module):
    """Att13, squeeze-and-excitation channel attention: ``Pool1_fc_multiply``.

    ``x * sigmoid(fc(relu(fc(pool1(x)))))`` with reduction ``reduction``.
    """

    def __init__(self, channels: int, reduction: int = 16, conv_cfg=None,
                 norm_cfg=None, act_cfg=None,
                 align_corners: bool = False) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.pool = AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.fc(self.pool(x).flatten(1))
        return x * scale[:, :, None, None]
