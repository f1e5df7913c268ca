# The mv2+ASPP baseline (MMSeg's MobileNetV2 at output stride 16 + MMSeg's
# ASPPHead, 256 channels) under exactly the budget of
# attnas-retrain_demo_camvid-360x480.py, for the CamVid comparison in
# docs/benchmarks.md.
_base_ = './attnas-retrain_demo_camvid-360x480.py'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        widen_factor=1.,
        strides=(1, 2, 2, 2, 1, 1, 1),
        dilations=(1, 1, 1, 1, 1, 2, 2),
        out_indices=(1, 2, 4, 6),
        norm_cfg=norm_cfg),
    decode_head=dict(
        _delete_=True,
        type='ASPPHead',
        in_channels=320,
        in_index=3,
        channels=256,
        dilations=(1, 6, 12, 18),
        dropout_ratio=0.0,
        num_classes=11,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
