"""prepare_for_inference (BN folded, channels_last) keeps every output of the
plain eager model: on the dense logits, through MMSeg's inference_model and
MMSegInferencer."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from attnas_mmseg.deploy import (DenseLogits, calibrate_bn, count_batchnorms,
                                 prepare_for_inference, to_memory_format)
from attnas_mmseg.search.space.candidates import NUM_ATTENTIONS

from .._builders import build_segmentor

REPO = Path(__file__).resolve().parents[2]
ATTNAS_S = [3, 3, 2, 3, 2, 3, 2, 3, 2, 6, 3, 6, 5, 3, 2, 5, 1]
ALL_ATTENTIONS = [list(range(1, 8)), list(range(8, NUM_ATTENTIONS + 1))]
NETS = {
    'attnas-s': dict(backbone_arch=ATTNAS_S, head_arch=[[12, 13], [3, 7]]),
    'attnas-s-every-attention': dict(backbone_arch=ATTNAS_S,
                                     head_arch=ALL_ATTENTIONS, channels=96),
    # the searching supernet in eval mode: Eq. 1-2 mixtures of every op
    # and every attention candidate
    'supernet': dict(channels=96),
}
CL = torch.channels_last


def _calibrated(**kwargs):
    torch.manual_seed(0)
    model = build_segmentor(**kwargs)
    return calibrate_bn(model, torch.randn(2, 3, 64, 128))


def _image(seed=3, h=64, w=128):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(1, 3, h, w, generator=gen)


def _backbone_input_is_channels_last(model):
    seen = []
    model.backbone.register_forward_pre_hook(
        lambda m, args: seen.append(args[0].is_contiguous(memory_format=CL)))
    return seen


@pytest.mark.parametrize('name', list(NETS))
def test_dense_logits_equal_plain_eager(name):
    model = _calibrated(**NETS[name])
    fast = prepare_for_inference(DenseLogits(model))
    assert count_batchnorms(fast) == 0 and count_batchnorms(model) > 0
    convs = [m for m in fast.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=CL)
                         for c in convs)
    seen = _backbone_input_is_channels_last(fast.segmentor)
    x = _image()
    with torch.inference_mode():
        ref = DenseLogits(model)(x)
        got = fast(x)
    assert seen == [True]  # the NCHW input was converted on the way in
    assert got.is_contiguous(memory_format=CL)
    assert ref.abs().max() > 1e-2  # calibrated: the logits are not vanishing
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('name', ['attnas-s', 'supernet'])
def test_mmseg_inference_model_gives_the_same_prediction(name):
    from mmseg.apis import inference_model
    model = _calibrated(**NETS[name])
    model.cfg = Config(dict(test_pipeline=[dict(type='LoadImageFromFile'),
                                           dict(type='PackSegInputs')]))
    img = np.random.default_rng(0).integers(0, 256, (64, 128, 3),
                                            dtype=np.uint8)
    ref = inference_model(model, img)
    fast = prepare_for_inference(model)
    assert fast.backbone.conv1.conv.weight.is_contiguous(memory_format=CL)
    seen = _backbone_input_is_channels_last(fast)
    got = inference_model(fast, img)
    assert seen == [True]
    torch.testing.assert_close(got.seg_logits.data, ref.seg_logits.data,
                               rtol=1e-4, atol=1e-4)
    assert got.seg_logits.data.abs().max() > 1e-2


def test_each_part_can_be_turned_off():
    model = _calibrated(**NETS['attnas-s'])
    plain = prepare_for_inference(DenseLogits(model), 'contiguous',
                                  fuse=False)
    assert count_batchnorms(plain) == count_batchnorms(model)
    seen = _backbone_input_is_channels_last(plain.segmentor)
    x = _image()
    with torch.inference_mode():
        got = plain(x.contiguous(memory_format=CL))
        torch.testing.assert_close(got, DenseLogits(model)(x), rtol=0, atol=0)
    assert seen == [False]  # a channels_last input is made NCHW
    # in place, and preparing twice keeps one input hook
    dense = DenseLogits(model)
    assert prepare_for_inference(dense, inplace=True) is dense
    prepare_for_inference(dense, 'contiguous', inplace=True)
    assert len(dense._forward_pre_hooks) == 1
    assert dense.segmentor.backbone.conv1.conv.weight.is_contiguous()


def test_to_memory_format_converts_4d_tensors_only():
    x, v = torch.randn(1, 3, 4, 5), torch.randn(3, 4)
    out = to_memory_format(dict(a=[x, v], b=(x, ), c='text'),
                           'channels_last')
    assert out['a'][0].is_contiguous(memory_format=CL)
    assert out['a'][1] is v and out['c'] == 'text'
    assert isinstance(out['b'], tuple)
    with pytest.raises(ValueError, match='memory_format'):
        prepare_for_inference(torch.nn.Conv2d(3, 3, 1), 'nhwc')


def test_mmseg_inferencer_prepared_in_place():
    from mmseg.apis import MMSegInferencer
    torch.manual_seed(0)
    inferencer = MMSegInferencer(
        model=str(REPO / 'configs/attnas_s_cityscapes.py'), device='cpu')
    calibrate_bn(inferencer.model, torch.randn(2, 3, 64, 128))
    img = np.random.default_rng(0).integers(0, 256, (64, 128, 3),
                                            dtype=np.uint8)
    ref = inferencer(img, return_datasamples=True).seg_logits.data
    prepare_for_inference(inferencer.model, inplace=True)
    seen = _backbone_input_is_channels_last(inferencer.model)
    got = inferencer(img, return_datasamples=True).seg_logits.data
    assert seen == [True] and count_batchnorms(inferencer.model) == 0
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)
