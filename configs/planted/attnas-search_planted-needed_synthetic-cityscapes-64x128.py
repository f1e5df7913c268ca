# Planted signal, needed task: every label depends on an image-level cue (the
# majority colour of small squares scattered over the image) that global
# pooling sees from the head's feature (python -m
# attnas_mmseg.datasets.planted --task needed --out data/planted_needed). The
# right answer holds Att13 (SE) and never the noise candidates.
_base_ = ['./_base_/search_planted_64x128.py']
data_root = 'data/planted_needed'
train_dataloader = dict(dataset=dict(dataset=dict(data_root=data_root)))
arch_dataloader = dict(dataset=dict(dataset=dict(data_root=data_root)))
derive = dict(
    retrain_base='./attnas-retrain_planted-needed_synthetic-cityscapes-'
    '64x128.py')
