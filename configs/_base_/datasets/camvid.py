# CamVid, 11 classes, SegNet layout (CamVidDataset): train 367 / val 101 /
# test 233 at the original 720x960 (§4.1, §4.4).
# The copy in /work/shared/data/camvid is half resolution (360x480) and has no
# test split: link it as data/camvid (`ln -s /work/shared/data/camvid
# data/camvid`) and test on val (`--cfg-options
# test_dataloader.dataset.data_prefix.img_path=val
# test_dataloader.dataset.data_prefix.seg_map_path=valannot`); the Resize steps
# below then upsample its frames to the paper's 720x960. To train at its
# native size instead, override the pipelines' scale to (480, 360), the crop
# and model.data_preprocessor.size to (360, 480).
dataset_type = 'CamVidDataset'
data_root = 'data/camvid'
crop_size = (720, 960)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(960, 720),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(960, 720), keep_ratio=True),
    # annotations load after Resize: metrics compare at the label's own size
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    # epoch-based like the AttNAS schedules (MMSeg's iteration-based
    # dataset bases use InfiniteSampler)
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train', seg_map_path='trainannot'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val', seg_map_path='valannot'),
        pipeline=test_pipeline))
# Table 4b reports the test split
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='test', seg_map_path='testannot'),
        pipeline=test_pipeline))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
