"""The AttNAS backbone search space: MobileNetV2 with a choice per block (§3.2).
"""
import numbers
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.utils import make_divisible
from mmseg.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from ...ops.inverted_residual import InvertedResidual
from ...search.space.arch_spec import ArchSpec
from ...search.space.candidates import (DEFAULT_OP_ORDER, NUM_BLOCKS,
                                        backbone_ops)
from ...search.space.extra_candidates import ExtraCandidates, build_extra_op
from ...search.space.mixed_op import MixedOp
from ...search.space.search_modes import (DEFAULT_SEARCH_MODE, StepStateMixin,
                                          block_weights, check_search_mode,
                                          check_tau)


@MODELS.register_module()
class SearchableMobileNetV2(StepStateMixin, BaseModule):
    """MobileNetV2 whose 17 inverted-residual blocks each choose one of six ops.

    Op ``j`` (1-6, the paper's ``mv2(...)`` notation) of a block is an inverted
    residual with the (kernel size, expansion ratio) given by
    ``BACKBONE_OP_ORDERS[op_order][j - 1]`` (kernel {3, 5} x expansion
    {1, 3, 6}). Block widths, strides and dilations are MobileNetV2's, with the
    same ``strides`` / ``dilations`` / ``out_indices`` (stage indices 0-6)
    semantics as MMSeg's ``MobileNetV2``, except that the outputs are always a
    tuple (MMSeg returns a bare tensor for one index, which a head's
    ``in_index`` would then index along the batch).

    * **Search mode** (``arch=None``): every block is a :class:`MixedOp` of its
      six ops mixed by ``softmax(alpha[i])`` (Eq. 1); ``alpha`` is a (17, 6)
      parameter, returned by :meth:`arch_parameters`. With
      ``search_mode='gumbel'`` each block instead runs one op sampled from
      ``softmax(alpha[i])`` (straight-through gradient; the argmax op in eval
      mode); ``'proxyless'`` runs one drawn op in the weight step and two in
      the arch step; ``'uniform'`` (SPOS) runs one op drawn uniformly,
      ignoring ``alpha``, and has no arch step (``alpha`` stays untrained,
      so its eval-mode argmax means nothing); see
      :mod:`attnas_mmseg.search.space.search_modes`.
    * **Fixed mode** (``arch`` = 17 op indices, an ``'mv2(...)'`` string or an
      :class:`ArchSpec`): only the chosen op of each block is built; no
      ``alpha``, no mixture overhead.
    * **User ops** (``extra_ops``): ops 7, 8, ... of every block, built
      through MMSeg's ``MODELS`` from a config
      (:mod:`attnas_mmseg.search.space.extra_candidates`); ``alpha`` is then
      (17, 6 + their number).

    Args:
        arch: None to search, or the derived op index of each block.
        search_mode: 'darts' (Eq. 1, the default), 'gumbel', 'proxyless'
            or 'uniform' (sampled paths).
        tau: Gumbel-softmax temperature ('gumbel'; a search may anneal it
            through :meth:`set_step_state`).
        op_order: Key of ``BACKBONE_OP_ORDERS``: the op-index order.
        widen_factor: Width multiplier, as in MobileNetV2.
        strides: Stride of the first block of each of the 7 stages.
        dilations: Dilation of the first block of each stage.
        out_indices: Stages whose outputs are returned.
        frozen_stages: Stages to freeze (-1: none).
        conv_cfg / norm_cfg / act_cfg: Layer configs (ReLU6 as MobileNetV2).
        norm_eval: Keep BN layers in eval mode while training.
        with_cp: Gradient checkpointing inside each op.
        extra_ops: Registry configs of user ops 7, 8, ... (each built for
            every block given its in/out channels, stride, dilation and the
            layer configs).
        init_cfg: Initialisation (default: Kaiming convs, unit BN).
    """

    # expansion ratio of MobileNetV2 (unused: searched), channels, blocks
    arch_settings = [[1, 16, 1], [6, 24, 2], [6, 32, 3], [6, 64, 4],
                     [6, 96, 3], [6, 160, 3], [6, 320, 1]]

    def __init__(self,
                 arch: Union[None, str, Sequence[int], ArchSpec] = None,
                 search_mode: str = DEFAULT_SEARCH_MODE,
                 tau: float = 1.0,
                 op_order: str = DEFAULT_OP_ORDER,
                 widen_factor: float = 1.,
                 strides: Sequence[int] = (1, 2, 2, 2, 1, 2, 1),
                 dilations: Sequence[int] = (1, 1, 1, 1, 1, 1, 1),
                 out_indices: Sequence[int] = (1, 2, 4, 6),
                 frozen_stages: int = -1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU6'),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 extra_ops: Sequence[dict] = (),
                 init_cfg=None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d'),
                dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
            ]
        super().__init__(init_cfg)
        num_stages = len(self.arch_settings)
        if isinstance(widen_factor, bool) or \
                not isinstance(widen_factor, numbers.Real) or \
                not 0 < widen_factor < float('inf'):
            raise ValueError('widen_factor must be a finite number > 0, got '
                             f'{widen_factor!r}')
        if len(strides) != num_stages or len(dilations) != num_stages:
            raise ValueError(f'strides and dilations need {num_stages} '
                             f'entries, got {strides} and {dilations}')
        for index in out_indices:
            if index not in range(num_stages):
                raise ValueError(f'out_indices items must be in 0..'
                                 f'{num_stages - 1}, got {index}')
        if frozen_stages not in range(-1, num_stages):
            raise ValueError(f'frozen_stages must be in -1..{num_stages - 1}'
                             f', got {frozen_stages}')
        self.ops = backbone_ops(op_order)
        self.op_order = op_order
        self.extra = ExtraCandidates(ops=extra_ops)
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.layer_cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                              act_cfg=act_cfg, with_cp=with_cp)
        self.arch = self._parse_arch(arch)
        self.searching = self.arch is None
        self.search_mode = check_search_mode(search_mode)
        self.tau = check_tau(tau)
        self.arch_pass = False   # set through set_step_state

        stem_channels = make_divisible(32 * widen_factor, 8)
        self.conv1 = ConvModule(3, stem_channels, 3, stride=2, padding=1,
                                conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                act_cfg=act_cfg)
        # (in_channels, out_channels, stride, dilation) of each block.
        self.block_settings = []
        in_channels = stem_channels
        for stage, (_, channels, num_blocks) in enumerate(self.arch_settings):
            out_channels = make_divisible(channels * widen_factor, 8)
            for b in range(num_blocks):
                self.block_settings.append(
                    (in_channels, out_channels, strides[stage] if b == 0 else
                     1, dilations[stage] if b == 0 else 1))
                in_channels = out_channels
        self.out_channels = [
            make_divisible(c * widen_factor, 8) for _, c, _ in self.arch_settings
        ]

        block = 0
        self.layers: List[str] = []
        for stage, (_, _, num_blocks) in enumerate(self.arch_settings):
            blocks = []
            for _ in range(num_blocks):
                if self.searching:
                    blocks.append(
                        MixedOp(self.make_op(block, j)
                                for j in range(1, self.num_ops + 1)))
                else:
                    blocks.append(self.make_op(block, self.arch[block]))
                block += 1
            self.add_module(f'layer{stage + 1}', nn.Sequential(*blocks))
            self.layers.append(f'layer{stage + 1}')
        if self.searching:
            # DARTS' initialisation: small noise around uniform weights.
            self.alpha = nn.Parameter(
                1e-3 * torch.randn(NUM_BLOCKS, self.num_ops))

    @property
    def num_ops(self) -> int:
        """Ops of every block: the paper's six and the user's."""
        return self.extra.num_ops

    @property
    def extra_ops(self) -> tuple:
        """The user ops' configs (ops 7, ...)."""
        return self.extra.ops

    def _parse_arch(self, arch) -> Optional[tuple]:
        if arch is None:
            return None
        if isinstance(arch, str):
            return ArchSpec.parse_backbone(arch, self.num_ops)
        if isinstance(arch, ArchSpec):
            if arch.backbone is None:
                raise ValueError('arch: the ArchSpec has no backbone code')
            if arch.extra.ops and arch.extra.ops != self.extra.ops:
                raise ValueError(
                    'arch: the ArchSpec\'s user ops '
                    f'{list(arch.extra.ops)} are not this backbone\'s '
                    f'extra_ops {list(self.extra.ops)} (apply_arch fills '
                    'them in)')
            return ArchSpec.check_backbone(arch.backbone, self.num_ops)
        return ArchSpec.check_backbone(arch, self.num_ops)

    def make_op(self, block: int, op: int) -> nn.Module:
        """A fresh op ``op`` (1-6, or 7... for a user op) of block ``block``
        (0-16)."""
        if not 1 <= op <= self.num_ops:
            raise ValueError(f'op must be in 1..{self.num_ops}, got {op}')
        in_channels, out_channels, stride, dilation = \
            self.block_settings[block]
        cfg = self.extra.op_cfg(op)
        if cfg is not None:
            return build_extra_op(
                cfg, in_channels, out_channels, stride, dilation,
                **{k: v for k, v in self.layer_cfg.items() if k != 'with_cp'})
        kernel, expansion = self.ops[op - 1]
        return InvertedResidual(in_channels, out_channels, stride, expansion,
                                kernel_size=kernel, dilation=dilation,
                                **self.layer_cfg)

    def arch_parameters(self) -> List[nn.Parameter]:
        return [self.alpha] if self.searching else []

    def forward(self, x: torch.Tensor):
        """x: (B, 3, H, W) -> tuple of the ``out_indices`` stage outputs."""
        x = self.conv1(x)
        weights = active = None
        if self.searching:
            weights, active = block_weights(self.alpha, self.search_mode,
                                            self.tau, self.training,
                                            self.arch_pass)
        outs = []
        block = 0
        for stage, name in enumerate(self.layers):
            for op in getattr(self, name):
                x = op(x, weights[block], active[block]) if self.searching \
                    else op(x)
                block += 1
            if stage in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            for param in self.conv1.parameters():
                param.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            layer = getattr(self, f'layer{i}')
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
