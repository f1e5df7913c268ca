"""tools/build_latency_lut.py as a user runs it: build, interrupt, continue,
refuse other settings; both backends; the table it gives."""
import importlib.util
import json
from pathlib import Path

import pytest

from attnas_mmseg.models import build_segmentor
from attnas_mmseg.search.cost.latency_table import load_latency_table

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / 'configs/demo/attnas-search_demo_synthetic-cityscapes-'
             '64x128.py')
TINY = ['--input-size', '32', '64', '--runs', '2', '--warmup', '1']


def _tool():
    path = REPO / 'tools' / 'build_latency_lut.py'
    spec = importlib.util.spec_from_file_location('build_latency_lut', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entries(path: Path) -> dict:
    return json.loads(path.read_text())['entries']


def test_interrupted_build_continues(tmp_path, capsys):
    tool, out = _tool(), tmp_path / 'lut.json'
    tool.main([CONFIG, *TINY, '--out', str(out), '--limit', '4'])
    first = _entries(out)
    assert len(first) == 4
    assert '4/89 of this model\'s entries present, 85 left' in \
        capsys.readouterr().out
    tool.main([CONFIG, *TINY, '--out', str(out)])
    assert 'timed 85 entries now; 89/89' in capsys.readouterr().out
    done = _entries(out)
    assert len(done) == 89
    # the first four were kept, not timed again
    assert {k: done[k] for k in first} == first
    assert all(e['ms'] > 0 and e['runs'] == 2 for e in done.values())
    # block 5 and 6 share their entries (same op, shape, stride, widths)
    shared = [e for e in done.values() if 'block5.op3' in e['parts']]
    assert len(shared) == 1 and 'block6.op3' in shared[0]['parts']
    tool.main([CONFIG, *TINY, '--out', str(out)])
    assert 'timed 0 entries now' in capsys.readouterr().out
    assert _entries(out) == done

    table = load_latency_table(out, build_segmentor(CONFIG, device='meta'),
                               backend='torch', threads=1)
    assert table.unit == 'ms' and table.input_size == (32, 64)
    assert table.backbone.shape == (17, 6) and table.attention.shape == (13,)
    assert (table.backbone > 0).all() and (table.attention > 0).all()
    assert table.fixed > 0

    for flag, key in [(['--threads', '2'], 'threads'),
                      (['--backend', 'onnxruntime'], 'backend'),
                      (['--input-size', '64', '128'], 'input_size')]:
        with pytest.raises(SystemExit, match=key):
            tool.main([CONFIG, *TINY, '--out', str(out), *flag])
    assert _entries(out) == done


def test_onnxruntime_entries(tmp_path, capsys):
    out = tmp_path / 'lut_ort.json'
    _tool().main([CONFIG, *TINY, '--backend', 'onnxruntime', '--limit', '3',
                  '--out', str(out)])
    data = json.loads(out.read_text())
    assert data['settings']['backend'] == 'onnxruntime'
    assert 'onnxruntime' in data['settings']['versions']
    assert len(data['entries']) == 3
    assert all(e['ms'] > 0 for e in data['entries'].values())
