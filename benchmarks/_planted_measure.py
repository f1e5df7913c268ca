"""What a planted-signal search says (benchmarks/planted_signal.py): where the
planted candidates ended in its alpha/beta and what its derivation holds."""
import os.path as osp
from typing import Any, Dict, List

from attnas_mmseg.search.space.candidates import NUM_ATTENTIONS, NUM_OPS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def rank_of(values: List[float], index: int) -> int:
    """1 + how many entries are strictly greater than ``values[index]``
    (1: first; ties do not push it down)."""
    return 1 + sum(v > values[index] for i, v in enumerate(values)
                   if i != index)


def measure(config: str, checkpoint: str, arch_file: str,
            ranks: bool = True) -> Dict[str, Any]:
    """Where the planted candidates ended in a search's alpha/beta, and
    what its derived network holds. ``ranks=False`` (a search without an
    arch step, 'uniform': its alpha/beta are untrained) leaves the rank and
    margin fields None."""
    from attnas_mmseg.datasets.planted import NEEDED_ATTENTION
    from attnas_mmseg.export import load_search_checkpoint
    from attnas_mmseg.search import ArchSpec
    from attnas_mmseg.search.confidence import (gap_quantile,
                                                noise_sigma_from_checkpoint)
    from attnas_mmseg.search.space.extra_candidates import ExtraCandidates
    from mmengine.config import Config
    extra = ExtraCandidates.from_model_cfg(
        Config.fromfile(osp.join(REPO, config)).model)
    ckpt, alpha, beta = load_search_checkpoint(checkpoint, extra)
    spec = ArchSpec.load(arch_file)
    topk = int(spec.meta.get('topk', 4))
    # the first NoiseOp / NoiseAttention among the user candidates
    noise_op = NUM_OPS + 1 + [c['type'] for c in extra.ops].index('NoiseOp')
    noise_att = NUM_ATTENTIONS + 1 + [
        c['type'] for c in extra.attentions].index('NoiseAttention')
    needed_derived = any(NEEDED_ATTENTION in ids for ids in spec.attention)
    held = dict(
        topk=topk, noise_op=noise_op,
        noise_op_derived=sum(op == noise_op for op in spec.backbone),
        noise_attention=noise_att,
        noise_attention_derived=any(noise_att in ids
                                    for ids in spec.attention),
        needed_attention=NEEDED_ATTENTION, needed_derived=needed_derived,
        num_ops=alpha.shape[1], num_cells=beta.numel())
    if not ranks:
        return dict(held, sigma=None, arch_steps=0, noise_op_ranks=None,
                    noise_op_last=None, noise_op_gap_sigma=None,
                    noise_op_clear=None, noise_attention_ranks=None,
                    noise_attention_cell_ranks=None,
                    noise_attention_gap_sigma=None, needed_cell_rank=None,
                    needed_gap_sigma=None, needed_clear=False)
    sigma = noise_sigma_from_checkpoint(ckpt)
    a, b = alpha.double(), beta.double()
    per_layer = b.shape[1]
    flat = b.flatten().tolist()
    order = sorted(flat, reverse=True)
    cut = (order[topk - 1], order[topk]) if topk < len(order) else None

    op_ranks, op_gaps = [], []
    for row in a.tolist():
        op_ranks.append(rank_of(row, noise_op - 1))
        others = row[:noise_op - 1] + row[noise_op:]
        op_gaps.append((min(others) - row[noise_op - 1]) / sigma)
    att_cells = [layer * per_layer + noise_att - 1
                 for layer in range(b.shape[0])]
    needed_cells = [layer * per_layer + NEEDED_ATTENTION - 1
                    for layer in range(b.shape[0])]
    best_needed = max(needed_cells, key=lambda c: flat[c])
    needed_gap = None if cut is None else (
        flat[best_needed] - (cut[1] if needed_derived else cut[0])) / sigma
    q_last = gap_quantile(alpha.shape[1], alpha.shape[1] - 1)
    q_cut = gap_quantile(len(flat), topk) if cut is not None else None
    return dict(
        held, sigma=sigma,
        arch_steps=int(ckpt['arch_update_hook']['arch_steps']),
        noise_op_ranks=op_ranks,
        noise_op_last=sum(r == alpha.shape[1] for r in op_ranks),
        noise_op_gap_sigma=op_gaps,
        noise_op_clear=sum(g > q_last for g in op_gaps),
        noise_attention_ranks=[rank_of(b[layer].tolist(), noise_att - 1)
                               for layer in range(b.shape[0])],
        noise_attention_cell_ranks=[rank_of(flat, c) for c in att_cells],
        noise_attention_gap_sigma=None if cut is None else
        (cut[0] - max(flat[c] for c in att_cells)) / sigma,
        needed_cell_rank=rank_of(flat, best_needed),
        needed_gap_sigma=needed_gap,
        needed_clear=bool(needed_derived and needed_gap is not None
                          and needed_gap > q_cut))
