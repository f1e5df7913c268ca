"""A real ``tools/train.py`` search killed with SIGKILL once its first
checkpoint is on disk, then continued with ``--resume``, ends bit-identical to
an uninterrupted run: alpha, beta, every weight, every BN buffer and both
optimisers, with random flips, photometric distortion and dropout on and the
``RandomStateHook`` of the shipped search configs."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from mmengine.config import Config

from ..engine.search_cfg import search_cfg

REPO = Path(__file__).resolve().parents[2]
MAX_EPOCHS = 3


def train(cfg_path: Path, work_dir: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.Popen(
        [sys.executable, str(REPO / 'tools/train.py'), str(cfg_path),
         '--work-dir', str(work_dir), *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def finish(proc: subprocess.Popen) -> None:
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output[-4000:]


def tensors(checkpoint: dict) -> dict:
    """Every tensor of the model and of both optimisers, by a flat name."""
    out = {f'state_dict.{k}': v for k, v in checkpoint['state_dict'].items()}
    for name, optimizer in checkpoint['optimizer'].items():
        for param, slots in optimizer['state'].items():
            out.update({f'optimizer.{name}.{param}.{k}': v
                        for k, v in slots.items() if torch.is_tensor(v)})
    return out


def test_sigkill_then_resume_equals_uninterrupted(tiny_cityscapes, tmp_path):
    cfg = search_cfg(tiny_cityscapes, tmp_path, max_epochs=MAX_EPOCHS,
                     warmup_epochs=0, warmup_iters=1,
                     schedule_epochs=MAX_EPOCHS, augment=True,
                     dropout_ratio=0.1)
    assert dict(type='RandomStateHook') in cfg['custom_hooks']
    cfg_path = tmp_path / 'search.py'
    Config(cfg).dump(str(cfg_path))

    straight = train(cfg_path, tmp_path / 'straight')
    killed_dir = tmp_path / 'killed'
    victim = train(cfg_path, killed_dir)
    last = killed_dir / 'last_checkpoint'  # written after the .pth is whole
    deadline = time.monotonic() + 300
    while not last.exists() and victim.poll() is None and \
            time.monotonic() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    output, _ = victim.communicate(timeout=60)
    assert victim.returncode == -signal.SIGKILL, output[-4000:]
    resume_from = Path(last.read_text().strip()).name
    assert resume_from != f'epoch_{MAX_EPOCHS}.pth'  # it was killed mid-search

    finish(train(cfg_path, killed_dir, '--resume'))
    finish(straight)
    logs = ''.join(p.read_text() for p in killed_dir.glob('*/*.log'))
    assert f'Auto resumed from the latest checkpoint {killed_dir / resume_from}' \
        in logs

    final = f'epoch_{MAX_EPOCHS}.pth'
    a = torch.load(tmp_path / 'straight' / final)
    b = torch.load(killed_dir / final)
    ta, tb = tensors(a), tensors(b)
    assert ta.keys() == tb.keys()
    for name in ('state_dict.backbone.alpha',
                 'state_dict.decode_head.attention.beta'):
        assert name in ta
    assert any(k.endswith('running_var') for k in ta)
    assert sorted(k for k in ta if not torch.equal(ta[k], tb[k])) == []
    assert a['arch_update_hook'] == b['arch_update_hook']
    assert a['meta']['iter'] == b['meta']['iter']
