"""Adaptive average pooling that also exports to ONNX at any input size.

``torch.onnx`` cannot export ``adaptive_avg_pool2d`` when the output size does
not divide the input size (e.g. pool 6 or 9 on a 64x128 map, Table 1's Att4,
Att5, Att11, Att12). PyTorch's bins are ``[floor(i*H/b), ceil((i+1)*H/b))``;
the same average is a product with two constant bin-averaging matrices,
``P_h @ x @ P_w^T``, which exports as two MatMuls. Eager mode keeps PyTorch's
kernel; the matrix form is used only while exporting, and both agree to float
rounding (tested).

The matrices are built from Python numbers, so the tracer records each as one
constant; filling a zero tensor in place would be traced as a chain of
``ScatterND`` nodes, one per bin. An axis whose output size equals its input
size (``None`` in the output size, Att10's strip pools) is left alone.
"""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn


def bin_matrix(in_size: int, out_size: int, dtype: torch.dtype,
               device: torch.device) -> torch.Tensor:
    """(out_size, in_size) matrix whose row i averages PyTorch's i-th bin."""
    rows = []
    for i in range(out_size):
        start = (i * in_size) // out_size
        end = -((-(i + 1) * in_size) // out_size)
        rows.append([1.0 / (end - start) if start <= j < end else 0.0
                     for j in range(in_size)])
    return torch.tensor(rows, dtype=dtype, device=device)


def matmul_adaptive_avg_pool2d(
        x: torch.Tensor, output_size: Tuple[int, int]) -> torch.Tensor:
    """``F.adaptive_avg_pool2d`` written as ``P_h @ x @ P_w^T``."""
    h, w = int(x.shape[-2]), int(x.shape[-1])
    out_h, out_w = output_size
    if out_h != h:
        x = torch.matmul(bin_matrix(h, out_h, x.dtype, x.device), x)
    if out_w != w:
        x = torch.matmul(x, bin_matrix(w, out_w, x.dtype, x.device).t())
    return x


class AdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    """``nn.AdaptiveAvgPool2d`` whose ONNX export works for any size.

    It stays an ``nn.AdaptiveAvgPool2d`` so that FLOPs counters keyed on the
    module type (the paper's ``thop`` convention) count it as a pooling.
    """

    def __init__(self, output_size: Union[int, Tuple[Optional[int],
                                                     Optional[int]]]):
        super().__init__(output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.onnx.is_in_onnx_export():
            return super().forward(x)
        size = self.output_size
        if isinstance(size, int):
            size = (size, size)
        out_h = x.shape[-2] if size[0] is None else size[0]
        out_w = x.shape[-1] if size[1] is None else size[1]
        return matmul_adaptive_avg_pool2d(x, (int(out_h), int(out_w)))
