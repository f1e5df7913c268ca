"""What an arch step reports: its scalars, its log line and its record in
``arch_history.jsonl`` (read by ``visualization/arch_plots.py``)."""
import json
import os.path as osp
from typing import Any, Dict, Optional, Tuple

import torch

from ...search.confidence import confidence_record
from ...search.settings import SearchSettings
from ...search.space.attention_space import attention_weights
from ...search.space.extra_candidates import ExtraCandidates

#: The history file, one JSON record per logged arch step, in the log dir.
HISTORY_FILE = 'arch_history.jsonl'
#: Keys every history record has (``alpha`` is null without a searched
#: backbone).
HISTORY_KEYS = ('iter', 'arch_step', 'arch', 'flops_pred_G', 'beta', 'alpha')


def _entropy(probs: torch.Tensor) -> float:
    """Mean Shannon entropy (nats) of the distributions along the last dim."""
    return float(-(probs * probs.clamp_min(1e-12).log()).sum(-1).mean())


def arch_stats(alpha: Optional[torch.Tensor], beta: torch.Tensor, topk: int,
               sigma: float) -> Tuple[Dict[str, float], Dict[str, Any]]:
    """Scalars of the architecture (alpha, beta) — entropies of Eq. (1)-(2)'s
    weights, decision margins, choices within noise ``sigma`` — and the
    :func:`confidence_record` they summarise."""
    stats = dict(entropy_beta=_entropy(attention_weights(
        beta.detach()).flatten()))
    if alpha is not None:
        stats['entropy_alpha'] = _entropy(alpha.detach().softmax(-1))
    confidence = confidence_record(alpha, beta, topk, sigma)
    margins = confidence['alpha_margin']
    if margins is not None:
        stats['alpha_margin_min'] = min(margins)
        stats['alpha_margin_mean'] = sum(margins) / len(margins)
    stats['beta_margin'] = confidence['beta_margin']
    stats['uncertain_choices'] = len(confidence['uncertain'])
    return stats, confidence


def log_line(arch_step: int, iteration: int, stats: Dict[str, float],
             settings: SearchSettings, arch: str) -> str:
    """One arch step in a log line: losses, predicted cost, entropies,
    margins and the architecture in paper notation."""
    latency = stats.get('latency_pred_ms')
    return (
        f'arch step {arch_step} (iter {iteration}): CE '
        f'{stats["arch_ce"]:.4f}  L_flops {stats["loss_flops"]:+.4f}  '
        f'FLOPs_pred {stats["flops_pred_G"]:.2f}G ({settings.flops_pricing},'
        f' target {settings.flops_target:g}G)' +
        ('' if latency is None else f'  latency_pred {latency:.2f}ms') +
        f'  H(alpha) {stats.get("entropy_alpha", 0):.3f}'
        f'  H(beta) {stats["entropy_beta"]:.3f}  margins: alpha '
        f'min {stats.get("alpha_margin_min", 0):.4f} mean '
        f'{stats.get("alpha_margin_mean", 0):.4f}, beta top-k '
        f'{stats["beta_margin"]:.4f}; '
        f'{stats["uncertain_choices"]} choice(s) within noise  {arch}')


def history_record(iteration: int, arch_step: int, arch: str,
                   stats: Dict[str, float], confidence: Dict[str, Any],
                   alpha: Optional[torch.Tensor],
                   beta: torch.Tensor,
                   extra: Optional[ExtraCandidates] = None) -> Dict[str, Any]:
    """One record of :data:`HISTORY_FILE`.

    ``arch_ce``, ``loss_flops`` and ``loss_latency`` are the losses the step
    minimised (of the architecture before it); everything else describes the
    architecture after it: ``arch`` (derived now), its ``flops_pred_G`` and
    ``latency_pred_ms``, the entropies and margins, ``beta`` (Eq. 2's
    weights) and ``alpha`` (softmax per block, or None). A space with user
    candidates adds ``extra`` (:meth:`ExtraCandidates.to_dict`), so ``arch``
    can be read back in that space.
    """
    record = dict(
        iter=iteration, arch_step=arch_step, arch=arch,
        **{**stats, **confidence},
        beta=attention_weights(beta.detach()).tolist(),
        alpha=None if alpha is None else
        alpha.detach().softmax(-1).tolist())
    if extra:
        record['extra'] = extra.to_dict()
    return record


def append_history(log_dir: str, record: Dict[str, Any]) -> None:
    """Append ``record`` to ``log_dir``'s :data:`HISTORY_FILE`."""
    with open(osp.join(log_dir, HISTORY_FILE), 'a') as f:
        f.write(json.dumps(record) + '\n')
