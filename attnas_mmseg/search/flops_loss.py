"""Eq. (4): the FLOPs term of the search loss (Eq. 3)."""
import torch

FLOPS_LOSS_MODES = ('signed', 'abs', 'hinge')


def flops_loss(flops_pred: torch.Tensor, flops_target: float,
               mode: str = 'signed') -> torch.Tensor:
    """``(FLOPs_pred - FLOPs_target) / FLOPs_target`` (Eq. 4).

    Args:
        flops_pred: FLOPs_pred(alpha, beta), a differentiable scalar.
        flops_target: The target (same unit), > 0.
        mode: 'signed' as printed in the paper (always pushes FLOPs down),
            'abs' (pulls toward the target from both sides) or 'hinge'
            (penalises only exceeding the target).
    """
    if flops_target <= 0:
        raise ValueError(f'flops_target must be > 0, got {flops_target}')
    if mode not in FLOPS_LOSS_MODES:
        raise ValueError(f'mode must be one of {FLOPS_LOSS_MODES}, got '
                         f'{mode!r}')
    ratio = (flops_pred - flops_target) / flops_target
    if mode == 'abs':
        return ratio.abs()
    if mode == 'hinge':
        return ratio.clamp(min=0)
    return ratio
