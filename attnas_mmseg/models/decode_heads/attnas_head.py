"""The AttNAS attention head (§3.2, Eq. 2, Table 1) as an MMSeg decode head."""
import numbers
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

from ...search.space.arch_spec import ArchSpec
from ...search.space.attention_space import AttentionLayers
from ...search.space.extra_candidates import ExtraCandidates
from ...search.space.search_modes import DEFAULT_SEARCH_MODE


@MODELS.register_module()
class AttNASHead(BaseDecodeHead):
    """Layers of attention candidates (Att1-Att13) followed by ``cls_seg``.

    * **Search mode** (``arch=None``): ``num_layers`` layers, each holding all
      13 candidates, mixed with one softmax over all layers' ``beta`` (Eq. 2).
    * **Fixed mode**: ``arch`` gives the attention ids of each layer (a list of
      lists, an ``'AttSet1(..)+AttSet2(..)'`` string, an :class:`ArchSpec` or a
      path to its JSON). Attentions of one layer run in parallel and are
      combined by ``combine``; an empty layer passes its input through.
    * **User attentions** (``extra_attentions``): Att14, Att15, ... of every
      layer, built through MMSeg's ``MODELS`` from a config
      (:mod:`attnas_mmseg.search.space.extra_candidates`); ``beta`` is then
      (L, 13 + their number).

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
        search_mode: 'darts' (Eq. 2, the default), 'gumbel', 'proxyless'
            or 'uniform' (sampled cells, drawn uniformly ignoring ``beta``
            in the last; :mod:`attnas_mmseg.search.space.search_modes`).
        sample_topk: Cells sampled per step in the sampled modes (default 4,
            the derived head's top-k).
        tau: Gumbel-softmax temperature ('gumbel').
        extra_attentions: Registry configs of user attentions Att14, ...
            (each built for every layer given the width and layer configs).
        **kwargs: ``BaseDecodeHead``'s arguments (in_channels, channels,
            num_classes (an int >= 1), in_index, norm_cfg, align_corners,
            losses, ...).
    """

    def __init__(self,
                 num_layers: int = 2,
                 arch: Union[None, str, Sequence[Sequence[int]],
                             ArchSpec] = None,
                 combine: str = 'sum',
                 attention_channels: Optional[int] = None,
                 sa_projection: bool = False,
                 search_mode: str = DEFAULT_SEARCH_MODE,
                 sample_topk: int = 4,
                 tau: float = 1.0,
                 extra_attentions: Sequence[dict] = (),
                 **kwargs) -> None:
        num_classes = kwargs.get('num_classes')
        # BaseDecodeHead would build a conv with 0 or -1 outputs (issue 19)
        if 'num_classes' in kwargs and (
                isinstance(num_classes, bool) or
                not isinstance(num_classes, numbers.Integral) or
                num_classes < 1):
            raise ValueError('num_classes must be an int >= 1 (the classes '
                             'of the dataset), got '
                             f'{num_classes!r}')
        super().__init__(**kwargs)
        extra = ExtraCandidates(attentions=extra_attentions)
        if arch is not None:
            spec = ArchSpec.coerce(arch, extra)
            if spec.extra.attentions and \
                    spec.extra.attentions != extra.attentions:
                raise ValueError(
                    'arch: the ArchSpec\'s user attentions '
                    f'{list(spec.extra.attentions)} are not this head\'s '
                    f'extra_attentions {list(extra.attentions)} (apply_arch '
                    'fills them in)')
            arch = spec.attention
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
            sample_topk=sample_topk, tau=tau,
            extra_attentions=extra.attentions, conv_cfg=self.conv_cfg,
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

    @property
    def search_mode(self) -> str:
        return self.attention.search_mode

    @property
    def extra_attentions(self) -> tuple:
        """The user attentions' configs (Att14, ...)."""
        return self.attention.extra_attentions

    @property
    def sample_topk(self) -> int:
        """Cells sampled per step in the sampled modes."""
        return self.attention.sample_topk

    def set_step_state(self, tau: Optional[float] = None,
                       arch_pass: Optional[bool] = None) -> None:
        """The attention layers' :meth:`AttentionLayers.set_step_state`."""
        self.attention.set_step_state(tau, arch_pass)

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
