from .arch_params import (ARCH_PARAM_NAMES, arch_parameters, is_arch_param,
                          named_arch_parameters, named_weight_parameters)
from .arch_spec import ArchSpec
from .attention_space import AttentionLayers, attention_weights
from .candidates import (ATTENTION_CANDIDATES, BACKBONE_OP_ORDERS,
                         NUM_ATTENTIONS, NUM_BLOCKS, NUM_OPS, build_attention,
                         get_attention, search_space_size)
from .cost_table import PRICINGS, CostTable
from .derive import derive_arch, derive_attention, derive_backbone
from .flops import (FlopsTable, build_flops_table, count_complete_flops,
                    count_paper_flops)
from .flops_loss import FLOPS_LOSS_MODES, flops_loss
from .mixed_op import MixedOp

__all__ = [
    'ARCH_PARAM_NAMES', 'ATTENTION_CANDIDATES', 'ArchSpec', 'AttentionLayers',
    'BACKBONE_OP_ORDERS', 'CostTable', 'FLOPS_LOSS_MODES', 'FlopsTable', 'MixedOp',
    'NUM_ATTENTIONS', 'NUM_BLOCKS', 'NUM_OPS', 'PRICINGS', 'arch_parameters',
    'attention_weights', 'build_attention', 'build_flops_table',
    'count_complete_flops', 'count_paper_flops', 'derive_arch',
    'derive_attention', 'derive_backbone', 'flops_loss', 'get_attention',
    'is_arch_param', 'named_arch_parameters', 'named_weight_parameters',
    'search_space_size'
]
from .confidence import (agreement_summary, attention_agreement,  # noqa: E402
                         attention_confidence, backbone_agreement,
                         backbone_confidence, confidence_record,
                         confidence_table, noise_sigma,
                         noise_sigma_from_checkpoint)
from .random_arch import (flops_range, flops_window, sample_arch,  # noqa: E402
                          sample_archs)

__all__ += [
    'agreement_summary', 'attention_agreement', 'attention_confidence',
    'backbone_agreement', 'backbone_confidence', 'confidence_record',
    'confidence_table', 'flops_range', 'flops_window', 'noise_sigma',
    'noise_sigma_from_checkpoint', 'sample_arch', 'sample_archs'
]
