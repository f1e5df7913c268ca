from .confidence import (attention_confidence, backbone_confidence,
                         confidence_record, confidence_table, noise_sigma,
                         noise_sigma_from_checkpoint)
from .cost.cost_loss import COST_LOSS_MODES, cost_loss
from .cost.cost_table import PRICINGS, CostTable
from .cost.flops import (FLOPS_PER_G, build_flops_table, count_complete_flops,
                         count_paper_flops)
from .derive import derive_arch, derive_attention, derive_backbone
from .evolution import (Constraint, EvolutionSearch, EvolutionSettings,
                        SearchSpace, crossover, mutate, random_spec)
from .settings import SearchSettings
from .space.arch_params import (ARCH_PARAM_NAMES, arch_parameters,
                                is_arch_param, named_arch_parameters,
                                named_weight_parameters)
from .space.arch_spec import ArchSpec
from .space.attention_space import AttentionLayers, attention_weights
from .space.candidates import (ATTENTION_CANDIDATES, BACKBONE_OP_ORDERS,
                               NUM_ATTENTIONS, NUM_BLOCKS, NUM_OPS,
                               build_attention, get_attention,
                               search_space_size)
from .space.extra_candidates import ExtraCandidates
from .space.mixed_op import MixedOp
from .space.search_modes import (ARCH_STEP_MODES, DEFAULT_SEARCH_MODE,
                                 NO_ARCH_STEP_MODES, SEARCH_MODES)

__all__ = [
    'ARCH_STEP_MODES', 'NO_ARCH_STEP_MODES', 'Constraint', 'EvolutionSearch',
    'EvolutionSettings', 'SearchSpace', 'crossover', 'mutate', 'random_spec',
    'ARCH_PARAM_NAMES', 'ATTENTION_CANDIDATES', 'ArchSpec', 'AttentionLayers',
    'BACKBONE_OP_ORDERS', 'COST_LOSS_MODES', 'CostTable',
    'DEFAULT_SEARCH_MODE', 'ExtraCandidates', 'FLOPS_PER_G', 'MixedOp',
    'NUM_ATTENTIONS', 'NUM_BLOCKS', 'NUM_OPS', 'PRICINGS', 'SEARCH_MODES',
    'SearchSettings',
    'arch_parameters', 'attention_confidence', 'attention_weights',
    'backbone_confidence', 'build_attention', 'build_flops_table',
    'confidence_record', 'confidence_table', 'cost_loss',
    'count_complete_flops', 'count_paper_flops', 'derive_arch',
    'derive_attention', 'derive_backbone', 'get_attention', 'is_arch_param',
    'named_arch_parameters', 'named_weight_parameters', 'noise_sigma',
    'noise_sigma_from_checkpoint', 'search_space_size'
]
