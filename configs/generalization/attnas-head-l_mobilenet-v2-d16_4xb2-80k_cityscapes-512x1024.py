# mv2+attL (Table 3a): AttNAS-L's searched attention on MMSeg's MobileNetV2
# (OS16), head widths as mv2+attS. Paper: 74.7 val mIoU, 44.9G, 4.8M params.
_base_ = './attnas-head-s_mobilenet-v2-d16_4xb2-80k_cityscapes-512x1024.py'
model = dict(
    decode_head=dict(arch={{_base_.paper_archs.attnas_l.attention}}))
