# AttNAS-L transferred to CamVid (§4.2, §4.4): the architecture searched on
# Cityscapes with the output class number set to 11, trained with the retrain
# schedule at 720x960 (the paper does not say whether the weights start from
# Cityscapes; set load_from to a Cityscapes checkpoint to do so).
# Paper (Table 4b): 73.8 test mIoU, 13.3G FLOPs.
_base_ = [
    '../_base_/models/attnas_mv2.py', '../_base_/datasets/camvid.py',
    '../_base_/schedules/retrain_200e.py', '../_base_/default_runtime.py',
    '../_base_/archs.py'
]
crop_size = (720, 960)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch={{_base_.paper_archs.attnas_l.backbone}}),
    decode_head=dict(
        arch={{_base_.paper_archs.attnas_l.attention}}, num_classes=11))
