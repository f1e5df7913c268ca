"""SubnetEvaluator: inherited weights, recalibrated BN, MMSeg's IoU metrics.

Expected values are computed here from the images, the labels and the
network by hand (numpy confusion counts, per-batch BN moments), not through
the evaluator's own path.
"""
import copy
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from attnas_mmseg.datasets.split import HalfSplitDataset
from attnas_mmseg.evaluation.subnet_evaluator import (SubnetEvaluator,
                                                      evaluate_subnet,
                                                      recalibrate_bn)
from attnas_mmseg.export.subnet import extract_subnet

from .subnet_setup import SPEC_A, SPEC_B, write_search

NUM_CLASSES = 19
MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])


@pytest.fixture(scope='module')
def search(tiny_cityscapes, tmp_path_factory):
    return write_search(tiny_cityscapes, tmp_path_factory.mktemp('search'))


@pytest.fixture(scope='module')
def val_evaluator(search):
    """The default number of calibration batches: more than the weight half
    holds (2 batches of 2), so all of them."""
    return SubnetEvaluator(*search, split='val')


@pytest.fixture(scope='module')
def augmented_search(tiny_cityscapes, tmp_path_factory):
    """A search config with random flips and photometric distortion."""
    return write_search(tiny_cityscapes,
                        tmp_path_factory.mktemp('augmented'), augment=True)


@pytest.fixture(scope='module')
def arch_evaluator(augmented_search):
    return SubnetEvaluator(*augmented_search, split='arch', calib_batches=1)


def hand_metrics(model, images):
    """aAcc, mIoU, mAcc (percent, 2 decimals) of ``model`` on ``images``
    (their Cityscapes trainId labels beside), from confusion counts."""
    intersect = np.zeros(NUM_CLASSES)
    pred_area = np.zeros(NUM_CLASSES)
    label_area = np.zeros(NUM_CLASSES)
    for image in images:
        bgr = cv2.imread(str(image), cv2.IMREAD_COLOR).astype(np.float64)
        x = (bgr[..., ::-1] - MEAN) / STD
        x = torch.from_numpy(x.transpose(2, 0, 1).copy()).float()[None]
        with torch.no_grad():
            logits = F.interpolate(model(x, mode='tensor'),
                                   size=x.shape[2:], mode='bilinear',
                                   align_corners=False)
        pred = logits.argmax(1)[0].numpy()
        label_path = str(image).replace('leftImg8bit', 'gtFine', 1).replace(
            '_leftImg8bit.png', '_gtFine_labelTrainIds.png')
        label = cv2.imread(label_path, cv2.IMREAD_UNCHANGED)
        keep = label != 255
        pred, label = pred[keep], label[keep]
        intersect += np.bincount(label[pred == label], minlength=NUM_CLASSES)
        pred_area += np.bincount(pred, minlength=NUM_CLASSES)
        label_area += np.bincount(label, minlength=NUM_CLASSES)
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = intersect / (pred_area + label_area - intersect)
        acc = intersect / label_area
    return dict(aAcc=round(100 * intersect.sum() / label_area.sum(), 2),
                mIoU=round(100 * np.nanmean(iou), 2),
                mAcc=round(100 * np.nanmean(acc), 2))


def test_val_metrics_are_mmsegs_iou_of_the_recalibrated_subnet(
        val_evaluator, tiny_cityscapes):
    metrics = val_evaluator.evaluate(SPEC_A)
    images = sorted(Path(tiny_cityscapes, 'leftImg8bit/val').rglob('*.png'))
    assert len(images) == 4
    expected = hand_metrics(val_evaluator.subnet(SPEC_A), images)
    assert expected['aAcc'] > 0  # the network gets some pixels right
    assert set(expected) <= set(metrics)
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=0.011), key


def test_same_spec_same_metrics_whatever_was_evaluated_before(
        val_evaluator):
    before = {k: v.clone()
              for k, v in val_evaluator.supernet.state_dict().items()}
    first = val_evaluator.evaluate(SPEC_A)
    other = val_evaluator.evaluate(SPEC_B)
    assert val_evaluator.evaluate(SPEC_A) == first
    assert other != first
    for key, value in val_evaluator.supernet.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_arch_split_scores_the_arch_half_the_same_each_time(
        arch_evaluator, augmented_search, tiny_cityscapes):
    dataset = arch_evaluator.dataloader.dataset
    scored = [dataset.get_data_info(i)['img_path']
              for i in range(len(dataset))]
    train = dict(type='CityscapesDataset', data_root=str(tiny_cityscapes),
                 data_prefix=dict(img_path='leftImg8bit/train',
                                  seg_map_path='gtFine/train'),
                 pipeline=[])
    arch_half = HalfSplitDataset(copy.deepcopy(train), part='arch', seed=0)
    weight_half = HalfSplitDataset(train, part='weight', seed=0)
    assert sorted(scored) == sorted(
        arch_half.get_data_info(i)['img_path'] for i in range(len(arch_half)))
    calibrated = {s.img_path for b in arch_evaluator.calibration
                  for s in b['data_samples']}
    assert calibrated <= {weight_half.get_data_info(i)['img_path']
                          for i in range(len(weight_half))}
    assert arch_evaluator.calib_batches == 1 and len(calibrated) == 2
    # random flips and distortions are drawn the same way on every pass
    first = arch_evaluator.evaluate(SPEC_A)
    arch_evaluator.evaluate(SPEC_B)
    np.random.rand(3)  # whatever the caller draws in between
    assert arch_evaluator.evaluate(SPEC_A) == first
    assert 0 < first['mIoU'] <= 100 and 0 < first['aAcc'] <= 100
    # so does the function form, drawing its own calibration batches
    assert evaluate_subnet(*augmented_search, SPEC_A, split='arch',
                           calib_batches=1) == first


def batch_moments(model, batch):
    """Mean and unbiased variance per channel of the first BN's input (the
    stem conv's output) on one calibration batch."""
    inputs = model.data_preprocessor(copy.deepcopy(batch), True)['inputs']
    with torch.no_grad():
        y = model.backbone.conv1.conv(inputs)
    return y.mean((0, 2, 3)), y.var((0, 2, 3), unbiased=True)


def test_recalibration_averages_the_batch_statistics(val_evaluator):
    model = extract_subnet(val_evaluator.supernet, SPEC_A,
                           val_evaluator.model_cfg)
    bn = model.backbone.conv1.bn
    inherited = bn.running_mean.clone()
    batches = val_evaluator.calibration
    assert len(batches) == val_evaluator.calib_batches == 2
    moments = [batch_moments(model, b) for b in batches]
    momentum = bn.momentum
    recalibrate_bn(model, batches)
    torch.testing.assert_close(bn.running_mean,
                               (moments[0][0] + moments[1][0]) / 2)
    torch.testing.assert_close(bn.running_var,
                               (moments[0][1] + moments[1][1]) / 2)
    assert not torch.allclose(bn.running_mean, inherited)
    assert bn.momentum == momentum and not model.training
    assert int(bn.num_batches_tracked) == 2
    # what evaluate scores is this network
    scored = val_evaluator.subnet(SPEC_A)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(scored.state_dict()[key], value)


def test_a_norm_eval_backbone_keeps_its_statistics(val_evaluator):
    model = extract_subnet(val_evaluator.supernet, SPEC_A,
                           val_evaluator.model_cfg)
    model.backbone.norm_eval = True
    stem = model.backbone.conv1.bn.running_mean.clone()
    head = model.decode_head.conv_seg.weight.clone()
    bottleneck = model.decode_head.bottleneck.bn.running_mean.clone()
    recalibrate_bn(model, val_evaluator.calibration)
    assert torch.equal(model.backbone.conv1.bn.running_mean, stem)
    assert not torch.allclose(model.decode_head.bottleneck.bn.running_mean,
                              bottleneck)
    assert torch.equal(model.decode_head.conv_seg.weight, head)


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(split='test'), ValueError,
     r"split must be one of \('val', 'arch'\), got 'test'"),
    (dict(calib_batches=0), ValueError, 'calib_batches must be an int >= 1'),
    (dict(calib_batches=True), ValueError, 'calib_batches must be an int'),
    (dict(device='tpu'), ValueError,
     "device must be 'cpu', 'cuda' or 'cuda:N', got 'tpu'"),
    (dict(cfg_options=dict(val_dataloader=None)), ValueError,
     "split='val': the config's val_dataloader is None"),
])
def test_bad_arguments_are_refused_naming_the_field(search, kwargs, error,
                                                    message):
    with pytest.raises(error, match=message):
        SubnetEvaluator(*search, **kwargs)


def test_a_checkpoint_of_another_model_is_refused(search, tmp_path):
    cfg, ckpt = search
    tensor = tmp_path / 'tensor.pth'
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(ValueError, match=f'checkpoint: {tensor} holds a '
                       'Tensor'):
        SubnetEvaluator(cfg, tensor)
    other = Config.fromfile(str(cfg))
    other.model.decode_head.channels = 48
    with pytest.raises(ValueError, match=f'checkpoint: {ckpt} does not fit '
                       "the config's model"):
        SubnetEvaluator(other, ckpt)


@pytest.mark.parametrize('spec, message', [
    ('AttSet1(2,5)', 'spec: has no backbone code'),
    ('mv2(' + ','.join(['1'] * 17) + ') AttSet1(99)', 'attention id'),
    (42, 'arch: expected an ArchSpec'),
])
def test_a_bad_arch_is_refused_naming_the_field(val_evaluator, spec, message):
    with pytest.raises((ValueError, TypeError), match=message):
        val_evaluator.evaluate(spec)
