"""Deployment: BN folding, ONNX export checked by onnxruntime, timing."""
from .fuse import count_batchnorms, fuse_conv_bn
from .onnx_export import (DenseLogits, apply_arch, build_from_config,
                          build_segmentor, calibrate_bn, check_onnx,
                          export_module_onnx, export_onnx, onnx_session)
from .timing import (BACKENDS, inference_step, set_threads, summarize,
                     synchronize, time_module, time_runs)

__all__ = [
    'BACKENDS', 'DenseLogits', 'apply_arch', 'build_from_config',
    'build_segmentor', 'calibrate_bn', 'check_onnx', 'count_batchnorms',
    'export_module_onnx', 'export_onnx', 'fuse_conv_bn', 'inference_step',
    'onnx_session',
    'set_threads', 'summarize', 'synchronize', 'time_module', 'time_runs'
]
