"""Latency measurement shared by the LUT builder, benchmarks and fps tool.

One way of timing everywhere: batch 1 (or whatever the inputs hold), ``warmup``
untimed calls, then ``runs`` timed calls, each closed by a device
synchronisation, the median reported. :func:`time_module` times an
``nn.Module`` either in PyTorch eager (``inference_mode``) or, with
``backend='onnxruntime'``, as an ONNX export of that module alone run by an
``InferenceSession`` with ``intra_op_num_threads`` set. The module is timed as
given: fold BN first (:func:`attnas_mmseg.deploy.fuse_conv_bn`) to time what
is deployed.
"""
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn

BACKENDS = ('torch', 'onnxruntime')


def set_threads(threads: int) -> None:
    """torch's intra-op threads; inter-op pinned to one (if still allowed)."""
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f'threads must be a positive int, got {threads!r}')
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass


def synchronize(device: str) -> None:
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()


def time_runs(fn: Callable[[], Any], runs: int, warmup: int,
              device: str) -> List[float]:
    """Seconds of each of ``runs`` calls of ``fn`` after ``warmup`` calls."""
    if runs < 1 or warmup < 0:
        raise ValueError(f'runs must be >= 1 and warmup >= 0, got runs={runs}'
                         f', warmup={warmup}')
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def summarize(times: Sequence[float]) -> Dict[str, float]:
    """Median and minimum in ms of ``times`` (seconds), and their count."""
    return dict(median_ms=1e3 * statistics.median(times),
                min_ms=1e3 * min(times), runs=len(times))


def _onnx_step(module: nn.Module, inputs: Sequence[torch.Tensor],
               device: str, threads: int, workdir: str) -> Callable[[], Any]:
    from .onnx_export import export_module_onnx, onnx_session
    names = [f'input{i}' for i in range(len(inputs))]
    path = export_module_onnx(module, [x.cpu() for x in inputs],
                              Path(workdir) / 'module.onnx',
                              input_names=names)
    session = onnx_session(path, device=device, threads=threads)
    # The exporter drops inputs the graph does not read (e.g. the unused
    # backbone levels fed to a head): feed what the session asks for.
    wanted = {i.name for i in session.get_inputs()}
    feed = {n: x.detach().cpu().numpy() for n, x in zip(names, inputs)
            if n in wanted}

    def step():
        session.run(None, feed)
    return step


def inference_step(x: torch.Tensor,
                   model: Optional[nn.Module] = None,
                   onnx: Optional[str] = None,
                   device: str = 'cpu',
                   threads: int = 1) -> Callable[[], Any]:
    """A call that runs one inference on ``x``: of ``model`` (eager, eval,
    ``inference_mode``, on ``device``) or of the ONNX file ``onnx``
    (onnxruntime with ``threads`` intra-op threads). Exactly one of the two.
    """
    if (model is None) == (onnx is None):
        raise ValueError('inference_step: give exactly one of model and onnx')
    if onnx is not None:
        from .onnx_export import onnx_session
        session = onnx_session(onnx, device=device, threads=threads)
        feed = {session.get_inputs()[0].name:
                x.detach().cpu().numpy().astype('float32')}

        def run_session():
            session.run(None, feed)
        return run_session
    model.eval()  # not chained: some MMSeg modules' train() returns None
    model = model.to(device)
    x = x.to(device)

    def run_model():
        with torch.inference_mode():
            model(x)
    return run_model


def time_module(module: nn.Module,
                inputs: Sequence[torch.Tensor],
                backend: str = 'torch',
                device: str = 'cpu',
                threads: int = 1,
                runs: int = 5,
                warmup: int = 2,
                workdir: Optional[str] = None) -> List[float]:
    """Seconds of each timed call of ``module(*inputs)``.

    Args:
        module: Timed as given, in eval mode.
        inputs: Positional inputs (their batch size is the batch timed).
        backend: 'torch' (eager, ``inference_mode``) or 'onnxruntime' (the
            module alone exported to ONNX in ``workdir`` or a temp dir).
        device: 'cpu' or 'cuda'.
        threads: torch intra-op threads / onnxruntime
            ``intra_op_num_threads``.
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got '
                         f'{backend!r}')
    set_threads(threads)
    module.eval()  # not chained: some MMSeg modules' train() returns None
    if backend == 'onnxruntime':
        with tempfile.TemporaryDirectory(prefix='attnas_time_',
                                         dir=workdir) as tmp:
            step = _onnx_step(module, inputs, device, threads, tmp)
            return time_runs(step, runs, warmup, device)
    module = module.to(device)
    inputs = [x.to(device) for x in inputs]

    def step():
        with torch.inference_mode():
            module(*inputs)
    return time_runs(step, runs, warmup, device)
