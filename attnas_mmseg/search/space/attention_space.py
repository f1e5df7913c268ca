"""Eq. (2): the layered attention search space and its fixed (derived) form.

Search mode holds every candidate of Table 1 (and the user's,
:mod:`.extra_candidates`: C = 13 + their number) in every layer
(``AttSet_l``) and mixes them with ONE softmax over all ``beta`` of all
layers, so the weights of all layers together sum to one::

    w = softmax(beta.flatten()).view(L, C)
    x_l = sum_j w[l, j] * Att_j(x_{l-1})

In the sampled-path modes (``'gumbel'``, ``'proxyless'``, :mod:`.search_modes`) the same
unified softmax is sampled without replacement (``sample_topk`` cells, the
top-k of §3.3.3) and only the sampled attentions run, with weight 1 each; a
layer with no sampled cell passes its input through. ``'uniform'`` (SPOS)
draws the ``sample_topk`` cells uniformly from all L x C, ignoring ``beta``,
and runs them the same way.

Fixed mode builds only the selected attentions. Attentions of one layer run in
parallel on that layer's input and are combined by ``combine`` ('sum', the
fixed-mode limit of Eq. (2) where the selected weights are equal, or 'mean');
an empty layer passes its input through; layer l+1 consumes layer l's output.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn

from .arch_spec import MAX_LAYERS, ArchSpec
from .candidates import build_attention
from .extra_candidates import ExtraCandidates, build_extra_attention
from .search_modes import (DEFAULT_SEARCH_MODE, StepStateMixin, cell_weights,
                           check_search_mode, check_tau)

COMBINE_MODES = ('sum', 'mean')


def attention_weights(beta: torch.Tensor) -> torch.Tensor:
    """Eq. (2)'s unified normalisation: softmax over all layers' ``beta``."""
    return beta.flatten().softmax(0).view_as(beta)


class AttentionLayers(StepStateMixin, nn.Module):
    """The attention module of AttNAS, in search or fixed mode.

    Args:
        channels: Width C of every layer (input and output).
        num_layers: Number of attention layers L (search mode).
        arch: Attention ids per layer (fixed mode); None to search.
        combine: How a fixed layer merges its parallel attentions.
        sa_projection: Learned projections in Att11/Att12's self-attention.
        search_mode: 'darts' (Eq. 2, all candidates mixed), 'gumbel',
            'proxyless' or 'uniform' (sampled cells, :mod:`.search_modes`).
        sample_topk: Cells sampled per step in the sampled modes (the
            derived head's top-k, 4 in the paper).
        tau: Gumbel-softmax temperature of the straight-through gradient
            ('gumbel'; a search may anneal it through
            :meth:`set_step_state`).
        extra_attentions: User candidates Att14, Att15, ... of every layer
            (registry configs, :mod:`.extra_candidates`).
        layer_cfg: ``conv_cfg``/``norm_cfg``/``act_cfg``/``align_corners``.

    Shapes:
        x: (B, C, H, W) -> (B, C, H, W)
    """

    def __init__(self,
                 channels: int,
                 num_layers: int = 2,
                 arch: Optional[Sequence[Sequence[int]]] = None,
                 combine: str = 'sum',
                 sa_projection: bool = False,
                 search_mode: str = DEFAULT_SEARCH_MODE,
                 sample_topk: int = 4,
                 tau: float = 1.0,
                 extra_attentions: Sequence[dict] = (),
                 **layer_cfg) -> None:
        super().__init__()
        if combine not in COMBINE_MODES:
            raise ValueError(f'combine must be one of {COMBINE_MODES}, got '
                             f'{combine!r}')
        self.channels = channels
        self.combine = combine
        self.layer_cfg = dict(layer_cfg)
        self.sa_projection = sa_projection
        self.extra = ExtraCandidates(attentions=extra_attentions)
        self.searching = arch is None
        self.search_mode = check_search_mode(search_mode)
        self.tau = check_tau(tau)
        self.arch_pass = False   # set through set_step_state
        if self.searching:
            if isinstance(num_layers, bool) or \
                    not isinstance(num_layers, int) or \
                    not 1 <= num_layers <= MAX_LAYERS:
                raise ValueError(f'num_layers must be an int in 1..'
                                 f'{MAX_LAYERS} (the AttSet numbers the '
                                 f'notation allows), got {num_layers!r}')
            cells = num_layers * self.num_candidates
            if isinstance(sample_topk, bool) or \
                    not isinstance(sample_topk, int) or \
                    not 1 <= sample_topk <= cells:
                raise ValueError(f'sample_topk must be an int in 1..{cells} '
                                 f'(num_layers x {self.num_candidates}), got '
                                 f'{sample_topk!r}')
            arch = [range(1, self.num_candidates + 1)] * num_layers
            # DARTS' initialisation: small noise around uniform weights.
            self.beta = nn.Parameter(
                1e-3 * torch.randn(num_layers, self.num_candidates))
        else:
            # ArchSpec's checks, so a bad layer gets the message of every path
            arch = ArchSpec.check_attention(arch, self.num_candidates)
        self.sample_topk = sample_topk
        self.arch = tuple(tuple(ids) for ids in arch)
        self.layers = nn.ModuleList(
            nn.ModuleDict({f'att{i}': self.make_attention(i) for i in ids})
            for ids in self.arch)

    @property
    def num_layers(self) -> int:
        return len(self.arch)

    @property
    def num_candidates(self) -> int:
        """Attention candidates of a layer: Table 1's and the user's."""
        return self.extra.num_attentions

    @property
    def extra_attentions(self) -> tuple:
        """The user candidates' configs (Att14, ...)."""
        return self.extra.attentions

    def make_attention(self, att_id: int) -> nn.Module:
        """A fresh Att``att_id`` of this module's width and layer configs."""
        cfg = self.extra.attention_cfg(att_id)
        if cfg is not None:
            return build_extra_attention(cfg, self.channels, **self.layer_cfg)
        return build_attention(att_id, self.channels,
                               sa_projection=self.sa_projection,
                               **self.layer_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.searching and self.search_mode != 'darts':
            weights, run, sampled = cell_weights(
                self.beta, self.search_mode, self.sample_topk, self.tau,
                self.training, self.arch_pass)
            for layer, w, ran, chosen in zip(self.layers, weights,
                                             run.tolist(), sampled.tolist()):
                picked = [i for i, c in enumerate(ran) if c]
                if picked:
                    atts = list(layer.values())
                    out = sum(w[i] * atts[i](x) for i in picked)
                    # a layer holding only runners-up (weight 0, a gumbel
                    # arch pass) is empty in the sampled network
                    x = out if any(chosen) else x + out
            return x
        if self.searching:
            weights = attention_weights(self.beta)
            for layer, w in zip(self.layers, weights):
                x = sum(w[i] * att(x) for i, att in enumerate(layer.values()))
            return x
        for layer in self.layers:
            if len(layer) == 0:
                continue
            out = sum(att(x) for att in layer.values())
            x = out / len(layer) if self.combine == 'mean' else out
        return x
