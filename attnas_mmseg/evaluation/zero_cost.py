"""Zero-cost proxies: scores of an untrained network from one batch, as used
for NAS by Abdelfattah et al. 2021 ("Zero-Cost Proxies for Lightweight NAS").

* :func:`synflow` (Tanaka et al. 2020): ``sum |theta * dR/dtheta|`` over the
  weights of every Conv2d/Linear, where ``R`` is the sum of the logits of a
  copy of the network with absolute weights on an all-ones input, BN removed
  (the reference code's ``synflow``, ``bn=False``), ReLU6 made ReLU (a
  linearised net saturates ReLU6 and zeroes every gradient behind it), in
  float64 (the products reach ~1e30 at 64x64).
* :func:`naswot` (Mellor et al. 2021): ``log|det K|``, ``K[i, j]`` the number
  of ReLU/ReLU6 units on which images i and j of the batch agree about
  ``activation > 0``, summed over every ReLU/ReLU6 module, in train mode
  (batch statistics, as the reference).
* :func:`grad_norm`: ``sum ||dL/dW||_2`` over the weights W of every
  Conv2d/Linear (the reference's choice of layers), L the training loss of
  the batch, in train mode.

Each works on a copy (the caller's network is untouched), with dropout off,
so a score is a deterministic function of the weights and the batch;
:func:`random_network` draws the weights of an architecture under a seed.
``docs/design.md`` ("Ranking networks") says how they are used.
"""
import copy
from typing import Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.segmentors.base import BaseSegmentor

from ..models.builder import ConfigLike, build_segmentor, model_config
from ..search.space.arch_spec import ArchSpec

#: Layers whose weights the proxies sum over (the reference code's).
WEIGHT_LAYERS = (nn.Conv2d, nn.Linear)
#: Activations whose sign pattern NASWOT reads.
RELU_LAYERS = (nn.ReLU, nn.ReLU6)


def random_network(config: ConfigLike, spec: Union[ArchSpec, str],
                   seed: int = 0,
                   device: Union[str, torch.device] = 'cpu') -> nn.Module:
    """The fixed network ``spec`` of ``config``'s space with weights drawn
    under ``torch.manual_seed(seed)`` (never pretrained ones), in eval mode.
    The caller's global RNG state is left as it was."""
    cfg = model_config(config)
    cfg.get('backbone', {}).pop('init_cfg', None)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_segmentor(cfg, arch=spec)
    return model.to(device)


def _logits(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The network's output: a segmentor's logits before resizing."""
    if isinstance(model, BaseSegmentor):
        return model(inputs, mode='tensor')
    return model(inputs)


def _copy(model: nn.Module, train: bool) -> nn.Module:
    """A copy in train or eval mode, dropout always off, no gradients."""
    net = copy.deepcopy(model).train(train)
    for module in net.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.eval()
    net.zero_grad(set_to_none=True)
    return net


def _weights(net: nn.Module):
    return [m.weight for m in net.modules()
            if isinstance(m, WEIGHT_LAYERS) and m.weight.grad is not None]


def _replace_children(net: nn.Module) -> None:
    """BN -> identity, ReLU6 -> ReLU (in place, at any depth)."""
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, name, nn.Identity())
            elif isinstance(child, nn.ReLU6):
                setattr(module, name, nn.ReLU())


def synflow(model: nn.Module, inputs: torch.Tensor) -> float:
    """SynFlow of ``model`` for inputs shaped like ``inputs`` (B, C, H, W):
    only the shape of one sample is used (the input is all ones)."""
    net = _copy(model, train=False).double()
    _replace_children(net)
    with torch.no_grad():
        for value in net.state_dict().values():
            if value.is_floating_point():
                value.abs_()
    ones = torch.ones((1, *inputs.shape[1:]), dtype=torch.float64,
                      device=inputs.device)
    _logits(net, ones).sum().backward()
    with torch.no_grad():
        score = sum(float((w * w.grad).abs().sum()) for w in _weights(net))
    if not torch.isfinite(torch.tensor(score, dtype=torch.float64)):
        raise ValueError(f'synflow overflowed float64 ({score}) at input '
                         f'size {tuple(inputs.shape[2:])}; use a smaller one')
    return score


def naswot(model: nn.Module, inputs: torch.Tensor) -> float:
    """NASWOT of ``model`` on the batch ``inputs`` (B, C, H, W), B >= 2.

    ``-inf`` when two images have the same code everywhere (K singular).
    """
    if inputs.dim() < 2 or inputs.shape[0] < 2:
        raise ValueError('inputs: NASWOT compares the images of a batch; '
                         f'need a batch of >= 2, got shape '
                         f'{tuple(inputs.shape)}')
    net = _copy(model, train=True)
    batch = inputs.shape[0]
    kernel = torch.zeros(batch, batch, dtype=torch.float64,
                         device=inputs.device)

    def accumulate(module, args, output):
        code = (output.detach() > 0).flatten(1).double()
        kernel.add_(code @ code.t() + (1 - code) @ (1 - code).t())

    handles = [m.register_forward_hook(accumulate) for m in net.modules()
               if isinstance(m, RELU_LAYERS)]
    if not handles:
        raise ValueError('model: has no ReLU/ReLU6 module for NASWOT to '
                         'read')
    try:
        with torch.no_grad():
            _logits(net, inputs)
    finally:
        for handle in handles:
            handle.remove()
    return float(torch.linalg.slogdet(kernel).logabsdet)


def _loss(net: nn.Module, inputs: torch.Tensor,
          targets: Union[torch.Tensor, Sequence]) -> torch.Tensor:
    """The training loss: a segmentor's own (its decode and auxiliary
    losses, as ``train_step``), else cross-entropy on class indices."""
    if isinstance(net, BaseSegmentor):
        loss, _ = net.parse_losses(net.loss(inputs, list(targets)))
        return loss
    return F.cross_entropy(_logits(net, inputs), targets, ignore_index=255)


def grad_norm(model: nn.Module, inputs: torch.Tensor,
              targets: Union[torch.Tensor, Sequence]) -> float:
    """grad_norm of ``model`` on one batch.

    Args:
        inputs: (B, C, H, W) preprocessed images.
        targets: A segmentor's ``data_samples`` (ground truth inside), or
            for any other module (B, ...) class indices (255 ignored).
    """
    net = _copy(model, train=True)
    _loss(net, inputs, targets).backward()
    with torch.no_grad():
        return sum(float(w.grad.norm()) for w in _weights(net))
