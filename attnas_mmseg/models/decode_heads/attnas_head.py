"""The AttNAS attention head (§3.2, Eq. 2, Table 1) as an MMSeg decode head."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

from ...search.arch_spec import ArchSpec
from ...search.attention_space import AttentionLayers


@MODELS.register_module()
class AttNASHead(BaseDecodeHead):
    """Layers of attention candidates (Att1-Att13) followed by ``cls_seg``.

    * **Search mode** (``arch=None``): ``num_layers`` layers, each holding all
      13 candidates, mixed with one softmax over all layers' ``beta`` (Eq. 2).
    * **Fixed mode**: ``arch`` gives the attention ids of each layer (a list of
      lists, an ``'AttSet1(..)+AttSet2(..)'`` string, an :class:`ArchSpec` or a
      path to its JSON). Attentions of one layer run in parallel and are
      combined by ``combine``; an empty layer passes its input through.

    Widths: the attention layers work at ``attention_channels`` (default
    ``in_channels``; a 1x1 conv-BN-ReLU projects the backbone feature if they
    differ). If ``channels`` differs from ``attention_channels``, a 3x3
    conv-BN-ReLU bottleneck (as in MMSeg's ASPP/PSP heads) maps the attention
    output to ``channels`` before ``cls_seg``. ``docs/design.md`` gives the
    widths fitted to Table 2.

    Args:
        num_layers: Number of attention layers to search (1, 2 or 3 for the
            paper's s-mv2-att1/2/3). Ignored in fixed mode.
        arch: None to search, or the derived attention layers.
        combine: 'sum' or 'mean' (fixed mode).
        attention_channels: Width of the attention layers.
        sa_projection: Learned query/key/value projections in Att11/Att12
            (default False, as Table 1-2 support).
        search_mode: 'darts' (Eq. 2, the default), 'gumbel' or 'proxyless'
            (sampled cells, :mod:`attnas_mmseg.search.search_modes`).
        sample_topk: Cells sampled per step in the sampled modes (default 4,
            the derived head's top-k).
        tau: Gumbel-softmax temperature ('gumbel').
        **kwargs: ``BaseDecodeHead``'s arguments (in_channels, channels,
            num_classes, in_index, norm_cfg, align_corners, losses, ...).
    """

    def __init__(self,
                 num_layers: int = 2,
                 arch: Union[None, str, Sequence[Sequence[int]],
                             ArchSpec] = None,
                 combine: str = 'sum',
                 attention_channels: Optional[int] = None,
                 sa_projection: bool = False,
                 search_mode: str = 'darts',
                 sample_topk: int = 4,
                 tau: float = 1.0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if arch is not None:
            arch = ArchSpec.coerce(arch).attention
        width = attention_channels or self.in_channels
        self.in_proj: Optional[nn.Module] = None
        if self.in_channels != width:
            self.in_proj = ConvModule(self.in_channels, width, 1,
                                      conv_cfg=self.conv_cfg,
                                      norm_cfg=self.norm_cfg,
                                      act_cfg=self.act_cfg)
        self.attention = AttentionLayers(
            width, num_layers=num_layers, arch=arch, combine=combine,
            sa_projection=sa_projection, search_mode=search_mode,
            sample_topk=sample_topk, tau=tau, conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg, act_cfg=self.act_cfg,
            align_corners=self.align_corners)
        self.bottleneck: Optional[nn.Module] = None
        if self.channels != width:
            self.bottleneck = ConvModule(width, self.channels, 3, padding=1,
                                         conv_cfg=self.conv_cfg,
                                         norm_cfg=self.norm_cfg,
                                         act_cfg=self.act_cfg)

    @property
    def searching(self) -> bool:
        return self.attention.searching

    def arch_parameters(self) -> List[nn.Parameter]:
        return [self.attention.beta] if self.searching else []

    def forward(self, inputs) -> torch.Tensor:
        """inputs: backbone outputs -> (B, num_classes, H, W) logits."""
        x = self._transform_inputs(inputs)
        if self.in_proj is not None:
            x = self.in_proj(x)
        x = self.attention(x)
        if self.bottleneck is not None:
            x = self.bottleneck(x)
        return self.cls_seg(x)
