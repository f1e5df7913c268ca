# The planted harmful task searched in the single-path one-shot mode (SPOS,
# issue 18; ../demo/attnas-search-uniform_demo_synthetic-cityscapes-64x128.py
# explains the mode): a supernet trained on uniformly drawn paths, no arch
# step; benchmarks/planted_signal.py derives from it by evolution on the
# arch half (tools/search_subnet.py) instead of the argmax.
_base_ = ['./attnas-search_planted-harmful_synthetic-cityscapes-64x128.py']
model = dict(
    backbone=dict(search_mode='uniform'),
    decode_head=dict(search_mode='uniform', sample_topk=4))
find_unused_parameters = True
max_epochs = 10
optim_wrapper = dict(
    _delete_=True,
    constructor='AttNASOptimWrapperConstructor',
    weight=dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=0.05, momentum=0.9,
                       weight_decay=0.0005)))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_epochs,
         by_epoch=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
custom_hooks = [dict(type='RandomStateHook')]
