# The planted-signal search (issue 16, benchmarks/planted_signal.py): the
# demo's search (same crop, schedule, optimisers, arch lr) with a noise
# candidate added to both tables as user candidates: op 7 of every block and
# Att14 of every layer (attnas_mmseg/ops/noise.py). The noise candidates cost
# no FLOPs, so a FLOPs term pulling the network down toward its target would
# favour them for a reason that has nothing to do with the task: the cost term
# is off (flops_weight 0) and derivation is the plain argmax (§3.3.3), so what
# is derived is what the task loss taught alpha and beta.
_base_ = ['../../demo/attnas-search_demo_synthetic-cityscapes-64x128.py']
model = dict(
    backbone=dict(extra_ops=[dict(type='NoiseOp')]),
    decode_head=dict(extra_attentions=[dict(type='NoiseAttention')]))
warmup_epochs = 4
custom_hooks = [
    dict(
        type='ArchUpdateHook',
        flops_target=30.0,
        flops_weight=0.0,
        flops_loss_mode='abs',
        flops_pricing='derived',
        flops_input_size=(1024, 2048),
        warmup_epochs=warmup_epochs,
        interval=1,
        topk=4,
        log_interval=3),
    dict(type='RandomStateHook')
]
derive = dict(target_window=None)
