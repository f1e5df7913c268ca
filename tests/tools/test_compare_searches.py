"""tools/compare_searches.py on hand-set search checkpoints and arch files."""
import json
import math
import subprocess
import sys
from pathlib import Path

import torch

from attnas_mmseg.search import ArchSpec

REPO = Path(__file__).resolve().parents[2]
CODE = (3, 3, 2, 3, 2, 3, 2, 3, 2, 6, 3, 6, 5, 3, 2, 5, 1)


def save_search(path: Path, code, cells, tie_block=None, steps=46, lr=0.03):
    """A checkpoint shaped like a search's: alpha/beta, the hook's step count
    and the arch optimiser's lr."""
    alpha = torch.zeros(17, 6)
    for i, op in enumerate(code):
        alpha[i, op - 1] = 3.0
    if tie_block is not None:   # runner-up 0.01 behind: within noise
        alpha[tie_block - 1, code[tie_block - 1] % 6] = 2.99
    beta = torch.zeros(2, 13)
    for layer, att in cells:
        beta[layer - 1, att - 1] = 3.0
    torch.save(dict(
        state_dict={'backbone.alpha': alpha,
                    'decode_head.attention.beta': beta},
        arch_update_hook=dict(arch_steps=steps, arch_epoch=1, arch_batch=0),
        optimizer=dict(arch=dict(state={}, param_groups=[dict(lr=lr)]))),
        path)
    return path


def run(*args):
    return subprocess.run([sys.executable, 'tools/compare_searches.py',
                           *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_compare_checkpoints_and_arch_file(tmp_path):
    a = save_search(tmp_path / 'a.pth', CODE,
                    [(1, 12), (1, 13), (2, 3), (2, 7)])
    other = CODE[:16] + (2, )
    b = save_search(tmp_path / 'b.pth', other,
                    [(1, 12), (1, 13), (2, 3), (2, 8)], tie_block=5)
    arch = tmp_path / 'c.json'
    ArchSpec.parse('AttSet1(12,13)+AttSet2(3,7)',
                   'mv2(' + ','.join(map(str, CODE)) + ')').save(arch)
    out = tmp_path / 'cmp.json'
    proc = run(a, b, arch, '--json', out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = proc.stdout
    assert 'unanimous blocks 16/17' in text
    assert 'modal set shared by 2/3 runs' in text
    result = json.loads(out.read_text())
    last = result['backbone']['blocks'][16]
    assert last['ops'] == [1, 2, 1] and last['modal_op'] == 1
    assert math.isclose(last['fraction'], 2 / 3)
    # a-c identical, a-b and b-c share 3 of 5 cells
    assert math.isclose(result['attention']['mean_jaccard'],
                        (1 + 0.6 + 0.6) / 3)
    runs = result['runs']
    assert runs[2]['confidence'] is None          # an arch file
    conf_a, conf_b = runs[0]['confidence'], runs[1]['confidence']
    assert math.isclose(conf_a['sigma'], math.sqrt(1e-6 + 0.03**2 * 46))
    assert not any(blk['uncertain'] for blk in conf_a['blocks'])
    flagged = [blk['block'] for blk in conf_b['blocks'] if blk['uncertain']]
    assert flagged == [5]
    # the side-by-side margins mark block 5 of run [2] only
    row5 = next(ln for ln in text.splitlines()[::-1]
                if ln.split() and ln.split()[0] == '5')
    assert row5.count('*') == 1 and row5.rstrip().endswith('*')


def test_needs_two_runs_and_readable_files(tmp_path):
    proc = run(tmp_path / 'missing.json', tmp_path / 'missing2.json')
    assert proc.returncode != 0 and 'compare_searches: error' in proc.stderr
