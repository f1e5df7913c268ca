# mv2+aspp (Table 2-3 baseline): MMSeg's MobileNetV2 DeepLabV3 at output
# stride 16, the stride Table 1's Att7-Att9 (atrous 6/12/18) and FLOPs imply:
# stage 4 strided instead of dilated, ASPP rates (1, 6, 12, 18).
# ASPP width 160 and no auxiliary head: fitted to Table 3 (41.4G, 4.5M);
# MMSeg's ASPPHead ends in a 3x3 bottleneck, so the usual 256 channels give
# 62.7G / 7.1M (docs/reproduction.md).
# Schedule and ImageNet-pretrained backbone as in MMSeg's config: 80k
# iterations of 8 images, about 215 Cityscapes epochs (§4.2 retrains for 200).
_base_ = 'mmseg::mobilenet_v2/mobilenet-v2-d8_deeplabv3_4xb2-80k_cityscapes-512x1024.py'  # noqa: E501
model = dict(
    backbone=dict(
        strides=(1, 2, 2, 2, 1, 1, 1), dilations=(1, 1, 1, 1, 1, 2, 2)),
    decode_head=dict(channels=160, dilations=(1, 6, 12, 18)),
    auxiliary_head=None)
# one seed for every run (as configs/_base_/default_runtime.py)
randomness = dict(seed=0, deterministic=False)
