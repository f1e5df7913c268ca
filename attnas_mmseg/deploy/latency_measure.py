"""Measuring a latency lookup table on this device (``tools/build_latency_lut.py``).

Each part of :func:`~attnas_mmseg.search.cost.latency_parts.latency_parts` is
timed alone, BN folded, in the table's memory format (torch: channels_last
by default, :mod:`.fast_inference`), on a seeded batch-1 input, and written
into the :class:`~attnas_mmseg.search.cost.latency_table.LatencyLUT` as it
goes, so an interrupted build keeps every finished entry;
:func:`time_network` times a whole network the same way, to validate the sum
rule.
"""
import platform
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.utils import ProgressBar

from ..models.builder import build_segmentor
from ..search.cost.latency_parts import LatencyPart
from ..search.cost.latency_table import LUT_FORMAT, LatencyLUT
from .fast_inference import (DEFAULT_MEMORY_FORMAT, MEMORY_FORMATS,
                             prepare_for_inference, to_memory_format)
from .onnx_export import DEFAULT_OPSET, DenseLogits, calibrate_bn
from .timing import BACKENDS, summarize, time_module

DEVICES = ('cpu', 'cuda')


# --------------------------------------------------------------- settings ---
def library_versions(backend: str) -> Dict[str, str]:
    """Versions of the libraries whose kernels a ``backend`` LUT measured."""
    import mmcv
    import mmengine
    import mmseg
    versions = dict(torch=torch.__version__, mmcv=mmcv.__version__,
                    mmengine=mmengine.__version__, mmseg=mmseg.__version__)
    if backend == 'onnxruntime':
        import onnx
        import onnxruntime
        versions.update(onnx=onnx.__version__,
                        onnxruntime=onnxruntime.__version__)
    return versions


def device_name(device: str) -> str:
    """The CPU model (from /proc/cpuinfo) or the CUDA device name."""
    if device.startswith('cuda'):
        return torch.cuda.get_device_name(torch.device(device))
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def lut_settings(backend: str, device: str, threads: int,
                 input_size: Sequence[int],
                 memory_format: Optional[str] = None) -> Dict[str, Any]:
    """The settings of a LUT measured here, now, with these arguments.

    ``memory_format`` ('channels_last' or 'contiguous') applies to the torch
    backend, where ``None`` means the default (channels_last, the fastest
    eager setting); onnxruntime picks its own layout and records ``None``.
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got '
                         f'{backend!r}')
    if device not in DEVICES:
        raise ValueError(f'device must be one of {DEVICES}, got {device!r}')
    if device == 'cuda' and not torch.cuda.is_available():
        raise ValueError('device: cuda asked for, but torch sees no GPU')
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f'threads must be a positive int, got {threads!r}')
    size = [int(v) for v in input_size]
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f'input_size must be (H, W) > 0, got {input_size!r}')
    if backend == 'torch':
        memory_format = memory_format or DEFAULT_MEMORY_FORMAT
        if memory_format not in MEMORY_FORMATS:
            raise ValueError(f'memory_format must be one of '
                             f'{list(MEMORY_FORMATS)}, got {memory_format!r}')
    elif memory_format is not None:
        raise ValueError(f'memory_format applies to backend torch only '
                         f'(onnxruntime picks its own layout), got '
                         f'{memory_format!r} with backend {backend!r}')
    return dict(format=LUT_FORMAT, backend=backend, device=device,
                device_name=device_name(device), threads=threads,
                input_size=size, batch=1, fused=True,
                opset=DEFAULT_OPSET if backend == 'onnxruntime' else None,
                memory_format=memory_format,
                versions=library_versions(backend))


# ------------------------------------------------------------------ build ---
def _memory_format(settings: Dict[str, Any]) -> str:
    # onnxruntime tables record None: their modules are exported as built
    return settings.get('memory_format') or 'contiguous'


def measure_part(part: LatencyPart, settings: Dict[str, Any], runs: int,
                 warmup: int, seed: int = 0) -> Dict[str, Any]:
    """Time ``part`` alone, BN folded, in the settings' memory format, on a
    seeded N(0, 1) batch-1 input."""
    torch.manual_seed(seed)
    fmt = _memory_format(settings)
    module = prepare_for_inference(part.build(), fmt, inplace=True)
    gen = torch.Generator().manual_seed(seed)
    # inside a network the activations are in this format already: convert
    # once here, not in every timed call
    inputs = to_memory_format(
        [torch.randn(*s, generator=gen) for s in part.input_shapes], fmt)
    times = time_module(module, inputs, backend=settings['backend'],
                        device=settings['device'],
                        threads=settings['threads'], runs=runs,
                        warmup=warmup)
    stats = summarize(times)
    return dict(ms=stats['median_ms'], min_ms=stats['min_ms'], runs=runs,
                warmup=warmup, label=part.label,
                inputs=[list(s) for s in part.input_shapes])


def build_lut(parts: Sequence[LatencyPart],
              path: Union[str, Path],
              settings: Dict[str, Any],
              runs: int = 5,
              warmup: int = 2,
              limit: Optional[int] = None,
              progress: bool = True) -> Tuple[LatencyLUT, int]:
    """Time every part whose key ``path`` lacks, writing each as it goes.

    Args:
        parts: From :func:`latency_parts` (of a real, not meta, segmentor).
        path: The LUT file; created, or continued if its settings match
            (refused, naming the differing keys, if they do not).
        settings: :func:`lut_settings` of this run.
        limit: Time at most this many new entries, then stop (a re-run
            continues).

    Returns:
        (the LUT, number of entries timed by this call).
    """
    if runs < 1 or warmup < 0:
        raise ValueError(f'runs must be >= 1 and warmup >= 0, got runs={runs}'
                         f', warmup={warmup}')
    if limit is not None and limit < 0:
        raise ValueError(f'limit must be >= 0 or None, got {limit}')
    lut = LatencyLUT.open(path, settings)
    users: Dict[str, List[LatencyPart]] = {}
    for part in parts:
        users.setdefault(part.key, []).append(part)
    todo = [key for key in users if key not in lut]
    if limit is not None:
        todo = todo[:limit]
    bar = None
    if progress and todo:
        bar = ProgressBar(len(todo))
    for key in todo:
        entry = measure_part(users[key][0], settings, runs, warmup)
        entry['parts'] = [p.name for p in users[key]]
        lut.add(key, entry)
        if bar is not None:
            bar.update()
    if bar is not None:
        print(flush=True)
    return lut, len(todo)


def time_network(cfg: dict, settings: Dict[str, Any], runs: int,
                 warmup: int) -> Dict[str, float]:
    """End-to-end latency of a model config timed as a LUT's entries were
    (``settings``: backend, device, threads, input size, memory format; batch
    1), BN calibrated on random data then folded into the convolutions."""
    h, w = settings['input_size']
    torch.manual_seed(0)
    model = build_segmentor(cfg)
    calibrate_bn(model, torch.randn(2, 3, min(h, 256), min(w, 512)))
    dense = prepare_for_inference(DenseLogits(model),
                                  _memory_format(settings), inplace=True)
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(0))
    times = time_module(dense, [x], backend=settings['backend'],
                        device=settings['device'],
                        threads=settings['threads'], runs=runs,
                        warmup=warmup)
    return summarize(times)
