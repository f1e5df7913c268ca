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
# The head reads stage 3 (OS8, 32 channels), not stage 7: a standard
# MobileNetV2 path's receptive field there is 59 px (115 px with 5x5 ops
# everywhere) against the 128-px width, so no conv path sees all the squares
# and global pooling has something to add. Read from stage 7 (RF ~460 px, 3.6
# times the width) the task was solved without Att13: 79.1 / 42.9 mIoU
# without vs 57.2 / 33.3 with (version 2 of the data, seeds 0 / 1). The
# blocks after stage 3 still run but feed nothing (their alpha gets no
# gradient); this task measures beta.
model = dict(
    backbone=dict(out_indices=(2, )),
    decode_head=dict(in_channels=32, in_index=0, attention_channels=96,
                     channels=96))
