"""Planted harmful candidates: outputs replaced by noise (issue 16).

Both are user candidates (``attnas_mmseg.search.space.extra_candidates``),
registered in MMSeg's ``MODELS``, so a config adds them to either table::

    backbone=dict(extra_ops=[dict(type='NoiseOp')])               # op 7
    decode_head=dict(extra_attentions=[dict(type='NoiseAttention')])  # Att14

Their output carries nothing of the input but its scale, so a network holding
one is worse than the same network without it, and a search that works never
picks them (``benchmarks/planted_signal.py``). The noise is drawn from
torch's global generator in training and eval alike (the harm is in the
network, not in its training); its scale, each sample's standard deviation of
the input, is detached, so no gradient reaches the input through it.
"""
import torch
import torch.nn as nn
from mmseg.registry import MODELS


def _noise(x: torch.Tensor, shape) -> torch.Tensor:
    """N(0, 1) of ``shape`` times each sample's std of ``x`` (detached)."""
    scale = x.detach().flatten(1).std(dim=1).view(-1, 1, 1, 1)
    return torch.randn(shape, dtype=x.dtype, device=x.device) * scale


@MODELS.register_module()
class NoiseOp(nn.Module):
    """A backbone op whose output is noise with the block's output shape.

    Args:
        in_channels / out_channels / stride / dilation: The block's (the
            user-op contract, ``extra_candidates.build_extra_op``).
        **layer_cfg: The backbone's layer configs (unused).

    Shapes:
        x: (B, in_channels, H, W) -> (B, out_channels, ceil(H / stride),
        ceil(W / stride))
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 dilation: int = 1, **layer_cfg) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        shape = (b, self.out_channels, -(-h // self.stride),
                 -(-w // self.stride))
        return _noise(x, shape)

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, '
                f'stride={self.stride}')


@MODELS.register_module()
class NoiseAttention(nn.Module):
    """An attention candidate whose output is noise of the input's scale.

    Args:
        channels: Width C (the user-attention contract,
            ``extra_candidates.build_extra_attention``).
        **layer_cfg: The head's layer configs (unused).

    Shapes:
        x: (B, C, H, W) -> (B, C, H, W)
    """

    def __init__(self, channels: int, **layer_cfg) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _noise(x, x.shape)

    def extra_repr(self) -> str:
        return f'{self.channels}'
