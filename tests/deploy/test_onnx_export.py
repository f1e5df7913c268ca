import importlib.util
from pathlib import Path

import onnx
import pytest
import torch
import torch.nn.functional as F

from attnas_mmseg.deploy import calibrate_bn, check_onnx, export_onnx
from attnas_mmseg.models import apply_arch
from attnas_mmseg.ops.pooling import (AdaptiveAvgPool2d, bin_matrix,
                                      matmul_adaptive_avg_pool2d)
from attnas_mmseg.search.space.arch_spec import ArchSpec
from attnas_mmseg.search.space.candidates import NUM_ATTENTIONS

from .._builders import build_segmentor, segmentor_cfg

REPO = Path(__file__).resolve().parents[2]
# Every candidate of Table 1, split over two layers so both layer paths run.
ALL_ATTENTIONS = [list(range(1, 8)), list(range(8, NUM_ATTENTIONS + 1))]
BACKBONE = [3, 3, 2, 3, 2, 3, 2, 3, 2, 6, 3, 6, 5, 3, 2, 5, 1]


@pytest.mark.parametrize('in_size,out_size', [
    ((64, 128), (6, 6)), ((64, 128), (9, 9)), ((10, 20), (6, 6)),
    ((10, 20), (9, 9)), ((13, 17), (4, 5)), ((7, 5), (3, 3)),
    ((4, 4), (6, 6)), ((64, 128), (2, 3)), ((10, 20), (1, 1))])
def test_matmul_pool_equals_pytorch(in_size, out_size):
    x = torch.randn(2, 3, *in_size, dtype=torch.float64)
    expected = F.adaptive_avg_pool2d(x, out_size)
    assert torch.allclose(matmul_adaptive_avg_pool2d(x, out_size), expected,
                          atol=1e-12)


def test_bin_matrix_rows_are_averages():
    mat = bin_matrix(20, 6, torch.float64, torch.device('cpu'))
    assert torch.allclose(mat.sum(1), torch.ones(6, dtype=torch.float64))
    # PyTorch's bins [floor(i*20/6), ceil((i+1)*20/6)) overlap when 6 does
    # not divide 20: bin 1 is rows 3..6.
    assert mat[1].nonzero().flatten().tolist() == [3, 4, 5, 6]


@pytest.mark.parametrize('output_size', [6, 9, (None, 1), (1, None), 1])
def test_pool_module_export_form_matches_eager(monkeypatch, output_size):
    pool = AdaptiveAvgPool2d(output_size)
    x = torch.randn(1, 4, 10, 20)
    eager = pool(x)
    monkeypatch.setattr(torch.onnx, 'is_in_onnx_export', lambda: True)
    assert torch.allclose(pool(x), eager, atol=1e-6)


def test_pool_exports_as_constant_matmuls(tmp_path):
    path = tmp_path / 'pool.onnx'
    torch.onnx.export(AdaptiveAvgPool2d(9), (torch.randn(1, 4, 10, 20), ),
                      str(path), opset_version=17, dynamo=False)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    # The bin matrices are constants, not a chain of ScatterND per bin.
    assert ops.count('MatMul') == 2
    assert 'ScatterND' not in ops


@pytest.fixture(scope='module')
def every_attention_model():
    torch.manual_seed(0)
    model = build_segmentor(backbone_arch=BACKBONE, head_arch=ALL_ATTENTIONS,
                            channels=96).eval()
    return calibrate_bn(model, torch.randn(2, 3, 160, 320))


def test_export_every_attention_non_divisible_map(every_attention_model,
                                                  tmp_path):
    # 160x320 -> a 10x20 map at output stride 16: pools 3, 6 and 9 (Att3,
    # Att4, Att5, Att11, Att12) do not divide it.
    model = every_attention_model
    path = export_onnx(model, tmp_path / 'all.onnx', (160, 320))
    x = torch.randn(1, 3, 160, 320)
    diff, scale = check_onnx(model, path, x=x)
    assert scale > 1e-2  # calibrated BN: the logits are not vanishing
    assert diff < 1e-4
    with pytest.raises(FileExistsError):
        export_onnx(model, path, (160, 320))
    export_onnx(model, path, (160, 320), overwrite=True)


def test_apply_arch_fills_both_parts():
    spec = ArchSpec.parse('AttSet1(12,13)+AttSet2(3,7)',
                          'mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1)')
    cfg = apply_arch(segmentor_cfg(), spec)
    assert cfg['backbone']['arch'] == list(spec.backbone)
    assert cfg['decode_head']['arch'] == [[12, 13], [3, 7]]
    baseline = segmentor_cfg()
    baseline['decode_head']['type'] = 'ASPPHead'
    with pytest.raises(ValueError, match='AttNASHead'):
        apply_arch(baseline, spec)


def _tool():
    path = REPO / 'tools' / 'export_onnx.py'
    spec = importlib.util.spec_from_file_location('export_onnx_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tool_exports_and_refuses_overwrite(tmp_path, capsys):
    out = tmp_path / 'att.onnx'
    args = [str(REPO / 'configs/_base_/models/attnas_mv2.py'), '--out',
            str(out), '--shape', '96', '160', '--arch',
            'mv2(2,2,2,3,3,3,3,1,3,2,3,1,1,3,3,2,2) '
            'AttSet1(7,8,13)+AttSet2(7)']
    tool = _tool()
    tool.main(args)
    assert out.is_file()
    printed = capsys.readouterr().out
    # BN folded by default, checked against the unfused PyTorch model
    assert 'BN folded, 0 left' in printed
    assert 'vs PyTorch (unfused): max abs diff' in printed
    with pytest.raises(SystemExit, match='exists'):
        tool.main(args)
    tool.main(args + ['--overwrite', '--no-fuse-conv-bn'])
    assert 'BN not folded' in capsys.readouterr().out
    unfused = [n.op_type for n in onnx.load(str(out)).graph.node]
    tool.main(args + ['--overwrite'])
    fused = [n.op_type for n in onnx.load(str(out)).graph.node]
    # torch's exporter folds eval-mode BN too: both graphs are BN-free
    assert 'BatchNormalization' not in fused + unfused
