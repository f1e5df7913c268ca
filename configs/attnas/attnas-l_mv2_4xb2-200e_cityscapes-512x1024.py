# AttNAS-L (Table 2, s-mv2-att2 at 40G): retrained from scratch on Cityscapes
# (§4.2). Paper: 74.4 val mIoU, 40.6G FLOPs, 4.2M params.
_base_ = [
    '../_base_/attnas_mv2_retrain_cityscapes-512x1024.py',
    '../_base_/archs.py'
]
model = dict(
    backbone=dict(arch={{_base_.paper_archs.attnas_l.backbone}}),
    decode_head=dict(arch={{_base_.paper_archs.attnas_l.attention}}))
