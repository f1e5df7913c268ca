"""benchmarks/bench_inference.py: what each row runs, and a failed
torch.compile reported in its row instead of ending the run."""
import importlib.util
import sys
from pathlib import Path

import torch

from attnas_mmseg.deploy import count_batchnorms

from .._builders import build_segmentor

REPO = Path(__file__).resolve().parents[2]


def _script():
    sys.path.insert(0, str(REPO / 'benchmarks'))
    path = REPO / 'benchmarks' / 'bench_inference.py'
    spec = importlib.util.spec_from_file_location('bench_inference', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _script()
TINY = dict(backbone_arch=[3, 3, 2, 3, 2, 3, 2, 3, 2, 6, 3, 6, 5, 3, 2, 5, 1],
            head_arch=[[12, 13], [3, 7]])


def test_each_eager_row_runs_what_it_names(monkeypatch):
    monkeypatch.setattr(bench, 'build',
                        lambda name, state: build_segmentor(**TINY))
    cl = torch.channels_last
    for backend, bns, channels_last in [
            ('eager', True, False), ('eager+fused', False, False),
            ('eager+fused+channels_last', False, True),
            ('compile', False, True)]:
        model = bench.eager_model('AttNAS-S', backend, 'unused.pth')
        assert (count_batchnorms(model) > 0) == bns, backend
        conv = model.segmentor.backbone.conv1.conv
        assert conv.weight.is_contiguous(memory_format=cl) == channels_last


def test_a_failed_compile_is_reported_in_its_row(monkeypatch):
    def no_compiler(*args, **kwargs):
        raise RuntimeError('InvalidCxxCompiler: no working C++ compiler\n'
                           'traceback details')

    monkeypatch.setattr(bench, 'eager_model', lambda *args: None)
    monkeypatch.setattr(bench, 'compiled_step', no_compiler)
    failed = bench.measure('AttNAS-S', 'compile', (16, 32), 1, 1, 0, 1,
                           'cpu', '/tmp/state.pth', None)
    assert failed == dict(
        error='RuntimeError: InvalidCxxCompiler: no working C++ compiler')
    ok = dict(median_ms=10.0, min_ms=9.0, peak_mib=5.0, how='rss')
    size = (16, 32)
    results = {
        ('AttNAS-S', 'eager+fused', size): dict(ok, median_ms=20.0),
        (bench.BASELINE, 'eager+fused', size): ok,
        ('AttNAS-S', 'compile', size): failed,
        (bench.BASELINE, 'compile', size): dict(ok, compile_s=61.0,
                                                recompile_s=4.0)}
    rows = bench.latency_rows(results, [size], ['eager+fused', 'compile'],
                              ['AttNAS-S', bench.BASELINE])
    by_key = {(r[1], r[2]): r for r in rows}
    assert by_key[('compile', 'AttNAS-S')][3] == 'failed (below)'
    # speed-up against eager+fused of the same model; ratio to the baseline
    assert by_key[('eager+fused', 'AttNAS-S')][5:7] == ['2.00', '1.00']
    assert by_key[('compile', bench.BASELINE)][6] == '1.00'
    assert by_key[('compile', bench.BASELINE)][-1] == '61 / 4'
