# Retraining a network of the planted-signal space (issue 16): the demo's
# retrain at the planted data's 64x128 (no resize), with the premise's budget
# (benchmarks/planted_signal.py, stage premise). Networks holding a noise
# candidate declare it (extra_ops / extra_attentions) in the config
# tools/derive_arch.py writes on top of this one.
_base_ = ['../../demo/attnas-retrain_demo_synthetic-cityscapes-128x256.py']
crop_size = (64, 128)
model = dict(data_preprocessor=dict(size=crop_size))
max_epochs = 30
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_epochs,
         by_epoch=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
