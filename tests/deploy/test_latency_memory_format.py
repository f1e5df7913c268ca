"""A latency table records the memory format it was timed in: parts are timed
in it, a table for one format is refused where the other is asked for, and a
table written before the setting existed is read as what it was (NCHW)."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

import attnas_mmseg.deploy.latency_measure as latency_measure
from attnas_mmseg.deploy.latency_measure import lut_settings
from attnas_mmseg.models import build_segmentor
from attnas_mmseg.search.cost.latency_parts import latency_parts
from attnas_mmseg.search.cost.latency_table import (LatencyLUT,
                                                    load_latency_table)

from .._builders import segmentor_cfg

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / 'configs/demo/attnas-search_demo_synthetic-cityscapes-'
             '64x128.py')
TINY = ['--input-size', '32', '64', '--runs', '1', '--warmup', '0']
SIZE = (32, 64)


def _tool():
    path = REPO / 'tools' / 'build_latency_lut.py'
    spec = importlib.util.spec_from_file_location('build_latency_lut', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: AttNAS-S: a fixed network, few parts.
ATTNAS_S = segmentor_cfg(
    backbone_arch=[3, 3, 2, 3, 2, 3, 2, 3, 2, 6, 3, 6, 5, 3, 2, 5, 1],
    head_arch=[[12, 13], [3, 7]])


@pytest.fixture(scope='module')
def seg():
    return build_segmentor(ATTNAS_S, device='meta')


def _lut(path, seg, settings):
    """A complete hand-written LUT (1 ms an entry) with ``settings``."""
    lut = LatencyLUT(path, settings)
    for part in latency_parts(seg, SIZE):
        lut.entries[part.key] = dict(ms=1.0, label='')
    lut.save()
    return lut


def test_settings_record_the_memory_format():
    assert lut_settings('torch', 'cpu', 1, SIZE)['memory_format'] == \
        'channels_last'
    assert lut_settings('torch', 'cpu', 1, SIZE, 'contiguous')[
        'memory_format'] == 'contiguous'
    assert lut_settings('onnxruntime', 'cpu', 1, SIZE)['memory_format'] \
        is None
    with pytest.raises(ValueError, match='memory_format must be one of'):
        lut_settings('torch', 'cpu', 1, SIZE, 'nhwc')
    with pytest.raises(ValueError, match='applies to backend torch only'):
        lut_settings('onnxruntime', 'cpu', 1, SIZE, 'channels_last')


@pytest.mark.parametrize('fmt', ['channels_last', 'contiguous'])
def test_parts_are_timed_in_the_tables_format(fmt, monkeypatch):
    seen = []

    def fake_time_module(module, inputs, **kwargs):
        conv = next(m for m in module.modules()
                    if isinstance(m, torch.nn.Conv2d))
        seen.append([t.is_contiguous(memory_format=torch.channels_last)
                     for t in (conv.weight, inputs[0])])
        return [1e-3]

    monkeypatch.setattr(latency_measure, 'time_module', fake_time_module)
    parts = latency_parts(build_segmentor(ATTNAS_S), SIZE)
    stem = next(p for p in parts if p.name == 'stem')
    latency_measure.measure_part(
        stem, lut_settings('torch', 'cpu', 1, SIZE, fmt), runs=1, warmup=0)
    want = fmt == 'channels_last'
    assert seen == [[want, want]]


def test_tool_refuses_a_table_of_the_other_format(tmp_path):
    tool = _tool()
    for built, asked, flag in [
            ('channels_last', 'contiguous', []),  # the default
            ('contiguous', 'channels_last', ['--memory-format',
                                             'contiguous'])]:
        out = tmp_path / f'{built}.json'
        tool.main([CONFIG, *TINY, *flag, '--limit', '1', '--out', str(out)])
        data = json.loads(out.read_text())
        assert data['settings']['memory_format'] == built
        assert all(e['ms'] > 0 for e in data['entries'].values())
        with pytest.raises(SystemExit, match=f"memory_format \\(LUT "
                           f"'{built}', wanted '{asked}'\\)"):
            tool.main([CONFIG, *TINY, '--memory-format', asked, '--out',
                       str(out)])
    with pytest.raises(SystemExit, match='applies to backend torch only'):
        tool.main([CONFIG, *TINY, '--backend', 'onnxruntime',
                   '--memory-format', 'channels_last', '--out',
                   str(tmp_path / 'ort.json')])


@pytest.mark.parametrize('built,asked', [('contiguous', 'channels_last'),
                                         ('channels_last', 'contiguous')])
def test_loads_what_the_file_says_and_refuses_another_format_asked_for(
        built, asked, tmp_path, seg):
    lut = _lut(tmp_path / 'lut.json', seg,
               lut_settings('torch', 'cpu', 1, SIZE, built))
    # ArchUpdateHook and the derivation ask for no setting: either loads
    assert load_latency_table(lut.path, seg).unit == 'ms'
    load_latency_table(lut.path, seg, memory_format=built)
    with pytest.raises(ValueError, match=f"memory_format \\(LUT '{built}'"):
        load_latency_table(lut.path, seg, memory_format=asked)


def test_a_table_from_before_the_setting_was_timed_nchw(tmp_path,
                                                        seg):
    lut = _lut(tmp_path / 'old.json', seg,
               lut_settings('torch', 'cpu', 1, SIZE, 'contiguous'))
    data = json.loads(lut.path.read_text())
    del data['settings']['memory_format']
    lut.path.write_text(json.dumps(data))
    assert LatencyLUT.load(lut.path).settings['memory_format'] == \
        'contiguous'
    assert load_latency_table(lut.path, seg).unit == 'ms'
    load_latency_table(lut.path, seg, memory_format='contiguous')
    with pytest.raises(ValueError, match='predates the memory_format '
                       "setting: its entries were timed 'contiguous'"):
        load_latency_table(lut.path, seg,
                           memory_format='channels_last')
    # adding to it with today's default is refused the same way; asking for
    # what it was continues it, and the file then says so
    with pytest.raises(ValueError, match='predates'):
        LatencyLUT.open(lut.path, lut_settings('torch', 'cpu', 1, SIZE))
    cont = LatencyLUT.open(lut.path, lut_settings('torch', 'cpu', 1, SIZE,
                                                  'contiguous'))
    cont.save()
    assert json.loads(lut.path.read_text())['settings'][
        'memory_format'] == 'contiguous'
    # an old onnxruntime table: no memory format to speak of
    data['settings'].update(backend='onnxruntime')
    lut.path.write_text(json.dumps(data))
    assert LatencyLUT.load(lut.path).settings['memory_format'] is None
