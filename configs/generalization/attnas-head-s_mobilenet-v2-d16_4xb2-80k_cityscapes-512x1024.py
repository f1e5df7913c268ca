# mv2+attS (Table 3a): AttNAS-S's searched attention on MMSeg's MobileNetV2,
# replacing ASPP in the OS16 mv2+aspp baseline; same head widths as the
# AttNAS models (attention at the backbone's 320 channels, 3x3 bottleneck to
# 96). Paper: 73.6 val mIoU, 29.8G FLOPs, 3.1M params.
_base_ = [
    '../baselines/deeplabv3_mobilenet-v2-d16_4xb2-80k_cityscapes-512x1024.py',
    '../_base_/archs.py'
]
custom_imports = dict(imports=['attnas_mmseg'], allow_failed_imports=False)
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='AttNASHead',
        arch={{_base_.paper_archs.attnas_s.attention}},
        combine='sum',
        sa_projection=False,
        in_channels=320,
        in_index=3,
        attention_channels=320,
        channels=96,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
# one seed for every run (as configs/_base_/default_runtime.py)
randomness = dict(seed=0, deterministic=False)
