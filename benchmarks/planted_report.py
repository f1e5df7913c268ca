"""The planted-signal benchmark's summaries and its ``results.md``
(benchmarks/planted_signal.py writes ``results.json`` with them).

    python benchmarks/planted_report.py docs/results/planted/results.json

re-renders ``results.md`` beside a ``results.json``.
"""
import json
import os.path as osp
import re
import statistics
import sys
from typing import Any, Dict, List, Optional


def _mean(values: List[float]) -> Optional[float]:
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else None


def premise_summary(runs: List[Dict[str, Any]],
                    gap: float) -> Dict[str, Any]:
    """Per task: each arm's mIoU per seed and mean, and the gaps the
    premise claims (needed: with - without; harmful: clean - each noisy
    network), each with whether it reaches ``gap`` points."""
    out: Dict[str, Any] = {}
    for task in dict.fromkeys(r['task'] for r in runs):
        arms: Dict[str, Any] = {}
        for r in runs:
            if r['task'] == task:
                arm = arms.setdefault(r['arm'], dict(arch=r['arch'], miou={}))
                arm['miou'][str(r['seed'])] = r['miou']
        for arm in arms.values():
            arm['mean'] = _mean(list(arm['miou'].values()))
        base = 'without' if task == 'needed' else 'clean'
        # needed: the other network must win; harmful: it must lose
        sign = 1 if task == 'needed' else -1
        gaps = {}
        for name, arm in arms.items():
            if name != base and base in arms:
                diff = sign * (arm['mean'] - arms[base]['mean'])
                gaps[name] = dict(gap=diff, holds=diff >= gap)
        out[task] = dict(arms=arms, gaps=gaps, required=gap)
    return out


def search_summary(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Per task and mode, over seeds: how often the noise candidates were
    avoided and ranked last, how often the needed attention was derived (and
    clear of noise), wall time."""
    out: Dict[str, Any] = {}
    for r in runs:
        out.setdefault(r['task'], {}).setdefault(r['mode'], []).append(r)
    for task, modes in out.items():
        for mode, rs in modes.items():
            ranked = [r for r in rs if r['noise_op_ranks'] is not None]
            blocks = 17 if not ranked else len(ranked[0]['noise_op_ranks'])
            modes[mode] = dict(
                seeds=[r['seed'] for r in rs],
                # None for a mode without an arch step: alpha is untrained
                noise_op_last_fraction=_mean(
                    [r['noise_op_last'] / blocks for r in ranked]),
                noise_op_last_min=min(
                    (r['noise_op_last'] for r in ranked), default=None),
                noise_op_clear_mean=_mean(
                    [r['noise_op_clear'] for r in ranked]),
                noise_op_derived_runs=sum(r['noise_op_derived'] > 0
                                          for r in rs),
                # chance: blocks / ops (17 / 7 = 2.4)
                noise_op_blocks_mean=_mean(
                    [r['noise_op_derived'] for r in rs]),
                noise_attention_derived_runs=sum(
                    r['noise_attention_derived'] for r in rs),
                noise_attention_rank_mean=_mean(
                    [_mean(r['noise_attention_ranks']) for r in ranked]),
                needed_derived_runs=sum(r['needed_derived'] for r in rs),
                needed_clear_runs=sum(r['needed_clear'] for r in rs),
                global_derived_runs=sum(
                    bool(_global_attentions(r['arch'])) for r in rs),
                minutes_mean=_mean([r['minutes'] for r in rs]),
                num_ops=rs[0]['num_ops'], blocks=blocks)
    return out


def _global_attentions(arch: str) -> List[int]:
    """The attentions of GLOBAL_ATTENTIONS (Att1, Att13) a derived network
    (its paper notation) holds."""
    from attnas_mmseg.datasets.planted import GLOBAL_ATTENTIONS
    held = {int(i) for ids in re.findall(r'AttSet\d+\(([\d,]+)\)', arch)
            for i in ids.split(',')}
    return [a for a in GLOBAL_ATTENTIONS if a in held]


def _pct(value: Optional[float]) -> str:
    return '-' if value is None else f'{100 * value:.0f}%'


def _num(value: Optional[float], fmt: str = '.2f') -> str:
    return '-' if value is None else format(value, fmt)


def _premise_lines(premise: Dict[str, Any]) -> List[str]:
    if not premise:
        return ['(premise stage not run)']
    lines = ['| task | network | arch | mIoU per seed | mean |',
             '|---|---|---|---|---:|']
    for task, p in premise.items():
        for name, arm in p['arms'].items():
            seeds = ', '.join(f's{s}: {v:.2f}' for s, v in arm['miou'].items())
            lines.append(f'| {task} | {name} | `{arm["arch"]}` | {seeds} | '
                         f'{_num(arm["mean"])} |')
    lines += ['']
    for task, p in premise.items():
        for name, g in p['gaps'].items():
            lines.append(f'- {task}, {name}: gap {g["gap"]:.2f} mIoU points '
                         f'({"holds" if g["holds"] else "FAILS"}: required '
                         f'>= {p["required"]:g})')
    return lines


def _search_lines(summary: Dict[str, Any]) -> List[str]:
    if not summary:
        return ['(search stage not run)']
    lines = ['| task | mode | seeds | noise op last (mean share of blocks) '
             '| worst seed | clear of noise (blocks, mean) | runs deriving '
             'the noise op | blocks holding it (mean) | runs deriving the '
             'noise attention | noise attention rank in its layer (mean) '
             '| runs deriving Att13 | Att13 clear of noise | runs deriving '
             'Att1 or Att13 | wall min (mean) |',
             '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
             '---:|']
    for task, modes in summary.items():
        for mode, m in modes.items():
            n = len(m['seeds'])
            worst = '-' if m['noise_op_last_min'] is None else \
                f'{m["noise_op_last_min"]}/{m["blocks"]}'
            lines.append(
                f'| {task} | {mode} | {n} | '
                f'{_pct(m["noise_op_last_fraction"])} | {worst} | '
                f'{_num(m["noise_op_clear_mean"], ".1f")} | '
                f'{m["noise_op_derived_runs"]}/{n} | '
                f'{_num(m.get("noise_op_blocks_mean"), ".1f")} | '
                f'{m["noise_attention_derived_runs"]}/{n} | '
                f'{_num(m["noise_attention_rank_mean"], ".1f")} | '
                f'{m["needed_derived_runs"]}/{n} | '
                f'{m["needed_clear_runs"]}/{n} | '
                f'{m.get("global_derived_runs", 0)}/{n} | '
                f'{_num(m["minutes_mean"], ".1f")} |')
    return lines


def render(results: Dict[str, Any]) -> str:
    """``results.md`` of a ``results.json`` dict."""
    opts = results['options']
    schedule = ("the config's" if opts['epochs'] is None else
                f'{opts["epochs"]} (warm-up {opts["warmup_epochs"]})')
    lines = [
        '# Planted signals: does the search find what is known to be right?',
        '', '`python benchmarks/planted_signal.py ' +
        ' '.join(results['argv']) + '`', '',
        f'Data: {opts["num_train"]} train / {opts["num_val"]} val images of '
        f'64x128 (seed {opts["data_seed"]}); search epochs {schedule}; '
        f'premise networks retrained {opts["premise_epochs"]} epochs; '
        f'{results["threads"]} thread(s).', '', results['environment'], '',
        '## Premise (standalone networks, val mIoU)', '',
        *_premise_lines(results['premise']), '',
        '## Searches', '',
        'The noise op is op 7 of every block (rank 7 = last), the noise '
        'attention Att14 of every layer (rank 14 = last); "clear of noise": '
        'the gap below the next candidate exceeds the 95% quantile of the '
        'noise null (attnas_mmseg/search/confidence.py).', '',
        *_search_lines(results['summary']), '', 'Derived networks:', '']
    lines += [f'- {r["task"]} {r["mode"]} s{r["seed"]}: `{r["arch"]}` '
              f'(noise op ranks {r["noise_op_ranks"]}; noise attention '
              f'ranks {r["noise_attention_ranks"]})' for r in results['runs']]
    return '\n'.join(lines) + '\n'


def main(path: str) -> None:
    with open(path) as f:
        results = json.load(f)
    out = osp.join(osp.dirname(path), 'results.md')
    with open(out, 'w') as f:
        f.write(render(results))
    print(f'wrote {out}')


if __name__ == '__main__':
    main(sys.argv[1])
