# s-mv2-att1 (Table 2: one attention layer searched): retrained from scratch
# on Cityscapes (§4.2). Paper: 72.2 val mIoU, 30.9G FLOPs, 2.9M params.
_base_ = [
    '../_base_/attnas_mv2_retrain_cityscapes-512x1024.py',
    '../_base_/archs.py'
]
model = dict(
    backbone=dict(arch={{_base_.paper_archs.s_mv2_att1.backbone}}),
    decode_head=dict(arch={{_base_.paper_archs.s_mv2_att1.attention}}))
