"""tools/sample_random_arch.py: random archs written as derive_arch writes."""
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from attnas_mmseg.search import ArchSpec
from attnas_mmseg.export.random_arch import (sample_archs,
                                             sample_archs_stratified,
                                             search_flops_table)

from .._builders import segmentor_cfg

REPO = Path(__file__).resolve().parents[2]
REFERENCE = ('mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1) '
             'AttSet1(12,13)+AttSet2(3,7)')


@pytest.fixture
def search_config(tmp_path):
    base = tmp_path / 'retrain_base.py'
    Config(dict(model=segmentor_cfg(num_classes=19, channels=32),
                custom_imports=dict(imports=['attnas_mmseg']))).dump(
                    str(base))
    cfg = tmp_path / 'search.py'
    Config(dict(model=segmentor_cfg(num_classes=19, channels=32),
                derive=dict(topk=4, input_size=(64, 128),
                            retrain_base='retrain_base.py'))).dump(str(cfg))
    return cfg


def sample(cfg, out, *extra):
    return subprocess.run(
        [sys.executable, 'tools/sample_random_arch.py', str(cfg), '--num',
         '3', '--seed', '7', '--out-dir', str(out), *extra], cwd=REPO,
        capture_output=True, text=True, timeout=600)


def test_writes_specs_in_window_and_trainable_configs(search_config,
                                                      tmp_path):
    out = tmp_path / 'random'
    proc = sample(search_config, out, '--flops-window', REFERENCE, '0.1')
    assert proc.returncode == 0, proc.stderr[-2000:]
    specs = [ArchSpec.load(out / f'random_{i}' / 'arch.json')
             for i in range(3)]
    low, high = specs[0].meta['flops_window_G']
    ref = specs[0].meta['flops_reference_G']
    assert low == pytest.approx(0.9 * ref) and high == pytest.approx(1.1 * ref)
    for i, spec in enumerate(specs):
        # the price used for sampling is what the built network measures
        assert low <= spec.meta['flops_paper_G'] <= high
        assert spec.meta['sampled_flops'] == pytest.approx(
            spec.meta['flops_paper_G'], rel=1e-6)
        assert spec.meta['seed'] == 7 and spec.meta['index'] == i
        assert spec.meta['input_size'] == [64, 128]
        assert sum(map(len, spec.attention)) == 4
        retrain = Config.fromfile(str(out / f'random_{i}' / 'retrain.py'))
        assert retrain.model.backbone.arch == list(spec.backbone)
        assert retrain.model.decode_head.arch == [list(ids) for ids in
                                                  spec.attention]
    assert len({str(s) for s in specs}) == 3
    from mmseg.registry import MODELS
    model = MODELS.build(retrain.model)
    assert not any(n.endswith(('alpha', 'beta'))
                   for n, _ in model.named_parameters())

    # the tool's draw is the library's for that seed and window
    table = search_flops_table(str(search_config))
    assert sample_archs(3, seed=7, price=table.network_cost,
                        window=(low * 1e9, high * 1e9)) == specs
    # existing files are not replaced
    before = (out / 'random_0' / 'arch.json').read_text()
    proc = sample(search_config, out)
    assert proc.returncode != 0 and 'overwrite' in proc.stderr
    assert (out / 'random_0' / 'arch.json').read_text() == before


def test_impossible_window_is_an_error(search_config, tmp_path):
    proc = sample(search_config, tmp_path / 'none', '--flops-window',
                  '0.001', '0.1')
    assert proc.returncode != 0
    assert 'sample_random_arch: error: window' in proc.stderr
    assert not (tmp_path / 'none').exists()


def test_strata_spread_the_networks_over_the_window(search_config, tmp_path):
    out = tmp_path / 'spread'
    proc = sample(search_config, out, '--flops-window', REFERENCE, '0.5',
                  '--strata', '3')
    assert proc.returncode == 0, proc.stderr[-2000:]
    specs = [ArchSpec.load(out / f'random_{i}' / 'arch.json')
             for i in range(3)]
    low, high = specs[0].meta['flops_window_G']
    width = (high - low) / 3
    for i, spec in enumerate(specs):   # one network in each third
        assert low + i * width <= spec.meta['flops_paper_G'] <= \
            low + (i + 1) * width
        assert spec.meta['stratum'] == pytest.approx(
            [low + i * width, low + (i + 1) * width])
    assert 'stratum 2 of 3' in (out / 'random_1' / 'retrain.py').read_text()
    table = search_flops_table(str(search_config))
    assert sample_archs_stratified(
        3, 7, 3, price=table.network_cost,
        window=(low * 1e9, high * 1e9)) == specs
    proc = sample(search_config, tmp_path / 'x', '--strata', '3')
    assert proc.returncode == 2 and '--strata: needs --flops-window' in \
        proc.stderr
