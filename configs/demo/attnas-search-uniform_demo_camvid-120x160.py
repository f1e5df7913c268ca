# The CamVid quick-start search in the single-path one-shot mode (SPOS;
# ./attnas-search-uniform_demo_synthetic-cityscapes-64x128.py explains it):
# uniformly drawn paths train the supernet, no arch step, no ArchUpdateHook;
# the architecture comes from tools/search_subnet.py on the arch half.
_base_ = './attnas-search_demo_camvid-120x160.py'
model = dict(
    backbone=dict(search_mode='uniform'),
    decode_head=dict(search_mode='uniform', sample_topk=4))
# each step leaves the ops it did not draw without gradient (DDP)
find_unused_parameters = True
max_epochs = 3
optim_wrapper = dict(
    _delete_=True,
    constructor='AttNASOptimWrapperConstructor',
    weight=dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=0.05, momentum=0.9,
                       weight_decay=0.0005)))
# one optimiser: an unkeyed schedule
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_epochs,
         by_epoch=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
custom_hooks = [dict(type='RandomStateHook')]
