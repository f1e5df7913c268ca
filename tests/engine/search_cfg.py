"""A complete search config on tiny Cityscapes-layout data, for the tests."""
import uuid
from pathlib import Path

from .._builders import segmentor_cfg


def experiment_name(work_dir) -> str:
    """A name no other Runner of the session has: mmengine keys its logger,
    MessageHub and visualizer by it, and its default (config name and the
    time to the second) is shared by Runners built in the same second."""
    return f'{Path(work_dir).name}_{uuid.uuid4().hex[:12]}'


def pipeline(size=(64, 128), augment=False):
    """Deterministic unless ``augment``: then a random flip (numpy's generator)
    and a photometric distortion, as the shipped search pipelines have."""
    random_steps = [dict(type='RandomFlip', prob=0.5),
                    dict(type='PhotoMetricDistortion')] if augment else []
    return [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='Resize', scale=(size[1], size[0]), keep_ratio=False),
        *random_steps,
        dict(type='PackSegInputs'),
    ]


def half(root, part, batch_size=2, shuffle=True, augment=False):
    return dict(
        batch_size=batch_size, num_workers=0, persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=shuffle),
        dataset=dict(
            type='HalfSplitDataset', part=part, seed=0,
            dataset=dict(
                type='CityscapesDataset', data_root=str(root),
                data_prefix=dict(img_path='leftImg8bit/train',
                                 seg_map_path='gtFine/train'),
                pipeline=pipeline(augment=augment))))


def search_cfg(root, work_dir, max_epochs=2, warmup_epochs=1,
               flops_weight=0.1, flops_target=0.01, checkpoint_interval=1,
               launcher='none', schedule_epochs=None, arch_batch_size=2,
               augment=False, dropout_ratio=0.0, random_state_hook=True,
               **hook_kwargs):
    """``augment``/``dropout_ratio`` switch on the randomness of the shipped
    search configs; ``random_state_hook`` adds their ``RandomStateHook``."""
    hook = dict(type='ArchUpdateHook',
                arch_dataloader=half(root, 'arch', arch_batch_size,
                                     augment=augment),
                flops_target=flops_target, flops_weight=flops_weight,
                flops_input_size=(64, 128), warmup_epochs=warmup_epochs,
                log_interval=1)
    hook.update(hook_kwargs)
    model = segmentor_cfg(num_classes=19, channels=32,
                          dropout_ratio=dropout_ratio)
    return dict(
        default_scope='mmseg',
        custom_imports=dict(imports=['attnas_mmseg'],
                            allow_failed_imports=False),
        work_dir=str(work_dir),
        experiment_name=experiment_name(work_dir),
        model=model,
        train_dataloader=half(root, 'weight', augment=augment),
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=max_epochs),
        optim_wrapper=dict(
            constructor='AttNASOptimWrapperConstructor',
            weight=dict(type='OptimWrapper', optimizer=dict(
                type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4)),
            arch=dict(type='OptimWrapper', optimizer=dict(
                type='Adam', lr=3e-2, betas=(0.5, 0.999),
                weight_decay=1e-3))),
        param_scheduler=dict(
            weight=[dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
                         end=schedule_epochs or max_epochs,
                         by_epoch=True)],
            arch=[]),
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(type='LoggerHook', interval=1),
            param_scheduler=dict(type='ParamSchedulerHook'),
            checkpoint=dict(type='CheckpointHook', by_epoch=True,
                            interval=checkpoint_interval),
            sampler_seed=dict(type='DistSamplerSeedHook')),
        custom_hooks=[hook] + ([dict(type='RandomStateHook')]
                               if random_state_hook else []),
        env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'),
                     mp_cfg=dict(mp_start_method='fork')),
        randomness=dict(seed=0, deterministic=False),
        launcher=launcher,
        log_level='INFO',
        visualizer=dict(type='SegLocalVisualizer',
                        vis_backends=[dict(type='LocalVisBackend')]),
    )


def uniform_search(cfg):
    """``cfg`` (a :func:`search_cfg`) as a ``search_mode='uniform'`` search
    (SPOS), as the uniform demo configs are: no ArchUpdateHook, the weight
    optimiser alone, an unkeyed schedule, the arch half a top-level
    ``arch_dataloader``."""
    for part in ('backbone', 'decode_head'):
        cfg['model'][part]['search_mode'] = 'uniform'
    hook = next(h for h in cfg['custom_hooks']
                if h['type'] == 'ArchUpdateHook')
    # the arch half stays, top level, for the evolution's scoring
    cfg['arch_dataloader'] = hook['arch_dataloader']
    cfg['custom_hooks'] = [h for h in cfg['custom_hooks']
                           if h['type'] != 'ArchUpdateHook']
    cfg['optim_wrapper'].pop('arch')
    cfg['param_scheduler'] = cfg['param_scheduler']['weight']
    cfg['find_unused_parameters'] = True
    return cfg
