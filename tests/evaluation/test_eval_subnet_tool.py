"""tools/eval_subnet.py as a user runs it."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from attnas_mmseg.search.space.arch_spec import ArchSpec
from attnas_mmseg.search.space.search_modes import (NO_ARCH_STEP_MODES,
                                                    SEARCH_MODES)

from .subnet_setup import SPEC_A, write_search

REPO = Path(__file__).resolve().parents[2]


def eval_subnet(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, 'tools/eval_subnet.py', *args],
                          cwd=REPO, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope='module')
def search(tiny_cityscapes, tmp_path_factory):
    return write_search(tiny_cityscapes, tmp_path_factory.mktemp('search'))


def test_prints_and_writes_the_metrics_of_an_arch_json(search, tmp_path):
    cfg, ckpt = search
    arch = ArchSpec.parse_arch(SPEC_A).save(tmp_path / 'arch.json')
    out = tmp_path / 'metrics.json'
    proc = eval_subnet(str(cfg), str(ckpt), '--arch', str(arch), '--split',
                       'arch', '--calib-batches', '1', '--flops-size', '64',
                       '128', '--out', str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f'subnet: {SPEC_A}' in proc.stdout
    record = json.loads(out.read_text())
    assert record['arch'] == SPEC_A
    assert record['split'] == 'arch' and record['calib_batches'] == 1
    assert set(record['metrics']) >= {'aAcc', 'mIoU', 'mAcc'}
    assert f'mIoU {record["metrics"]["mIoU"]:.2f}' in proc.stdout
    assert record['flops_input_size'] == [64, 128]
    assert record['flops_G'] > 0 and record['params_M'] > 0
    assert f'params {record["params_M"]:.2f}M' in proc.stdout


def tool_main():
    import runpy
    return runpy.run_path(str(REPO / 'tools' / 'eval_subnet.py'))['main']


@pytest.mark.parametrize('args, message', [
    (['--calib-batches', '0'], 'calib_batches must be an int >= 1'),
    (['--split', 'arch', '--calib-batches', '1'],
     'spec: has no backbone code'),
])
def test_bad_input_is_one_line_naming_the_field(search, tmp_path, args,
                                                message):
    cfg, ckpt = search
    out = tmp_path / 'metrics.json'
    with pytest.raises(SystemExit) as exit_:
        tool_main()([str(cfg), str(ckpt), '--arch', 'AttSet1(2,5)',
                     '--out', str(out), *args])
    assert str(exit_.value).startswith(f'eval_subnet: error: {message}')
    assert not out.exists()


@pytest.mark.parametrize('mode', SEARCH_MODES)
def test_scores_a_real_search_checkpoint_of_every_mode(tiny_cityscapes,
                                                       tmp_path, mode):
    # one epoch of a real search (Runner, hook or not) in each mode; the
    # tool reads its checkpoint as a user's (issue 17: every mode)
    from mmengine.config import Config
    from mmengine.runner import Runner

    from ..engine.search_cfg import search_cfg, uniform_search
    cfg = search_cfg(tiny_cityscapes, tmp_path / 'run', max_epochs=1,
                     warmup_epochs=0)
    if mode in NO_ARCH_STEP_MODES:
        cfg = uniform_search(cfg)
    else:
        for part in ('backbone', 'decode_head'):
            cfg['model'][part]['search_mode'] = mode
        cfg['find_unused_parameters'] = mode != 'darts'
    Runner.from_cfg(Config(cfg)).train()
    config = tmp_path / 'search.py'
    Config(cfg).dump(str(config))
    out = tmp_path / 'metrics.json'
    main = tool_main()
    main([str(config), str(tmp_path / 'run' / 'epoch_1.pth'), '--arch',
          SPEC_A, '--split', 'arch', '--calib-batches', '1',
          '--flops-size', '64', '128', '--out', str(out)])
    record = json.loads(out.read_text())
    assert record['arch'] == SPEC_A
    assert 0 <= record['metrics']['mIoU'] <= 100
