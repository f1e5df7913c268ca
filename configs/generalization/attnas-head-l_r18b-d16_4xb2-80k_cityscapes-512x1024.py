# res18+attL (Table 3b): AttNAS-L's searched attention on MMSeg's ResNet18
# (layer3, OS16), head widths as res18+attS. Paper: 71.0 val mIoU, 78.4G
# FLOPs, 4.7M params.
_base_ = './attnas-head-s_r18b-d16_4xb2-80k_cityscapes-512x1024.py'
model = dict(
    decode_head=dict(arch={{_base_.paper_archs.attnas_l.attention}}))
