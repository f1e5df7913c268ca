# The search data of §4.2: Cityscapes train split in two halves (weights /
# architecture, HalfSplitDataset, deterministic by seed), images at 224x448.
_base_ = 'mmseg::_base_/datasets/cityscapes.py'
crop_size = (224, 448)
search_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    # whole frames downscaled around 448x224 then cropped, so a crop keeps
    # most of the scene's context (docs/design.md)
    dict(type='RandomResize', scale=(448, 224), ratio_range=(1.0, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
train_set = dict(
    type='CityscapesDataset',
    data_root='data/cityscapes/',
    data_prefix=dict(
        img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
    pipeline=search_pipeline)
train_dataloader = dict(
    _delete_=True,
    batch_size=8,
    num_workers=4,
    persistent_workers=False,  # re-seeded each epoch: exact resume
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='HalfSplitDataset', part='weight', seed=0,
                 dataset=train_set))
arch_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=False,  # re-seeded each epoch: exact resume
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='HalfSplitDataset', part='arch', seed=0,
                 dataset=train_set))
# the search trains and derives; it does not evaluate
val_dataloader = None
val_evaluator = None
test_dataloader = None
test_evaluator = None
