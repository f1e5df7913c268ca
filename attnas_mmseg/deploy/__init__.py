"""Deployment: ONNX export of a segmentor's dense logits, checked by onnxruntime."""
from .onnx_export import (DenseLogits, apply_arch, build_from_config,
                          build_segmentor, calibrate_bn, check_onnx,
                          export_onnx, onnx_session)

__all__ = [
    'DenseLogits', 'apply_arch', 'build_from_config', 'build_segmentor',
    'calibrate_bn', 'check_onnx', 'export_onnx', 'onnx_session'
]
