"""tools/benchmark.py (MMSeg's fps tool) on the configs of this project."""
import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAST = ['--device', 'cpu', '--total-iters', '3', '--num-warmup', '1',
        '--shape', '64', '128']
NO_DATA = ['--cfg-options', 'test_dataloader.dataset.data_root=/no/such/dir']


def _tool():
    path = REPO / 'tools' / 'benchmark.py'
    spec = importlib.util.spec_from_file_location('benchmark_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result(work_dir: Path) -> dict:
    files = sorted(work_dir.glob('fps_*.json'))
    assert len(files) == 1
    return json.loads(files[0].read_text())


@pytest.mark.parametrize('config,why', [
    ('configs/attnas_s_cityscapes.py', 'test dataset is absent'),
    ('configs/baselines/deeplabv3_mobilenet-v2-d16_4xb2-80k_cityscapes-'
     '512x1024.py', 'test dataset is absent'),
    ('configs/generalization/attnas-head-s_r18b-d16_4xb2-80k_cityscapes-'
     '512x1024.py', 'test dataset is absent'),
    # a search config: the supernet, and no test_dataloader at all
    ('configs/search/attnas-search_mv2-att2-30g_1xb8-30+100e_cityscapes-'
     '224x448.py', 'has no test_dataloader'),
])
def test_any_config_without_its_dataset(config, why, tmp_path, capsys):
    no_data = NO_DATA if why == 'test dataset is absent' else []
    # by default BN folded and channels_last (prepare_for_inference)
    _tool().main([str(REPO / config), *FAST, '--work-dir', str(tmp_path),
                  *no_data])
    out = capsys.readouterr().out
    assert why in out
    assert 'input: random 64x128' in out
    assert 'BN folded, channels_last' in out
    result = _result(tmp_path)
    assert result['fuse_conv_bn'] is True
    assert result['memory_format'] == 'channels_last'
    assert result['average_fps'] > 0
    assert result['latency_ms'] == pytest.approx(
        1e3 / result['overall_fps_1'], rel=0.01)


def test_images_from_the_test_dataloader(tiny_cityscapes, tmp_path, capsys):
    config = REPO / 'configs/demo/attnas-retrain_demo_synthetic-cityscapes-' \
        '128x256.py'
    _tool().main([str(config), '--device', 'cpu', '--total-iters', '6',
                  '--num-warmup', '1', '--repeat-times', '2',
                  '--log-interval', '5', '--work-dir', str(tmp_path),
                  '--no-fuse', '--memory-format', 'contiguous',
                  '--cfg-options',
                  f'test_dataloader.dataset.data_root={tiny_cityscapes}'])
    out = capsys.readouterr().out
    # 4 val images, 6 iterations: the loader restarts
    assert 'input: test_dataloader' in out
    assert 'BN not folded, contiguous' in out
    assert 'Done image [5  / 6]' in out
    result = _result(tmp_path)
    assert result['input'] == 'test_dataloader'
    assert result['fuse_conv_bn'] is False
    assert result['memory_format'] == 'contiguous'
    assert result['overall_fps_1'] > 0 and result['overall_fps_2'] > 0
    assert 'fps_variance' in result


def test_mmseg_fuse_flag_is_accepted(tmp_path, capsys):
    _tool().main([str(REPO / 'configs/attnas_s_cityscapes.py'), *FAST,
                  '--work-dir', str(tmp_path), '--fuse-conv-bn', *NO_DATA])
    assert 'BN folded' in capsys.readouterr().out


def test_rejects_bad_arguments(tmp_path):
    tool = _tool()
    with pytest.raises(SystemExit):
        tool.main([str(REPO / 'configs/attnas_s_cityscapes.py'), *FAST,
                   '--memory-format', 'nhwc'])
    with pytest.raises(SystemExit):
        tool.main([str(REPO / 'configs/attnas_s_cityscapes.py'),
                   '--total-iters', '2', '--num-warmup', '5'])
    with pytest.raises(SystemExit, match='not found'):
        tool.main([str(REPO / 'configs/attnas_s_cityscapes.py'),
                   str(tmp_path / 'missing.pth'), *FAST])
