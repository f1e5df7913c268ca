"""``bash tools/dist_train.sh`` / ``tools/dist_test.sh`` with two gloo
processes on CPU, on a config written as MMSeg's: no ``model_wrapper_cfg`` and
SyncBN layers (the shipped configs' norm). alpha/beta and every weight end
identical on both ranks; BN statistics are per rank (SyncBN needs GPUs and is
reverted to BN) and the checkpoint holds rank 0's, as docs/resume_and_dist.md
says; a two-process test scores what a one-process test scores."""
import os
import re
import subprocess
import sys
from pathlib import Path

import torch
from mmengine.config import Config

from .search_cfg import search_cfg
from .search_cfg import uniform_search

REPO = Path(__file__).resolve().parents[2]
SYNC_BN = dict(type='SyncBN', requires_grad=True)


def run(args, **env):
    env = dict(os.environ, OMP_NUM_THREADS='1', **env)
    env.pop('PORT', None)  # the dist scripts' launcher then binds a free port itself
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    return output


def miou(output: str) -> float:
    found = re.findall(r'Epoch\(test\).*mIoU: ([0-9.]+)', output)
    assert found, output[-3000:]
    return float(found[-1])


def readme_style_config(root, work_dir):
    cfg = search_cfg(root, work_dir, max_epochs=2, warmup_epochs=1)
    cfg['model']['backbone']['norm_cfg'] = SYNC_BN
    cfg['model']['decode_head']['norm_cfg'] = SYNC_BN
    cfg['custom_imports']['imports'].append('tests.engine.dist_probe')
    cfg['custom_hooks'].append(dict(type='SaveArchParamsPerRank'))
    cfg['test_dataloader'] = dict(
        batch_size=1, num_workers=0, persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='CityscapesDataset', data_root=str(root),
            data_prefix=dict(img_path='leftImg8bit/val',
                             seg_map_path='gtFine/val'),
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='Resize', scale=(128, 64), keep_ratio=False),
                      dict(type='LoadAnnotations'),
                      dict(type='PackSegInputs')]))
    cfg['test_evaluator'] = dict(type='IoUMetric', iou_metrics=['mIoU'])
    cfg['test_cfg'] = dict(type='TestLoop')
    assert 'model_wrapper_cfg' not in cfg
    return cfg


def test_dist_train_and_test_scripts_on_cpu(tiny_cityscapes, tmp_path):
    cfg_path = tmp_path / 'search.py'
    Config(readme_style_config(tiny_cityscapes, tmp_path)).dump(str(cfg_path))
    pythonpath = f'{REPO}{os.pathsep}{os.environ.get("PYTHONPATH", "")}'
    output = run(['bash', 'tools/dist_train.sh', str(cfg_path), '2'],
                 PYTHONPATH=pythonpath)
    assert 'SyncBN layers reverted to BN' in output

    arch = [torch.load(tmp_path / f'arch_rank{r}.pth') for r in (0, 1)]
    assert set(arch[0]) == {'backbone.alpha', 'decode_head.attention.beta'}
    saved = torch.load(tmp_path / 'epoch_2.pth')
    assert len(saved['random_state']['states']) == 2  # RandomStateHook, per rank
    ckpt = saved['state_dict']
    initial = torch.load(tmp_path / 'epoch_1.pth')['state_dict']
    for name in arch[0]:
        assert torch.equal(arch[0][name], arch[1][name]), name
        assert not torch.equal(arch[0][name], initial[name]), name
    states = [torch.load(tmp_path / f'state_rank{r}.pth') for r in (0, 1)]
    stats = [k for k in ckpt if k.endswith(('running_mean', 'running_var'))]
    assert stats
    for name, value in ckpt.items():
        assert torch.equal(value, states[0][name]), name  # rank 0's model
        if name not in stats and not name.endswith('num_batches_tracked'):
            assert torch.equal(states[0][name], states[1][name]), name
    # each rank normalised its own batches: its own running statistics
    assert any(not torch.equal(states[0][k], states[1][k]) for k in stats)

    checkpoint = str(tmp_path / 'epoch_2.pth')
    two = run(['bash', 'tools/dist_test.sh', str(cfg_path), checkpoint, '2',
               '--work-dir', str(tmp_path / 'test2')],
              PYTHONPATH=pythonpath)
    one = run([sys.executable, 'tools/test.py', str(cfg_path), checkpoint,
               '--work-dir', str(tmp_path / 'test1')])
    assert miou(two) == miou(one)


def test_gumbel_search_under_dist_train(tiny_cityscapes, tmp_path):
    """The sampled-path mode under 2-process DDP: each rank runs the path it
    sampled, ``find_unused_parameters`` (as the gumbel search config sets it)
    lets DDP reduce the rest, and alpha/beta stay identical on both ranks."""
    cfg = readme_style_config(tiny_cityscapes, tmp_path)
    for part in ('backbone', 'decode_head'):
        cfg['model'][part]['search_mode'] = 'gumbel'
    cfg['find_unused_parameters'] = True
    cfg_path = tmp_path / 'search.py'
    Config(cfg).dump(str(cfg_path))
    pythonpath = f'{REPO}{os.pathsep}{os.environ.get("PYTHONPATH", "")}'
    run(['bash', 'tools/dist_train.sh', str(cfg_path), '2'],
        PYTHONPATH=pythonpath)
    arch = [torch.load(tmp_path / f'arch_rank{r}.pth') for r in (0, 1)]
    initial = torch.load(tmp_path / 'epoch_1.pth')['state_dict']
    for name in arch[0]:
        assert torch.equal(arch[0][name], arch[1][name]), name
        assert not torch.equal(arch[0][name], initial[name]), name
    states = [torch.load(tmp_path / f'state_rank{r}.pth') for r in (0, 1)]
    for name, value in states[0].items():
        if not name.endswith(('running_mean', 'running_var',
                              'num_batches_tracked')):
            assert torch.equal(value, states[1][name]), name


def test_uniform_search_under_dist_train(tiny_cityscapes, tmp_path):
    """A uniform (SPOS) search under 2-process DDP: no ArchUpdateHook, one
    weight optimiser; every weight ends identical on both ranks, and
    alpha/beta are saved, identical and never moved."""
    cfg = uniform_search(readme_style_config(tiny_cityscapes, tmp_path))
    cfg_path = tmp_path / 'search.py'
    Config(cfg).dump(str(cfg_path))
    pythonpath = f'{REPO}{os.pathsep}{os.environ.get("PYTHONPATH", "")}'
    run(['bash', 'tools/dist_train.sh', str(cfg_path), '2'],
        PYTHONPATH=pythonpath)
    arch = [torch.load(tmp_path / f'arch_rank{r}.pth') for r in (0, 1)]
    initial = torch.load(tmp_path / 'epoch_1.pth')['state_dict']
    final = torch.load(tmp_path / 'epoch_2.pth')['state_dict']
    assert set(arch[0]) == {'backbone.alpha', 'decode_head.attention.beta'}
    for name in arch[0]:
        assert torch.equal(arch[0][name], arch[1][name]), name
        assert torch.equal(arch[0][name], initial[name]), name
    states = [torch.load(tmp_path / f'state_rank{r}.pth') for r in (0, 1)]
    for name, value in states[0].items():
        if not name.endswith(('running_mean', 'running_var',
                              'num_batches_tracked')):
            assert torch.equal(value, states[1][name]), name
    assert any(not torch.equal(initial[k], final[k]) for k in final
               if k.startswith('backbone.layer'))
