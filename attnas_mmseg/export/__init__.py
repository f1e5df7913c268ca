"""From a search to networks: checkpoint reading, derivation written as
``arch.json`` + a retrain config, random architectures, agreement across
searches, subnets with inherited weights."""
from .agreement import (agreement_summary, attention_agreement,
                        backbone_agreement)
from .checkpoint import arch_params_from_checkpoint, load_search_checkpoint
from .derived import (ARCH_FILE, RETRAIN_FILE, export_derived, measure,
                      search_settings, write_derived)
from .random_arch import (draw_archs, flops_range, flops_window, median_flops,
                          reference_flops,
                          sample_arch, sample_archs, sample_archs_stratified,
                          search_flops_table)
from .subnet import extract_subnet, inherited_keys

__all__ = [
    'ARCH_FILE', 'RETRAIN_FILE', 'agreement_summary', 'arch_params_from_checkpoint',
    'attention_agreement', 'backbone_agreement', 'export_derived',
    'extract_subnet', 'inherited_keys',
    'draw_archs', 'flops_range', 'flops_window', 'median_flops', 'load_search_checkpoint', 'measure',
    'reference_flops', 'sample_arch', 'sample_archs', 'sample_archs_stratified',
    'search_flops_table',
    'search_settings', 'write_derived'
]
