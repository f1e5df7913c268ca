import pytest
import torch
import torch.nn.functional as F
from mmseg.models.losses import CrossEntropyLoss
from mmseg.registry import MODELS

import attnas_mmseg  # noqa: F401  (registers the loss)
from attnas_mmseg.models.losses import ClassWeightedCrossEntropyLoss

WEIGHTS = [0.3, 1.0, 4.5, 0.2]


def _batch(ignored: bool = True):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 5, 6, generator=gen, requires_grad=True)
    label = torch.randint(0, 4, (2, 5, 6), generator=gen)
    if ignored:
        label[0, :2] = 255
        label[1, 3, 4] = 255
    return logits, label


def test_mean_is_pytorchs_weighted_mean_over_pixels_not_ignored():
    loss = MODELS.build(dict(type='ClassWeightedCrossEntropyLoss',
                             class_weight=WEIGHTS, loss_weight=2.0))
    logits, label = _batch()
    ours = loss(logits, label, ignore_index=255)
    expected = 2.0 * F.cross_entropy(logits, label,
                                     weight=torch.tensor(WEIGHTS),
                                     ignore_index=255)
    torch.testing.assert_close(ours, expected)
    grad, = torch.autograd.grad(ours, logits)
    expected_grad, = torch.autograd.grad(expected, logits)
    torch.testing.assert_close(grad, expected_grad)
    assert loss.loss_name == 'loss_ce'


def test_mmsegs_own_loss_fails_on_ignored_pixels():
    """Why the class exists (module doc): MMSeg 1.2.2 indexes the weights
    with the ignore label."""
    logits, label = _batch()
    with pytest.raises(IndexError):
        CrossEntropyLoss(class_weight=WEIGHTS)(logits, label,
                                               ignore_index=255)


def test_other_reductions_and_no_ignored_pixels_stay_mmsegs():
    logits, label = _batch(ignored=False)
    ours = ClassWeightedCrossEntropyLoss(class_weight=WEIGHTS)
    theirs = CrossEntropyLoss(class_weight=WEIGHTS)
    # without ignored pixels MMSeg's own mean works, and agrees
    torch.testing.assert_close(ours(logits, label, ignore_index=255),
                               theirs(logits, label, ignore_index=255))
    for reduction in ('none', 'sum'):
        torch.testing.assert_close(
            ours(logits, label, reduction_override=reduction),
            theirs(logits, label, reduction_override=reduction))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='class_weight is required'):
        ClassWeightedCrossEntropyLoss(class_weight=None)
    with pytest.raises(ValueError, match='use_sigmoid must be False'):
        ClassWeightedCrossEntropyLoss(class_weight=WEIGHTS, use_sigmoid=True)
