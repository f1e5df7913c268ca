"""Telling architecture parameters (alpha, beta) from network weights.

The searchable modules register their architecture parameters under the
paper's names ``alpha`` (backbone, Eq. 1) and ``beta`` (attention, Eq. 2);
everything that must separate the two sets (optimiser constructor, hook,
derivation, checkpoint checks) goes through this module.
"""
from typing import Iterator, List, Tuple

import torch.nn as nn

ARCH_PARAM_NAMES = ('alpha', 'beta')


def is_arch_param(name: str) -> bool:
    """Whether the parameter called ``name`` (dotted) is alpha or beta."""
    return name.rsplit('.', 1)[-1] in ARCH_PARAM_NAMES


def named_arch_parameters(
        model: nn.Module) -> Iterator[Tuple[str, nn.Parameter]]:
    for name, param in model.named_parameters():
        if is_arch_param(name):
            yield name, param


def named_weight_parameters(
        model: nn.Module) -> Iterator[Tuple[str, nn.Parameter]]:
    for name, param in model.named_parameters():
        if not is_arch_param(name):
            yield name, param


def arch_parameters(model: nn.Module) -> List[nn.Parameter]:
    return [p for _, p in named_arch_parameters(model)]
