import importlib.util
import json
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.colors import to_rgb

from attnas_mmseg.search.space.arch_spec import ArchSpec
from attnas_mmseg.visualization import (load_history, plot_evolution,
                                        plot_module)
from attnas_mmseg.visualization.arch_plots import KIND_COLOURS

_TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'plot_arch.py'
_spec = importlib.util.spec_from_file_location('plot_arch_tool', _TOOL)
plot_arch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plot_arch)

S_SPEC = ArchSpec.parse('AttSet1(12,13)+AttSet2(3,7)',
                        'mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1)',
                        meta=dict(flops_paper_G=27.7, params_M=2.32,
                                  input_size=[1024, 2048],
                                  op_order='kernel_major'))


def _softmax(x, axis=None):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def write_history(path, steps=6, with_alpha=True, first_step=1):
    """Records with exactly ArchUpdateHook's keys."""
    rng = np.random.default_rng(0)
    with open(path, 'a') as f:
        for t in range(first_step, first_step + steps):
            beta = _softmax(rng.normal(size=(2, 13)) * t / steps)
            alpha = _softmax(rng.normal(size=(17, 6)), axis=-1)
            rec = dict(iter=10 * t, arch_step=t, arch=str(S_SPEC),
                       arch_ce=2.0 / t, loss_flops=0.1 * t,
                       flops_pred_G=40.0 - t, entropy_beta=3.0 - 0.1 * t,
                       beta=beta.tolist(),
                       alpha=alpha.tolist() if with_alpha else None)
            if with_alpha:
                rec['entropy_alpha'] = 1.7 - 0.05 * t
            f.write(json.dumps(rec) + '\n')
    return path


def read_png(path):
    image = mpimg.imread(str(path))
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    return image[..., :3]


def has_colour(image, colour, min_pixels=100):
    hit = np.all(np.abs(image - np.array(to_rgb(colour))) < 2 / 255, axis=-1)
    return int(hit.sum()) >= min_pixels


def n_colours(image):
    return len(np.unique((image * 255).round().reshape(-1, 3), axis=0))


@pytest.mark.parametrize('with_alpha', [True, False])
def test_evolution_png(tmp_path, with_alpha):
    history = write_history(tmp_path / 'arch_history.jsonl',
                            with_alpha=with_alpha)
    out = plot_evolution(history, tmp_path / 'evo.png', spec=S_SPEC)
    image = read_png(out)
    h, w = image.shape[:2]
    assert 600 <= w <= 4000 and 400 <= h <= 4000
    assert n_colours(image) > 50  # heatmap, lines, text
    if with_alpha:  # the 17 alpha panels make the figure taller
        assert h > 1200


def test_module_png_colours_by_kind(tmp_path):
    image = read_png(plot_module(S_SPEC, tmp_path / 'module.png'))
    h, w = image.shape[:2]
    assert 600 <= w <= 4000 and 200 <= h <= 2000
    # AttNAS-S: Att12 (global spatial), Att13 (channel), Att3/Att7 (local).
    for colour in KIND_COLOURS.values():
        assert has_colour(image, colour)
    # AttNAS-L has no global spatial attention: its colour must not appear.
    image = read_png(plot_module('AttSet1(7,8,13)+AttSet2(7)',
                                 tmp_path / 'module_l.png'))
    assert has_colour(image, KIND_COLOURS['local spatial'])
    assert has_colour(image, KIND_COLOURS['channel'])
    assert not has_colour(image, KIND_COLOURS['global spatial'], 1)


def test_load_history_merges_resumed_runs(tmp_path):
    # A resumed search logs into a new <timestamp>/ dir and repeats the arch
    # steps after its checkpoint (3, 4 here); the later records win.
    for run in ('run1', 'run2'):
        (tmp_path / run).mkdir()
    first = write_history(tmp_path / 'run1' / 'arch_history.jsonl', steps=4)
    write_history(tmp_path / 'run2' / 'arch_history.jsonl', steps=4,
                  first_step=3)
    records = load_history(tmp_path)
    assert [r['arch_step'] for r in records] == list(range(1, 7))
    second = load_history(tmp_path / 'run2' / 'arch_history.jsonl')
    assert records[2] == second[0]
    assert len(load_history(first)) == 4


def test_load_history_errors(tmp_path):
    path = tmp_path / 'bad.jsonl'
    path.write_text(json.dumps(dict(iter=1, arch_step=1)) + '\n')
    with pytest.raises(ValueError, match='missing keys'):
        load_history(path)
    path.write_text(json.dumps(dict(iter=1, arch_step=1, arch='AttSet1(1)',
                                    flops_pred_G=1.0, alpha=None,
                                    beta=[[0.5, 0.5]])) + '\n')
    with pytest.raises(ValueError, match='beta'):
        load_history(path)
    with pytest.raises(FileNotFoundError):
        load_history(tmp_path / 'missing.jsonl')


def test_tool(tmp_path, capsys):
    history = write_history(tmp_path / 'arch_history.jsonl')
    arch = S_SPEC.save(tmp_path / 'arch.json')
    out = tmp_path / 'out'
    plot_arch.main(['--history', str(history), '--arch', str(arch),
                    '--out-dir', str(out)])
    assert (out / 'arch_evolution.png').is_file()
    assert (out / 'arch_module.png').is_file()
    with pytest.raises(SystemExit, match='exist'):
        plot_arch.main(['--arch', str(arch), '--out-dir', str(out)])
    plot_arch.main(['--arch', str(arch), '--out-dir', str(tmp_path / 'a')])
    assert not (tmp_path / 'a' / 'arch_evolution.png').exists()
    with pytest.raises(SystemExit, match='give --history'):
        plot_arch.main(['--out-dir', str(out)])
