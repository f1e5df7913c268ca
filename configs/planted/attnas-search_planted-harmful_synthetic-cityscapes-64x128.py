# Planted signal, harmful task: the demo's data (python -m
# attnas_mmseg.datasets.planted --task harmful --out data/planted_harmful);
# the right answer is known from the candidates: never the noise op (op 7) or
# the noise attention (Att14).
_base_ = ['./_base_/search_planted_64x128.py']
data_root = 'data/planted_harmful'
train_dataloader = dict(dataset=dict(dataset=dict(data_root=data_root)))
arch_dataloader = dict(dataset=dict(dataset=dict(data_root=data_root)))
derive = dict(
    retrain_base='./attnas-retrain_planted-harmful_synthetic-cityscapes-'
    '64x128.py')
