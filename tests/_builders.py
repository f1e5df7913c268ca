"""Small model configs shared by the tests (real modules, tiny inputs)."""
NORM = dict(type='BN', requires_grad=True)


def segmentor_cfg(backbone_arch=None, head_arch=None, num_layers=2,
                  num_classes=4, channels=320, dropout_ratio=0.0,
                  strides=(1, 2, 2, 2, 1, 1, 1),
                  dilations=(1, 1, 1, 1, 1, 2, 2)):
    """An ``EncoderDecoder`` with our backbone and head at output stride 16."""
    return dict(
        type='EncoderDecoder',
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
            seg_pad_val=255, size_divisor=16),
        backbone=dict(type='SearchableMobileNetV2', arch=backbone_arch,
                      strides=strides, dilations=dilations,
                      out_indices=(6, ), norm_cfg=NORM),
        decode_head=dict(
            type='AttNASHead', num_layers=num_layers, arch=head_arch,
            in_channels=320, channels=channels, num_classes=num_classes,
            dropout_ratio=dropout_ratio, norm_cfg=NORM, align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=1.0)),
        train_cfg=dict(), test_cfg=dict(mode='whole'))


def build_segmentor(**kwargs):
    """The package's one builder on :func:`segmentor_cfg`, in train mode."""
    from attnas_mmseg.models import build_segmentor as build
    return build(segmentor_cfg(**kwargs)).train()
