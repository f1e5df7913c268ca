"""Shared by the benchmark scripts: the compared models, peak memory, the
latency of a trained network, the confidence of a search. (The experiment
scripts' stage runner: benchmarks/_stages.py; the tools as stages:
benchmarks/_tools.py.)

Timing (``set_threads``, ``time_runs``, ``summarize``) is re-exported from
:mod:`attnas_mmseg.deploy.timing`, which the latency-table builder uses too.

Peak memory is measured in a fresh process per measurement (``run_isolated``):

* CPU: the rise of the process's peak resident set size over its resident
  size just before the measured work (warm-up included). The kernel's
  high-water mark (VmHWM) is reset first (``/proc/self/clear_refs`` = 5), so
  what the process did before (imports, building, ONNX session creation)
  does not count, and glibc's freed heap is trimmed first so memory it kept
  cannot hide part of the rise. It is what the OS had to provide:
  activations, workspaces, allocator caches and the onnxruntime arena, not
  only live tensors. Where the reset is not allowed, the rise of
  ``ru_maxrss`` is reported instead, a lower bound (zero if the set-up
  peaked higher), and the output says so.
* CUDA: ``torch.cuda.max_memory_allocated()`` minus the memory allocated
  before (PyTorch's caching allocator; onnxruntime's CUDA arena is invisible
  to it and reported as n/a).
"""
import concurrent.futures
import ctypes
import multiprocessing
import os
import os.path as osp
import resource
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

# Timing has one source of truth, shared with tools/build_latency_lut.py.
from attnas_mmseg.deploy.timing import (  # noqa: E402,F401
    set_threads, summarize, synchronize, time_runs)

#: name -> (config, arch notation applied on top, or None).
MODEL_CONFIGS = {
    'AttNAS-S': ('configs/attnas_s_cityscapes.py', None),
    'AttNAS-L': ('configs/attnas_l_cityscapes.py', None),
    'mv2+ASPP': ('configs/baselines/deeplabv3_mobilenet-v2-d16_4xb2-80k_'
                 'cityscapes-512x1024.py', None),
}
# Used when a config above is absent (e.g. an older checkout): the same nets
# from the model base config and Table 2's codes, and MMSeg's MobileNetV2 +
# ASPPHead at OS16 with the ASPP width fitted to Table 3 (160 channels).
FALLBACK_ARCHS = {
    'AttNAS-S': 'mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1) '
                'AttSet1(12,13)+AttSet2(3,7)',
    'AttNAS-L': 'mv2(2,2,2,3,3,3,3,1,3,2,3,1,1,3,3,2,2) '
                'AttSet1(7,8,13)+AttSet2(7)',
}
ATTNAS_BASE = 'configs/_base_/models/attnas_mv2.py'
BASELINE = 'mv2+ASPP'
_NORM = dict(type='BN', requires_grad=True)
FALLBACK_BASELINE = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor',
                           mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
                           pad_val=0, seg_pad_val=255),
    backbone=dict(type='MobileNetV2', widen_factor=1.,
                  strides=(1, 2, 2, 2, 1, 1, 1),
                  dilations=(1, 1, 1, 1, 1, 2, 2), out_indices=(1, 2, 4, 6),
                  norm_cfg=_NORM),
    decode_head=dict(type='ASPPHead', in_channels=320, in_index=3,
                     channels=160, dilations=(1, 6, 12, 18),
                     dropout_ratio=0.1, num_classes=19, norm_cfg=_NORM,
                     align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss',
                                      use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(), test_cfg=dict(mode='whole'))


def model_cfg(name: str) -> dict:
    """The model config dict of ``name`` (a key of MODEL_CONFIGS)."""
    from mmengine.config import Config

    from attnas_mmseg.models import apply_arch
    config, arch = MODEL_CONFIGS[name]
    path = osp.join(REPO, config)
    if osp.exists(path):
        cfg = Config.fromfile(path).model.to_dict()
    elif name == BASELINE:
        cfg = dict(FALLBACK_BASELINE)
    else:
        cfg = Config.fromfile(osp.join(REPO, ATTNAS_BASE)).model.to_dict()
        arch = FALLBACK_ARCHS[name]
    cfg.pop('pretrained', None)
    cfg.pop('auxiliary_head', None)  # not run at inference
    return apply_arch(cfg, arch) if arch else cfg


def model_source(name: str) -> str:
    config, _ = MODEL_CONFIGS[name]
    if osp.exists(osp.join(REPO, config)):
        return config
    return ('inline MobileNetV2+ASPPHead(160)' if name == BASELINE else
            f'{ATTNAS_BASE} + {FALLBACK_ARCHS[name]}')


def _status_kib(key: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _malloc_trim() -> None:
    """Give freed heap back to the OS, so it can't hide part of a rise."""
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Peak extra memory of the work inside ``with``, in MiB (module doc).

    After the block: ``mib`` (float or None) and ``how`` (what was measured).
    """

    def __init__(self, device: str) -> None:
        self.device = device
        self.mib: Optional[float] = None
        self.how = ''

    def __enter__(self) -> 'PeakMemory':
        if self.device.startswith('cuda'):
            import torch
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._before = torch.cuda.memory_allocated()
            self.how = 'cuda max_memory_allocated'
            return self
        _malloc_trim()
        self._before = _status_kib('VmRSS')
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
            self.how = 'peak RSS rise (VmHWM reset)'
            self._maxrss = None
        except OSError:
            self._maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self.how = 'ru_maxrss rise (no reset; lower bound)'
        return self

    def __exit__(self, *exc) -> None:
        if self.device.startswith('cuda'):
            import torch
            torch.cuda.synchronize()
            self.mib = (torch.cuda.max_memory_allocated() -
                        self._before) / 2**20
            return
        if self._maxrss is None:
            peak = _status_kib('VmHWM')
            self.mib = None if peak is None or self._before is None else (
                peak - self._before) / 1024
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self.mib = (peak - self._maxrss) / 1024


def run_isolated(fn: Callable[..., Dict[str, Any]], **kwargs
                 ) -> Dict[str, Any]:
    """``fn(**kwargs)`` in a fresh (spawned) process, for clean peak memory."""
    ctx = multiprocessing.get_context('spawn')
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        return pool.submit(fn, **kwargs).result()


def _export_checked(config: str, checkpoint: str, out: str,
                    size: Tuple[int, int]) -> Dict[str, float]:
    """ONNX of a trained network, checked against PyTorch."""
    from attnas_mmseg.deploy import check_onnx, export_onnx
    from attnas_mmseg.models import build_segmentor
    model = build_segmentor(config, checkpoint)
    export_onnx(model, out, size, overwrite=True)
    diff, scale = check_onnx(model, out, shape=size)
    return dict(max_abs_diff=diff, max_abs_logit=scale)


def _latency(config: str, checkpoint: str, onnx: str, backend: str,
             size: Tuple[int, int], runs: int, threads: int,
             device: str) -> Dict[str, float]:
    """Latency of one network and backend, batch 1."""
    import torch

    from attnas_mmseg.deploy import inference_step
    set_threads(threads)
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    if backend == 'torch':
        from attnas_mmseg.deploy import DenseLogits, prepare_for_inference
        from attnas_mmseg.models import build_segmentor
        model = prepare_for_inference(  # BN folded, channels_last
            DenseLogits(build_segmentor(config, checkpoint)), inplace=True)
        step = inference_step(x, model=model, device=device)
    else:
        step = inference_step(x, onnx=onnx, device=device, threads=threads)
    return summarize(time_runs(step, runs, warmup=1, device=device))


def trained_latency(config: str, checkpoint: str, onnx: str,
                    size: Tuple[int, int], runs: int, threads: int,
                    device: str) -> Dict[str, Any]:
    """The batch-1 latency of a trained network (``config`` +
    ``checkpoint``) in PyTorch (eager, as ``prepare_for_inference`` runs it:
    BN folded, channels_last) and onnxruntime, after its ONNX export (to
    ``onnx``, removed afterwards) is checked against PyTorch; each step in a
    fresh process (:func:`run_isolated`)."""
    result = dict(onnx_check=run_isolated(
        _export_checked, config=config, checkpoint=checkpoint, out=onnx,
        size=size), size=list(size), batch=1, threads=threads, device=device)
    for backend in ('torch', 'onnxruntime'):
        result[backend] = run_isolated(
            _latency, config=config, checkpoint=checkpoint, onnx=onnx,
            backend=backend, size=size, runs=runs, threads=threads,
            device=device)
    os.remove(onnx)
    return result


def environment(threads: int, device: str) -> str:
    import platform

    import torch
    cpu = platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next((line.split(':', 1)[1].strip() for line in f
                        if line.startswith('model name')), cpu)
    except OSError:
        pass
    lines = [f'torch {torch.__version__}, {threads} intra-op thread(s) '
             f'(torch.set_num_threads), device {device}, '
             f'{os.cpu_count()} CPU(s) visible ({cpu})']
    if device.startswith('cuda'):
        lines.append(f'GPU: {torch.cuda.get_device_name()}')
    return '\n'.join(lines)


def table(rows: List[List[str]], header: List[str]) -> str:
    """Plain-text table; numeric columns right-aligned."""
    def numeric(value) -> bool:
        try:
            float(str(value).rstrip('x%'))
            return True
        except ValueError:
            return str(value) == '-'

    cols = list(zip(*rows)) if rows else [[] for _ in header]
    widths = [max(len(str(v)) for v in list(col) + [head])
              for col, head in zip(cols, header)]
    align = ['>' if col and all(numeric(v) for v in col) else '<'
             for col in cols]
    fmt = '  '.join(f'{{:{a}{w}}}' for a, w in zip(align, widths))
    lines = [fmt.format(*header), fmt.format(*('-' * w for w in widths))]
    return '\n'.join(lines + [fmt.format(*map(str, r)) for r in rows])


def confidence_of(checkpoint: str, topk: int) -> Dict[str, Any]:
    """The confidence table of a search checkpoint
    (attnas_mmseg/search/confidence.py): text, uncertain names, sigma."""
    from attnas_mmseg.export import load_search_checkpoint
    return confidence_from(*load_search_checkpoint(checkpoint), topk)


def confidence_from(ckpt: Dict[str, Any], alpha, beta,
                    topk: int) -> Dict[str, Any]:
    """:func:`confidence_of` for a checkpoint already loaded (the dict,
    alpha, beta of ``load_search_checkpoint``)."""
    from attnas_mmseg.search.confidence import (confidence_table,
                                                noise_sigma_from_checkpoint)
    sigma = noise_sigma_from_checkpoint(ckpt)
    text, names = confidence_table(alpha, beta, topk, sigma)
    return dict(table=text, uncertain=names, sigma=sigma)
