# The proxy setting of benchmarks/rank_ground_truth.py: a network of the
# AttNAS space trained from scratch on CamVid's train split and tested on its
# val split, both as whole frames resized to 120x160 (keep ratio), so that a
# set of architectures can be trained one by one on a CPU and ranked. The
# retrain base of every network there (derive.retrain_base of the script's
# space config); the architecture is filled in by the derived retrain.py.
_base_ = '../demo/attnas-retrain_demo_camvid-360x480.py'
crop_size = (120, 160)
model = dict(data_preprocessor=dict(size=crop_size))
# Resize is the identity on the script's cached 120x160 copy and does the
# resizing on any other copy, so the same config reads either.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(160, 120), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(160, 120), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
max_epochs = 30
# SGD lr 0.05 (momentum 0.9, wd 5e-4), poly to 1e-4: the CamVid retrain's
# (docs/benchmarks.md) at twice its batch, i.e. half its linearly scaled lr
optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_epochs,
         by_epoch=True)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs,
    val_interval=max_epochs)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1,
                    max_keep_ckpts=1, save_best=None))
