# The quick-start search in the single-path one-shot mode (SPOS, Guo et al.
# 2020; beyond the paper): each weight step trains one op per block drawn
# uniformly at random and 4 attention cells drawn uniformly from all L x 13,
# whatever alpha/beta hold. There is no arch step, so no ArchUpdateHook and
# no arch optimiser: alpha/beta stay untrained (still saved). The
# architecture is found afterwards on the trained supernet by evolutionary
# search, scoring candidates on the arch half (tools/search_subnet.py);
# docs/design.md, "Search modes". Data, crop and length are the demo's.
_base_ = './attnas-search_demo_synthetic-cityscapes-64x128.py'
model = dict(
    backbone=dict(search_mode='uniform'),
    decode_head=dict(search_mode='uniform', sample_topk=4))
# each step leaves the ops it did not draw without gradient (DDP)
find_unused_parameters = True
max_epochs = 10
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
