# Retraining a derived AttNAS network from scratch on Cityscapes (§4.2):
# train split (2975 images), 512x1024 crops, 200 epochs, evaluation on the
# full 1024x2048 val images with IoUMetric. Inheriting configs fill in
# model.backbone.arch and model.decode_head.arch (tools/derive_arch.py does).
_base_ = [
    'models/attnas_mv2.py', 'mmseg::_base_/datasets/cityscapes.py',
    'schedules/retrain_200e.py', 'default_runtime.py'
]
crop_size = (512, 1024)
model = dict(data_preprocessor=dict(size=crop_size))
train_dataloader = dict(sampler=dict(type='DefaultSampler', shuffle=True))
