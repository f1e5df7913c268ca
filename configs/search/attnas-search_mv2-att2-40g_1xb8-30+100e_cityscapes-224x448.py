# Search s-mv2-att2 with a 40G FLOPs target (Table 2, AttNAS-L).
_base_ = './attnas-search_mv2-att2-30g_1xb8-30+100e_cityscapes-224x448.py'
custom_hooks = [
    dict(
        type='ArchUpdateHook',
        flops_target=40.0,
        flops_weight=0.1,
        # |Eq. 4| on the FLOPs of the network derived now: the target is
        # honoured (docs/design.md); 'eq4_signed' + 'expected' is the paper's
        flops_loss_mode='abs',
        flops_pricing='derived',
        flops_input_size=(1024, 2048),
        warmup_epochs=30,
        interval=1,
        topk=4,
        log_interval=50),
    dict(type='RandomStateHook')
]
