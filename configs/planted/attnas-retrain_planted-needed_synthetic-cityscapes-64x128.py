# Retraining a network of the planted-signal space on the needed task's data
# (data/planted_needed, benchmarks/planted_signal.py).
_base_ = ['./_base_/retrain_planted_64x128.py']
data_root = 'data/planted_needed'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
