from .attentions import (AtrousConvAttention, PoolConvAttention,
                         PooledSelfAttention, SEAttention,
                         StripPoolingAttention)
from .inverted_residual import InvertedResidual
from .noise import NoiseAttention, NoiseOp
from .pooling import AdaptiveAvgPool2d, matmul_adaptive_avg_pool2d

__all__ = [
    'AdaptiveAvgPool2d', 'AtrousConvAttention', 'InvertedResidual',
    'NoiseAttention', 'NoiseOp', 'PoolConvAttention', 'PooledSelfAttention',
    'SEAttention', 'StripPoolingAttention', 'matmul_adaptive_avg_pool2d'
]
