"""tools/derive_arch.py on bad input: one line naming the culprit, no files."""
import subprocess
import sys
from pathlib import Path

import torch

from ..search.test_derive import search_run  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[2]


def derive(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, 'tools/derive_arch.py', *args],
                          cwd=REPO, capture_output=True, text=True)


def test_topk_zero_and_a_tensor_checkpoint_are_one_line_errors(
        search_run, tmp_path):  # noqa: F811
    cfg, ckpt = search_run
    out = tmp_path / 'out'
    proc = derive(str(cfg), str(ckpt), '--out-dir', str(out), '--topk', '0')
    assert proc.returncode != 0 and not out.exists()
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith('derive_arch: error: topk must be an int in '
                                '1..L*13'), proc.stderr[-2000:]
    assert 'Traceback' not in proc.stderr

    tensor = tmp_path / 'tensor.pth'
    torch.save(torch.zeros(3), tensor)
    proc = derive(str(cfg), str(tensor), '--out-dir', str(out))
    assert proc.returncode != 0 and not out.exists()
    assert 'Traceback' not in proc.stderr, proc.stderr[-2000:]
    assert f'{tensor} holds a Tensor' in proc.stderr
