# AttNAS-S transferred to Pascal VOC 2012 (§4.2, §4.4): the architecture
# searched on Cityscapes with the output class number set to 21, trained with
# the retrain schedule on the original split (1464 train / 1449 val, no SBD
# augmentation) at 512x512 (the paper does not say whether the weights start
# from Cityscapes; set load_from to a Cityscapes checkpoint to do so).
# Paper (Table 4c): (not reported; Table 4c lists AttNAS-L only).
_base_ = [
    '../_base_/models/attnas_mv2.py', 'mmseg::_base_/datasets/pascal_voc12.py',
    '../_base_/schedules/retrain_200e.py', '../_base_/default_runtime.py',
    '../_base_/archs.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch={{_base_.paper_archs.attnas_s.backbone}}),
    decode_head=dict(
        arch={{_base_.paper_archs.attnas_s.attention}}, num_classes=21))
# epoch-based schedule: MMSeg's VOC base samples with InfiniteSampler
train_dataloader = dict(sampler=dict(type='DefaultSampler', shuffle=True))
