# AttNAS on the searchable MobileNetV2, output stride 16 (the setting that
# reproduces Table 1-3's FLOPs; see docs/design.md). Search mode (arch=None)
# unless a config fills in backbone.arch / decode_head.arch.
custom_imports = dict(imports=['attnas_mmseg'], allow_failed_imports=False)
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='SearchableMobileNetV2',
        arch=None,
        op_order='kernel_major',
        widen_factor=1.,
        strides=(1, 2, 2, 2, 1, 1, 1),
        dilations=(1, 1, 1, 1, 1, 2, 2),
        out_indices=(1, 2, 4, 6),
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='AttNASHead',
        num_layers=2,
        arch=None,
        combine='sum',
        sa_projection=False,
        in_channels=320,
        in_index=3,
        attention_channels=320,
        channels=96,  # 3x3 bottleneck 320->96 before cls_seg (design.md)
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
