"""Plots of an AttNAS search and of the architecture it derived.

* :func:`plot_evolution`: softmax(alpha) of every backbone block (Eq. 1),
  softmax(beta) over all attention layers (Eq. 2) and FLOPs_pred (§3.3.2)
  across the search, from the history file
  (:mod:`attnas_mmseg.engine.hooks.arch_history`) the arch steps write.
* :func:`plot_module`: the derived attention module drawn as the paper's
  Figure 2: the input feature, each AttSet's attentions in parallel (coloured
  by Table 1's kind), their sum, the next layer, the classifier, with the
  backbone code ``mv2(...)`` as the caption.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no global
backend switch), so this works headless and inside other programs.
"""
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch, Patch

from ..engine.hooks.arch_history import HISTORY_FILE, HISTORY_KEYS
from ..search.space.arch_spec import ArchSpec
from ..search.space.candidates import DEFAULT_OP_ORDER, NUM_BLOCKS
from ..search.space.extra_candidates import (USER_KIND, ExtraCandidates,
                                             describe_attention, describe_op)

#: Fill colour of each Table 1 kind (the keys are the ``kind`` values) and
#: of user candidates.
KIND_COLOURS = {
    'local spatial': '#9ecae1',
    'global spatial': '#fdae6b',
    'channel': '#a1d99b',
    USER_KIND: '#d9d9d9',
}
KIND_EDGES = {
    'local spatial': '#3182bd',
    'global spatial': '#e6550d',
    'channel': '#31a354',
    USER_KIND: '#636363',
}

PathLike = Union[str, Path]


# ------------------------------------------------------------------ history
def _history_files(source: PathLike) -> List[Path]:
    path = Path(source)
    if path.is_dir():
        # A work dir holds one <timestamp>/ log dir per (resumed) run.
        files = sorted(path.glob(f'**/{HISTORY_FILE}'))
        if not files:
            raise FileNotFoundError(f'history: no {HISTORY_FILE} under '
                                    f'{path}')
        return files
    if not path.is_file():
        raise FileNotFoundError(f'history: {path} does not exist')
    return [path]


def _check_record(rec: Any, where: str) -> Dict[str, Any]:
    if not isinstance(rec, dict):
        raise ValueError(f'{where}: expected a JSON object, got '
                         f'{type(rec).__name__}')
    missing = [k for k in HISTORY_KEYS if k not in rec]
    if missing:
        raise ValueError(f'{where}: missing keys {missing} (a record has '
                         f'{list(HISTORY_KEYS)})')
    extra = ExtraCandidates.from_dict(rec.get('extra'))
    beta = np.asarray(rec['beta'], dtype=float)
    if beta.ndim != 2 or beta.shape[1] != extra.num_attentions:
        raise ValueError(f'{where}: beta must be (num_layers, '
                         f'{extra.num_attentions}), got shape {beta.shape}')
    if rec['alpha'] is not None:
        alpha = np.asarray(rec['alpha'], dtype=float)
        if alpha.shape != (NUM_BLOCKS, extra.num_ops):
            raise ValueError(f'{where}: alpha must be null or ({NUM_BLOCKS}, '
                             f'{extra.num_ops}), got shape {alpha.shape}')
    return rec


def load_history(
        sources: Union[PathLike, Sequence[PathLike]]) -> List[Dict[str, Any]]:
    """Records of one search, ordered by arch step.

    Args:
        sources: ``arch_history.jsonl`` files, or work dirs searched for them,
            in run order. A resumed search writes a new file in a new log dir
            and repeats the steps after its checkpoint; the later record of an
            arch step wins.
    """
    if isinstance(sources, (str, Path)):
        sources = [sources]
    by_step: Dict[int, Dict[str, Any]] = {}
    for source in sources:
        for path in _history_files(source):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                where = f'history: {path}:{n}'
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f'{where}: not JSON ({err})') from None
                rec = _check_record(rec, where)
                by_step[int(rec['arch_step'])] = rec
    if not by_step:
        raise ValueError(f'history: no records in {list(map(str, sources))}')
    records = [by_step[k] for k in sorted(by_step)]
    layers = {len(r['beta']) for r in records}
    if len(layers) != 1:
        raise ValueError(f'history: records disagree on the number of '
                         f'attention layers: {sorted(layers)}')
    return records


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, out_path: PathLike) -> Path:
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=fig.dpi)
    return out


# ---------------------------------------------------------------- evolution
def plot_evolution(history: Union[PathLike, Sequence[PathLike],
                                  List[Dict[str, Any]]],
                   out_path: PathLike,
                   spec: Optional[Union[ArchSpec, PathLike]] = None,
                   op_order: Optional[str] = None) -> Path:
    """Draw alpha, beta and FLOPs_pred across a search into ``out_path``.

    Args:
        history: ``arch_history.jsonl`` path(s)/work dir(s), or records as
            :func:`load_history` returns them.
        spec: The derived architecture (``arch.json``); its attentions are
            starred on the beta map and its FLOPs drawn on the FLOPs plot.
            Default: the ``arch`` of the last record.
        op_order: Meaning of op indices 1-6 in the legend; default the spec's
            ``meta['op_order']``, else the package default.
    """
    records = history if (isinstance(history, list) and history
                          and isinstance(history[0], dict)) \
        else load_history(history)
    extra = ExtraCandidates.from_dict(records[-1].get('extra'))
    spec = ArchSpec.coerce(spec if spec is not None else records[-1]['arch'],
                           extra)
    op_order = op_order or spec.meta.get('op_order', DEFAULT_OP_ORDER)
    iters = np.array([r['iter'] for r in records], dtype=float)
    beta = np.array([r['beta'] for r in records], dtype=float)  # (T, L, 13)
    num_layers = beta.shape[1]
    with_alpha = records[-1]['alpha'] is not None
    alpha = np.array([r['alpha'] for r in records
                      if r['alpha'] is not None], dtype=float)
    alpha_iters = np.array([r['iter'] for r in records
                            if r['alpha'] is not None], dtype=float)

    heat_h = 0.17 * num_layers * beta.shape[2] + 1.0
    grid_rows = 3 if with_alpha else 0
    fig = _new_figure(18, 3.4 + heat_h + 2.3 * grid_rows + 0.6)
    ratios = [3.4, heat_h] + [2.3] * grid_rows
    gs = fig.add_gridspec(len(ratios), 6, height_ratios=ratios, hspace=0.55,
                          wspace=0.3, left=0.06, right=0.94, top=0.95,
                          bottom=0.05)
    fig.suptitle(f'AttNAS search: {len(records)} logged arch steps, '
                 f'derived {spec}', fontsize=12)

    ax = fig.add_subplot(gs[0, 0:2])
    ax.plot(iters, [r['flops_pred_G'] for r in records], color='#d62728',
            label='FLOPs_pred')
    if 'flops_paper_G' in spec.meta:
        ax.axhline(spec.meta['flops_paper_G'], color='k', ls='--', lw=1,
                   label='derived network')
    ax.set(title='FLOPs_pred (G, paper convention)', xlabel='iteration')
    ax.legend(fontsize=8)
    ax = fig.add_subplot(gs[0, 2:4])
    for key, colour in (('arch_ce', '#1f77b4'), ('loss_flops', '#ff7f0e')):
        ax.plot(iters, [r.get(key, np.nan) for r in records], color=colour,
                label=key)
    ax.set(title='architecture losses (Eq. 3-4)', xlabel='iteration')
    ax.legend(fontsize=8)
    ax = fig.add_subplot(gs[0, 4:6])
    for key, colour in (('entropy_beta', '#9467bd'),
                        ('entropy_alpha', '#8c564b')):
        ax.plot(iters, [r.get(key, np.nan) for r in records], color=colour,
                label=key)
    ax.set(title='mean entropy of the softmaxes (nats)', xlabel='iteration')
    ax.legend(fontsize=8)

    ax = fig.add_subplot(gs[1, :])
    _beta_heatmap(fig, ax, iters, beta, spec)
    if with_alpha:
        _alpha_grid(fig, gs, alpha_iters, alpha, spec, op_order)
    return _save(fig, out_path)


def _beta_heatmap(fig: Figure, ax, iters: np.ndarray, beta: np.ndarray,
                  spec: ArchSpec) -> None:
    num_layers, per_layer = beta.shape[1:]
    rows = beta.reshape(len(beta), -1).T          # (L * C, T)
    x0, x1 = (iters[0] - 0.5, iters[-1] + 0.5) if len(iters) > 1 else (
        iters[0] - 0.5, iters[0] + 0.5)
    image = ax.imshow(rows, aspect='auto', interpolation='nearest',
                      cmap='viridis', vmin=0, extent=(x0, x1, len(rows) - 0.5,
                                                      -0.5))
    fig.colorbar(image, ax=ax, pad=0.01, fraction=0.02,
                 label='softmax(beta) (Eq. 2)')
    labels = []
    for layer in range(num_layers):
        chosen = spec.attention[layer] if layer < spec.num_layers else ()
        for att in range(1, per_layer + 1):
            mark = ' *' if att in chosen else ''
            labels.append(f'{describe_attention(att, spec.extra)[0]}{mark}')
        if layer:
            ax.axhline(layer * per_layer - 0.5, color='w', lw=2)
        ax.text(-0.045, (layer + 0.5) * per_layer - 0.5,
                f'AttSet{layer + 1}', transform=ax.get_yaxis_transform(),
                rotation=90, ha='center', va='center', fontsize=10,
                fontweight='bold')
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.set(title='softmax over all AttSets of beta (* = derived)',
           xlabel='iteration')


def _alpha_grid(fig: Figure, gs, iters: np.ndarray, alpha: np.ndarray,
                spec: ArchSpec, op_order: str) -> None:
    num_ops = alpha.shape[2]
    colours = [f'C{j}' for j in range(num_ops)]
    top = float(alpha.max()) * 1.05
    axes = []
    for block in range(NUM_BLOCKS):
        ax = fig.add_subplot(gs[2 + block // 6, block % 6])
        for j in range(num_ops):
            ax.plot(iters, alpha[:, block, j], color=colours[j], lw=1.2)
        chosen = spec.backbone[block] if spec.backbone is not None else int(
            alpha[-1, block].argmax()) + 1
        ax.set_title(f'block {block + 1}: op {chosen}', fontsize=9)
        ax.set_ylim(0, top)
        ax.tick_params(labelsize=7)
        axes.append(ax)
    legend_ax = fig.add_subplot(gs[2 + NUM_BLOCKS // 6, NUM_BLOCKS % 6])
    legend_ax.axis('off')
    legend_ax.legend(
        handles=[Patch(color=colours[j], label=f'op {j + 1}: ' +
                       describe_op(j + 1, spec.extra, op_order))
                 for j in range(num_ops)],
        title=f'softmax(alpha) (Eq. 1)\nop order: {op_order}', loc='center',
        fontsize=8, title_fontsize=8)


# ------------------------------------------------------------------- module
# Drawing units are inches (the figure is sized to the drawing).
_BOX_W, _BOX_H, _GAP_Y, _GAP_X, _SUM_R = 2.3, 1.0, 0.35, 0.8, 0.25


def _box(ax, x: float, y: float, lines: Sequence[str], face: str,
         edge: str, dashed: bool = False, width: float = _BOX_W) -> None:
    ax.add_patch(FancyBboxPatch(
        (x - width / 2, y - _BOX_H / 2), width, _BOX_H,
        boxstyle='round,pad=0.02,rounding_size=0.12', facecolor=face,
        edgecolor=edge, lw=1.5, ls='--' if dashed else '-'))
    head, *rest = lines
    offset = 0.17 * len(rest)
    ax.text(x, y + offset, head, ha='center', va='center', fontsize=11,
            fontweight='bold')
    for i, line in enumerate(rest):
        ax.text(x, y + offset - 0.3 * (i + 1), line, ha='center',
                va='center', fontsize=7.5)


def _arrow(ax, start, end) -> None:
    ax.annotate('', xy=end, xytext=start,
                arrowprops=dict(arrowstyle='-|>', color='#444444', lw=1.2,
                                shrinkA=0, shrinkB=0))


def plot_module(spec: Union[ArchSpec, PathLike, str],
                out_path: PathLike,
                combine: str = 'sum') -> Path:
    """Draw the derived attention module of ``spec`` as the paper's Fig. 2.

    Args:
        spec: An :class:`ArchSpec`, its ``arch.json``, or paper notation.
        combine: How a layer merges its attentions ('sum' or 'mean'), as
            ``AttNASHead.combine``.
    """
    spec = ArchSpec.coerce(spec)
    if combine not in ('sum', 'mean'):
        raise ValueError(f"combine must be 'sum' or 'mean', got {combine!r}")
    widest = max(max(len(layer) for layer in spec.attention), 1)
    span = widest * _BOX_H + (widest - 1) * _GAP_Y
    # Left to right: input, each layer's column (and its sum), classifier.
    cols, sums, cursor = [], [], _BOX_W / 2
    for layer in spec.attention:
        cols.append(cursor + _GAP_X + _BOX_W / 2)
        cursor = cols[-1] + _BOX_W / 2
        if len(layer) > 1:
            sums.append(cursor + _GAP_X * 0.6 + _SUM_R)
            cursor = sums[-1] + _SUM_R
        else:
            sums.append(None)
    x_cls = cursor + _GAP_X + _BOX_W / 2
    x_lim = (-_BOX_W / 2 - 0.3, x_cls + _BOX_W / 2 + 0.3)
    y_lim = (-span / 2 - 2.2, span / 2 + 1.0)
    fig = _new_figure(x_lim[1] - x_lim[0], y_lim[1] - y_lim[0])
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(*x_lim)
    ax.set_ylim(*y_lim)
    ax.set_aspect('equal')
    ax.axis('off')

    _box(ax, 0.0, 0.0, ['Input feature', 'backbone output (OS16)'],
         '#eeeeee', '#666666')
    prev = (_BOX_W / 2, 0.0)
    for li, ids in enumerate(spec.attention):
        col = cols[li]
        ax.text(col, span / 2 + 0.45, f'AttSet{li + 1}', ha='center',
                fontsize=12, fontweight='bold')
        if not ids:
            _box(ax, col, 0.0, ['(empty)', 'identity'], 'white', '#999999',
                 dashed=True)
            _arrow(ax, prev, (col - _BOX_W / 2, 0.0))
            prev = (col + _BOX_W / 2, 0.0)
            continue
        top = (len(ids) - 1) * (_BOX_H + _GAP_Y) / 2
        ys = [top - i * (_BOX_H + _GAP_Y) for i in range(len(ids))]
        for att, y in zip(ids, ys):
            short, name, kind = describe_attention(att, spec.extra)
            _box(ax, col, y, [short, name, kind], KIND_COLOURS[kind],
                 KIND_EDGES[kind])
            _arrow(ax, prev, (col - _BOX_W / 2, y))
        if sums[li] is None:
            prev = (col + _BOX_W / 2, ys[0])
            continue
        sx = sums[li]
        ax.add_patch(Circle((sx, 0.0), _SUM_R, facecolor='white',
                            edgecolor='#444444', lw=1.5))
        ax.text(sx, 0.0, '+' if combine == 'sum' else 'avg', ha='center',
                va='center', fontsize=14 if combine == 'sum' else 8)
        for y in ys:
            _arrow(ax, (col + _BOX_W / 2, y), (sx - _SUM_R, 0.0))
        prev = (sx + _SUM_R, 0.0)
    _box(ax, x_cls, 0.0, ['Classifier', 'bottleneck + conv_seg'], '#eeeeee',
         '#666666')
    _arrow(ax, prev, (x_cls - _BOX_W / 2, 0.0))

    kinds = sorted({describe_attention(a, spec.extra)[2]
                    for ids in spec.attention for a in ids},
                   key=list(KIND_COLOURS).index)
    ax.legend(handles=[Patch(facecolor=KIND_COLOURS[k],
                             edgecolor=KIND_EDGES[k], label=k)
                       for k in kinds],
              loc='lower right', fontsize=9, frameon=False,
              ncol=len(kinds))
    caption = [spec.attention_notation]
    if spec.backbone_notation is not None:
        caption.insert(0, f'backbone {spec.backbone_notation}')
    meta = spec.meta
    if 'flops_paper_G' in meta and 'params_M' in meta:
        size = meta.get('input_size', ['?', '?'])
        caption.append(f'{meta["flops_paper_G"]:.1f}G FLOPs (paper '
                       f'convention) at {size[0]}x{size[1]}, '
                       f'{meta["params_M"]:.2f}M params')
    ax.text(-_BOX_W / 2, -span / 2 - 1.0, '\n'.join(caption), ha='left',
            va='top', fontsize=10, family='monospace')
    return _save(fig, out_path)
