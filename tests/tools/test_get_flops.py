"""tools/get_flops.py as a user runs it: Table 1 and a config's model."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(*args):
    proc = subprocess.run([sys.executable, 'tools/get_flops.py', *args],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_config_flops_both_counts():
    out = run('configs/attnas_s_cityscapes.py', '--shape', '256', '512')
    lines = {l.split(':')[0]: l for l in out.splitlines() if ':' in l}
    paper = float(lines['FLOPs (paper convention)'].split()[-1][:-1])
    complete = float(lines['FLOPs (complete, mmengine)'].split()[-1][:-1])
    # about 1/16 of the 1024x2048 figure (27.69G); the counts agree
    assert abs(paper - 27.69 / 16) / (27.69 / 16) < 0.02
    assert abs(complete - paper) / paper < 0.02
    assert 'Params: 2.32M' in out


def test_config_with_an_mmseg_head():
    out = run('configs/baselines/deeplabv3_mobilenet-v2-d16_4xb2-80k_'
              'cityscapes-512x1024.py', '--shape', '256', '512')
    paper = float(out.split('FLOPs (paper convention): ')[1].split('G')[0])
    assert abs(paper - 40.90 / 16) / (40.90 / 16) < 0.02
    assert 'Params: 4.45M' in out
