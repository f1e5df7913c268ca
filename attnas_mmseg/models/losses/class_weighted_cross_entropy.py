"""Cross-entropy with per-class weights on labels that hold ignored pixels.

MMSeg 1.2.2's ``CrossEntropyLoss(class_weight=...)`` computes its average
factor as ``torch.stack([class_weight[cls] for cls in label])``: any ignored
pixel (CamVid's void, Cityscapes' 255) indexes past the weights and raises
``IndexError`` (open-mmlab/mmsegmentation#3734, unfixed in 1.2.2), and the
Python loop is slow besides. :class:`ClassWeightedCrossEntropyLoss` is that
loss with the average factor computed once, vectorised, over the pixels that
are not ignored, so its mean is PyTorch's weighted mean
``F.cross_entropy(pred, label, weight=class_weight, ignore_index=...)``:
``sum_i w[y_i] * loss_i / sum_i w[y_i]``. Everything else (per-pixel
``weight``, ``loss_weight``, ``loss_name``, other reductions) is MMSeg's.

``benchmarks/rank_ground_truth.py --class-weight median-freq`` trains with it.
"""
from typing import Optional, Sequence, Union

import torch
from mmseg.models.losses import CrossEntropyLoss
from mmseg.models.losses.cross_entropy_loss import cross_entropy
from mmseg.registry import MODELS


def class_weighted_cross_entropy(pred: torch.Tensor,
                                 label: torch.Tensor,
                                 weight: Optional[torch.Tensor] = None,
                                 class_weight: Optional[torch.Tensor] = None,
                                 reduction: str = 'mean',
                                 avg_factor: Optional[float] = None,
                                 ignore_index: int = -100,
                                 avg_non_ignore: bool = False
                                 ) -> torch.Tensor:
    """MMSeg's ``cross_entropy``, given the weighted average factor
    ``sum_i class_weight[label_i]`` over the pixels not ``ignore_index``
    when it would compute it itself (a mean with class weights): ignored
    pixels weigh nothing, whatever ``avg_non_ignore`` says."""
    if class_weight is not None and avg_factor is None and \
            reduction == 'mean':
        valid = label != ignore_index
        avg_factor = (class_weight[torch.where(valid, label, 0)] *
                      valid).sum()
    return cross_entropy(pred, label, weight, class_weight=class_weight,
                         reduction=reduction, avg_factor=avg_factor,
                         ignore_index=ignore_index,
                         avg_non_ignore=avg_non_ignore)


@MODELS.register_module()
class ClassWeightedCrossEntropyLoss(CrossEntropyLoss):
    """MMSeg's softmax cross-entropy with required per-class weights
    (module doc: the mean is over the pixels that are not ignored).

    Args:
        class_weight: one weight per class, or a ``.npy``/``.pkl`` file of
            them (MMSeg's ``get_class_weight``).
        loss_weight: the loss's factor. Default: 1.0.
        loss_name: the key of the loss in the losses dict. Default:
            ``'loss_ce'``.
        use_sigmoid: must stay False (a softmax loss). Kept so that a config
            inheriting ``CrossEntropyLoss(use_sigmoid=False)`` can switch
            ``type`` only.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``. Default: ``'mean'``.
        avg_non_ignore: MMSeg's flag, moot here (ignored pixels always weigh
            nothing in the mean). Default: False.
    """

    def __init__(self,
                 class_weight: Union[Sequence[float], str],
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ce',
                 use_sigmoid: bool = False,
                 reduction: str = 'mean',
                 avg_non_ignore: bool = False) -> None:
        if use_sigmoid:
            raise ValueError('ClassWeightedCrossEntropyLoss: use_sigmoid must '
                             'be False (a softmax cross-entropy)')
        if class_weight is None:
            raise ValueError('ClassWeightedCrossEntropyLoss: class_weight is '
                             'required (else use CrossEntropyLoss)')
        super().__init__(use_sigmoid=False, use_mask=False,
                         reduction=reduction, class_weight=class_weight,
                         loss_weight=loss_weight, loss_name=loss_name,
                         avg_non_ignore=avg_non_ignore)
        self.cls_criterion = class_weighted_cross_entropy
