"""One small searching segmentor and its FLOPs table, shared by tests/ops."""
import functools
from typing import Tuple

import torch.nn as nn

from attnas_mmseg.search.cost.cost_table import CostTable
from attnas_mmseg.search.cost.flops import build_flops_table

from .._builders import NORM, build_segmentor

#: Image size of the FLOPs table. 224x448 at output stride 16 is a 14x28
#: attention map, which no pooling of Att1-Att12 divides (3, 6, 9 bins): the
#: floor in the pooling rule matters.
IMAGE = (224, 448)
#: MobileNetV2's stage strides and dilations at output stride 16
#: (stem 2 x 2 x 2 x 2), the layout of every AttNAS config.
STRIDES = (1, 2, 2, 2, 1, 1, 1)
DILATIONS = (1, 1, 1, 1, 1, 2, 2)
#: Layer configs the head hands to every attention (``BaseDecodeHead``'s
#: defaults plus the tests' BN).
HEAD_LAYER_CFG = dict(conv_cfg=None, norm_cfg=NORM, act_cfg=dict(type='ReLU'),
                      align_corners=False)


@functools.lru_cache(maxsize=None)
def supernet() -> Tuple[nn.Module, CostTable]:
    """The searching segmentor (one attention layer) and its FLOPs table."""
    model = build_segmentor(num_layers=1, strides=STRIDES,
                            dilations=DILATIONS)
    return model, build_flops_table(model, IMAGE)
