# s-mv2-att3 (Table 2: three attention layers searched): retrained from
# scratch on Cityscapes (§4.2). Paper: 67.2 val mIoU, 29.8G FLOPs, 3.4M params.
_base_ = [
    '../_base_/attnas_mv2_retrain_cityscapes-512x1024.py',
    '../_base_/archs.py'
]
model = dict(
    backbone=dict(arch={{_base_.paper_archs.s_mv2_att3.backbone}}),
    decode_head=dict(arch={{_base_.paper_archs.s_mv2_att3.attention}}))
