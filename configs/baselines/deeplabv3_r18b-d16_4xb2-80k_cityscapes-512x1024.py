# res18+aspp (Table 3b baseline): MMSeg's ResNet18 DeepLabV3 at output stride
# 16. Fitted to Table 3 (80.0G, 5.0M):
# * ResNet18 up to layer3 (256 channels at stride 16, no dilation): a full
#   ResNet18 alone has 11.2M params, and the attL-attS gaps of Table 3b
#   (9.7G, 1.1M) are those of attention on 256 channels;
# * torchvision's 7x7 stem ('r18b', type ResNet): the ResNetV1c deep stem of
#   'r18' adds 10G, +9-10% on every Table 3b FLOPs figure;
# * ASPP width 160 (MMSeg's 3x3 bottleneck), rates (1, 6, 12, 18), no
#   auxiliary head (it only adds params).
# Schedule and ImageNet-pretrained backbone as in MMSeg's config (80k
# iterations of 8 images, about 215 epochs).
_base_ = 'mmseg::deeplabv3/deeplabv3_r18b-d8_4xb2-80k_cityscapes-512x1024.py'
model = dict(
    backbone=dict(
        num_stages=3,
        out_indices=(0, 1, 2),
        strides=(1, 2, 2),
        dilations=(1, 1, 1)),
    decode_head=dict(
        in_channels=256, in_index=2, channels=160, dilations=(1, 6, 12, 18)),
    auxiliary_head=None)
# one seed for every run (as configs/_base_/default_runtime.py)
randomness = dict(seed=0, deterministic=False)
