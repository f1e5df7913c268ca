# res18+attS (Table 3b): AttNAS-S's searched attention on MMSeg's ResNet18,
# replacing ASPP in the res18+aspp baseline (layer3 output, 256 channels at
# stride 16). Head widths: the AttNAS recipe, attention at the backbone's
# channels and a 3x3 bottleneck to 96 channels; the least-squares fit of
# (attention_channels, channels) to Table 3b's four numbers lands on it
# (docs/reproduction.md). Paper: 69.4 val mIoU, 68.7G FLOPs, 3.6M params.
_base_ = [
    '../baselines/deeplabv3_r18b-d16_4xb2-80k_cityscapes-512x1024.py',
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
        in_channels=256,
        in_index=2,
        attention_channels=256,
        channels=96,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
# one seed for every run (as configs/_base_/default_runtime.py)
randomness = dict(seed=0, deterministic=False)
