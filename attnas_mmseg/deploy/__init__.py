"""Deployment: BN folding, fast eager inference (channels_last), ONNX export
checked by onnxruntime, timing."""
from .fast_inference import (DEFAULT_MEMORY_FORMAT, MEMORY_FORMATS,
                             prepare_for_inference, to_memory_format)
from .fuse import count_batchnorms, fuse_conv_bn
from .onnx_export import (DenseLogits, calibrate_bn, check_onnx,
                          export_module_onnx, export_onnx, onnx_session)
from .timing import (BACKENDS, inference_step, set_threads, summarize,
                     synchronize, time_module, time_runs)

__all__ = [
    'BACKENDS', 'DEFAULT_MEMORY_FORMAT', 'DenseLogits', 'MEMORY_FORMATS',
    'calibrate_bn', 'check_onnx', 'count_batchnorms', 'export_module_onnx',
    'export_onnx', 'fuse_conv_bn', 'inference_step', 'onnx_session',
    'prepare_for_inference', 'to_memory_format',
    'set_threads', 'summarize', 'synchronize', 'time_module', 'time_runs'
]
