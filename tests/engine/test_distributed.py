"""Two gloo processes on CPU: alpha/beta identical on both ranks afterwards."""
import os
import subprocess
import sys
from pathlib import Path

import torch
from mmengine.config import Config

from .search_cfg import search_cfg

REPO = Path(__file__).resolve().parents[2]


def test_two_process_search_keeps_arch_params_in_sync(tiny_cityscapes,
                                                       tmp_path):
    cfg = search_cfg(tiny_cityscapes, tmp_path, max_epochs=4,
                     warmup_epochs=1, launcher='pytorch')
    cfg['custom_imports']['imports'].append('tests.engine.dist_probe')
    cfg['custom_hooks'].append(dict(type='SaveArchParamsPerRank'))
    cfg['model_wrapper_cfg'] = dict(type='MMDistributedDataParallel',
                                    device_ids=None)
    cfg_path = tmp_path / 'search.py'
    Config(cfg).dump(str(cfg_path))
    env = dict(os.environ, PYTHONPATH=f'{REPO}{os.pathsep}'
               f'{os.environ.get("PYTHONPATH", "")}', OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
         '2', '--master_port', '29517', str(REPO / 'tools/train.py'),
         str(cfg_path), '--launcher', 'pytorch'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [torch.load(tmp_path / f'arch_rank{r}.pth') for r in (0, 1)]
    assert set(ranks[0]) == {'backbone.alpha', 'decode_head.attention.beta'}
    initial = torch.load(tmp_path / 'epoch_1.pth')['state_dict']
    for name in ranks[0]:
        assert torch.equal(ranks[0][name], ranks[1][name]), name
        assert not torch.equal(ranks[0][name], initial[name]), name
