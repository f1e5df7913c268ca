# AttNAS-S (Table 2, s-mv2-att2 at 30G): retrained from scratch on Cityscapes
# (§4.2). Paper: 73.8 val mIoU, 28.2G FLOPs, 2.3M params.
_base_ = [
    '../_base_/attnas_mv2_retrain_cityscapes-512x1024.py',
    '../_base_/archs.py'
]
model = dict(
    backbone=dict(arch={{_base_.paper_archs.attnas_s.backbone}}),
    decode_head=dict(arch={{_base_.paper_archs.attnas_s.attention}}))
