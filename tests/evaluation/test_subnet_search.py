"""The evolutionary subnet search (evaluation/subnet_search.py and
tools/search_subnet.py): windows, resume, refusals, and the tool end to end
on a tiny supernet with the real SubnetEvaluator."""
import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from attnas_mmseg.evaluation import subnet_search
from attnas_mmseg.evaluation.subnet_evaluator import SubnetEvaluator
from attnas_mmseg.evaluation.subnet_search import (CANDIDATES_FILE,
                                                   STATE_FILE, search_subnet)
from attnas_mmseg.export.random_arch import flops_range, search_flops_table
from attnas_mmseg.search.cost.flops import FLOPS_PER_G
from attnas_mmseg.search.space.arch_spec import ArchSpec

from .._builders import segmentor_cfg
from ..engine.test_arch_step_descent import write_lut
from .subnet_setup import write_search

REPO = Path(__file__).resolve().parents[2]
#: A small run: 6 scored per generation, 2 mutants + 2 children of the top 2.
SMALL = dict(population=6, generations=2, top_k=2, num_mutation=2,
             num_crossover=2)
HIDDEN = {(0, 3), (0, 8), (1, 1), (1, 12)}


class Interrupted(Exception):
    pass


class HiddenTarget:
    """An evaluator whose mIoU is 10 per attention cell in a hidden set plus
    1 per block on op 6; it remembers what it scored and can be stopped."""

    def __init__(self, stop_after=None):
        self.calls, self.stop_after = [], stop_after

    def evaluate(self, spec):
        if self.stop_after is not None and \
                len(self.calls) >= self.stop_after:
            raise Interrupted
        self.calls.append(str(spec))
        cells = {(i, a) for i, ids in enumerate(spec.attention) for a in ids}
        return {'mIoU': 10.0 * len(cells & HIDDEN) +
                sum(op == 6 for op in spec.backbone), 'aAcc': 0.0}


@pytest.fixture(scope='module')
def search_files(tiny_cityscapes, tmp_path_factory):
    """(config, checkpoint, FLOPs target in G): the tiny search with a
    retrain base; the target halfway across its space at 64x128."""
    out = tmp_path_factory.mktemp('subnet_search')
    config, ckpt = write_search(tiny_cityscapes, out)
    Config(dict(model=segmentor_cfg(num_classes=19, channels=32),
                custom_imports=dict(imports=['attnas_mmseg']))).dump(
                    str(out / 'retrain_base.py'))
    cfg = Config.fromfile(str(config))
    cfg.derive = dict(topk=4, input_size=(64, 128),
                      retrain_base='retrain_base.py')
    cfg.dump(str(config))
    low, high = flops_range(_table(str(config)), 4)
    return str(config), str(ckpt), (low + high) / 2 / FLOPS_PER_G


def records(work: Path):
    lines = (work / CANDIDATES_FILE).read_text().splitlines()
    return json.loads(lines[0]), [json.loads(x) for x in lines[1:]]


@pytest.fixture(autouse=True)
def built_once(monkeypatch):
    """The real FLOPs table of a config, built once for the module (each
    build counts every candidate of the space: seconds)."""
    monkeypatch.setattr(subnet_search, 'search_flops_table', _table)


@functools.lru_cache()
def _table(config, input_size=None):
    return search_flops_table(config, input_size)


def run(search_files, work, evaluator, **kw):
    config, ckpt, target = search_files
    return search_subnet(config, ckpt, str(work),
                         **dict(dict(SMALL, flops_target=target, window=0.1,
                                     evaluator=evaluator), **kw))


def test_best_within_the_window_and_every_candidate_logged(search_files,
                                                           tmp_path):
    target = search_files[2]
    evaluator = HiddenTarget()
    best = run(search_files, tmp_path, evaluator)
    _, logged = records(tmp_path)
    assert [r['spec'] for r in logged] == evaluator.calls
    assert len(set(evaluator.calls)) == len(evaluator.calls) == 12
    assert all(0.9 * target <= r['costs']['flops_G'] <= 1.1 * target
               for r in logged)
    top = max(logged, key=lambda r: r['score'])
    assert str(best) == top['spec']
    # arch.json: the network built from it, counted, is inside the window
    saved = ArchSpec.load(tmp_path / 'arch.json')
    assert saved == best and (tmp_path / 'retrain.py').exists()
    assert 0.9 * target <= saved.meta['flops_paper_G'] <= 1.1 * target
    assert saved.meta['flops_paper_G'] == pytest.approx(
        top['costs']['flops_G'], rel=1e-4)
    found = saved.meta['evolution']
    assert found['score_mIoU'] == top['score']
    assert found['generations'] == 2 and found['evaluated'] == 12
    assert found['settings']['population'] == 6
    assert found['checkpoint'] == search_files[1]
    retrain = Config.fromfile(str(tmp_path / 'retrain.py'))
    assert retrain.model.backbone.arch == list(best.backbone)


def test_rerun_skips_finished_generations_and_scored_candidates(
        search_files, tmp_path):
    whole = tmp_path / 'whole'
    run(search_files, whole, HiddenTarget(), generations=3)
    # killed in generation 2, after 3 of its candidates
    work = tmp_path / 'work'
    with pytest.raises(Interrupted):
        run(search_files, work, HiddenTarget(stop_after=6 + 3),
            generations=3)
    assert json.loads((work / STATE_FILE).read_text())['evolution'][
        'generation'] == 1
    assert len(records(work)[1]) == 9
    again = HiddenTarget()
    best = run(search_files, work, again, generations=3)
    done = [r['spec'] for r in records(whole)[1]]
    assert again.calls == done[9:]       # nothing scored twice
    assert (work / STATE_FILE).read_text() == (whole / STATE_FILE
                                               ).read_text()
    assert records(work) == records(whole)
    assert str(best) == str(ArchSpec.load(whole / 'arch.json'))
    # a finished run scores nothing (and builds no evaluator)
    finished = HiddenTarget()
    run(search_files, work, finished, generations=3)
    assert finished.calls == []
    # more generations extend it: only the new one is scored
    more = HiddenTarget()
    run(search_files, work, more, generations=4)
    assert len(more.calls) == 6 and not set(more.calls) & set(done)


def test_other_settings_are_refused(search_files, tmp_path):
    run(search_files, tmp_path, HiddenTarget())
    for change, key in [(dict(mutate_prob=0.5), 'settings.mutate_prob'),
                        (dict(window=0.2), 'window'),
                        (dict(split='val'), 'split')]:
        with pytest.raises(ValueError, match=rf'other settings: .*{key} '
                           r'\(saved .*Use another work_dir'):
            run(search_files, tmp_path, HiddenTarget(), **change)


def test_bad_targets_are_clear_errors(search_files, tmp_path):
    config, ckpt, target = search_files
    with pytest.raises(ValueError, match='at least one cost target'):
        search_subnet(config, ckpt, str(tmp_path), evaluator=HiddenTarget())
    with pytest.raises(ValueError, match='flops_G: the window .* holds no '
                       'architecture of the space, which spans'):
        run(search_files, tmp_path, HiddenTarget(), flops_target=1e-4)
    with pytest.raises(ValueError, match='latency_lut and latency_target'):
        run(search_files, tmp_path, HiddenTarget(), latency_target=5.0)
    with pytest.raises(ValueError, match='flops_target must be a finite'):
        run(search_files, tmp_path, HiddenTarget(), flops_target=-1.0)
    assert not (tmp_path / CANDIDATES_FILE).exists()


def test_flops_and_latency_windows_both_hold(search_files, tmp_path):
    config, ckpt, target = search_files
    lut = tmp_path / 'lut.json'
    write_lut(lut, Config.fromfile(config).model)
    # entry i costs i + 1 ms: aim at the middle of the space's latencies
    from attnas_mmseg.models import build_segmentor
    from attnas_mmseg.search.cost.latency_table import load_latency_table
    table = load_latency_table(lut, build_segmentor(config, device='meta'))
    ms = sum(flops_range(table, 4)) / 2
    evaluator = HiddenTarget()
    run(search_files, tmp_path / 'run', evaluator, latency_lut=str(lut),
        latency_target=ms, window=0.15)
    _, logged = records(tmp_path / 'run')
    assert len(logged) == 12
    for r in logged:
        assert 0.85 * ms <= r['costs']['latency_ms'] <= 1.15 * ms
        assert 0.85 * target <= r['costs']['flops_G'] <= 1.15 * target
        # the latency by hand: the sum of the LUT entries of its parts
        assert r['costs']['latency_ms'] == pytest.approx(table.network_cost(
            ArchSpec.parse_arch(r['spec'])))


def test_tool_end_to_end_with_inherited_weights(search_files, tmp_path):
    config, ckpt, target = search_files
    work = tmp_path / 'work'
    cmd = [sys.executable, 'tools/search_subnet.py', config, ckpt,
           '--work-dir', str(work), '--flops-target', str(target),
           '--window', '0.1', '--population', '4', '--generations', '2',
           '--top-k', '2', '--num-mutation', '1', '--num-crossover', '1',
           '--calib-batches', '1', '--split', 'arch']
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    spec = ArchSpec.load(work / 'arch.json')
    assert 0.9 * target <= spec.meta['flops_paper_G'] <= 1.1 * target
    _, logged = records(work)
    assert len(logged) == 8 and all(0 <= r['score'] <= 100 for r in logged)
    assert spec.meta['evolution']['score_mIoU'] == max(
        r['score'] for r in logged)
    assert f'best: {spec}' in proc.stdout
    # the recorded score is the evaluator's for that spec
    evaluator = SubnetEvaluator(config, ckpt, split='arch', calib_batches=1)
    assert evaluator.evaluate(spec)['mIoU'] == pytest.approx(
        spec.meta['evolution']['score_mIoU'])
    # a rerun resumes the finished run: nothing scored, the same result
    state = (work / STATE_FILE).read_text()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed' in proc.stdout + proc.stderr
    assert 'candidate 1/' not in proc.stdout + proc.stderr
    assert (work / STATE_FILE).read_text() == state
    assert ArchSpec.load(work / 'arch.json') == spec
    proc = subprocess.run(cmd[:6] + cmd[8:], cwd=REPO, capture_output=True,
                          text=True, timeout=600)   # no --flops-target
    assert proc.returncode != 0 and 'Traceback' not in proc.stderr
    assert 'search_subnet: error: flops_target / latency_target: give at ' \
        'least one' in proc.stderr
