"""The report of benchmarks/camvid_search_vs_random.py: ``results.md``,
``results.json``, the arch files, arch histories and test metrics, in
``--results-dir``; and what the experiment compares (the networks and their
seeds, the baseline, the random networks' FLOPs window, issue 9's goal)."""
import argparse
import json
import logging
import os
import os.path as osp
import shutil
import statistics
from typing import Any, Dict, List, Optional, Tuple

from _common import environment, table
from _tools import train_minutes

BASELINE_CONFIG = 'configs/demo/mv2-aspp_demo_camvid-360x480.py'
BASELINE = 'mv2+ASPP'
#: Issue 9's goal: derived mIoU >= baseline's at <= this FLOPs ratio.
GOAL_FLOPS_RATIO = 0.75
#: the random networks' FLOPs lie within +-WINDOW of the derived network's
WINDOW = 0.1

log = logging.getLogger('camvid_search_vs_random')

#: None (the main search) or an arm's name -> (arm, search, derived) results
Searches = Dict[Optional[str], Tuple[Dict[str, Any], ...]]


def run_name(net: Dict[str, Any], seed: int) -> str:
    """The name of one retrain of ``net`` (its run dir and metrics file)."""
    return f'{net["name"].replace("+", "_")}-s{seed}'


def networks(args: argparse.Namespace, derived: Dict[str, Any],
             random_nets: Dict[str, Any],
             arms: Optional[List[Tuple[Dict[str, Any], Dict[str, Any]]]] = None
             ) -> List[Dict[str, Any]]:
    """Every network to retrain, with its config and seeds; ``arms`` are
    (arm, its derived stage) pairs."""
    seeds = [args.seed + i for i in range(args.seeds)]
    nets = [dict(name='derived', role='derived', config=
                 derived['retrain_config'], arch_file=derived['arch_file'],
                 seeds=seeds)]
    nets += [dict(name=f'derived_{arm["name"]}', role='arm', arm=arm['name'],
                  config=d['retrain_config'], arch_file=d['arch_file'],
                  seeds=seeds) for arm, d in (arms or [])]
    nets += [dict(name=n['name'], role='random', config=n['retrain_config'],
                  arch_file=n['arch_file'], seeds=[args.seed])
             for n in random_nets['networks']]
    nets.append(dict(name=BASELINE, role='baseline', config=BASELINE_CONFIG,
                     arch_file=None, seeds=seeds))
    return nets


def _mean_std(values: List[float]) -> Tuple[float, Optional[float]]:
    return statistics.mean(values), (statistics.stdev(values)
                                     if len(values) > 1 else None)


def _pm(values: List[float]) -> str:
    mean, std = _mean_std(values)
    return f'{mean:.2f}' if std is None else f'{mean:.2f} ± {std:.2f}'


def compare(d: Dict[str, Any], random_rows: List[Dict[str, Any]],
            b: Dict[str, Any], target: float) -> Dict[str, Any]:
    """One searched network's row against the random and baseline rows:
    the numbers and the goal issue 9 asks for."""
    d_miou, b_miou = _mean_std(d['miou'])[0], _mean_std(b['miou'])[0]
    random_means = [_mean_std(r['miou'])[0] for r in random_rows]
    r_mean, r_std = _mean_std(random_means)
    flops_ratio = d['flops_G'] / b['flops_G']
    beats_random = r_std is not None and d_miou > r_mean + r_std
    beats_baseline = d_miou >= b_miou and flops_ratio <= GOAL_FLOPS_RATIO
    return dict(
        flops_target_G=target,
        derived_flops_G=d['flops_G'],
        target_error=d['flops_G'] / target - 1,
        target_within_10pct=abs(d['flops_G'] / target - 1) <= 0.1,
        derived_miou=d_miou, baseline_miou=b_miou,
        random_miou_mean=r_mean, random_miou_std=r_std,
        ratio_derived_random=d_miou / r_mean,
        ratio_derived_baseline=d_miou / b_miou,
        flops_ratio_derived_baseline=flops_ratio,
        goal_beats_random=beats_random,
        goal_beats_baseline=beats_baseline,
        goal_met=beats_random and beats_baseline)


def summarize_results(prepare: Dict[str, Any], derived: Dict[str, Any],
                      rows: List[Dict[str, Any]],
                      arm_derived: Optional[Dict[str, Dict[str, Any]]] = None
                      ) -> Dict[str, Any]:
    """The main search's comparison, and each arm's under ``arms`` (with
    whether its FLOPs lie in the random networks' window, which is centred
    on the main derived network)."""
    by_role = {r: [x for x in rows if x['role'] == r]
               for r in ('derived', 'random', 'baseline', 'arm')}
    d, b = by_role['derived'][0], by_role['baseline'][0]
    target = prepare['flops_target_G']
    summary = compare(d, by_role['random'], b, target)
    summary['uncertain_choices'] = derived['confidence']['uncertain']
    summary['arms'] = {}
    for row in by_role['arm']:
        arm = compare(row, by_role['random'], b, target)
        arm['uncertain_choices'] = \
            (arm_derived or {})[row['arm']]['confidence']['uncertain']
        arm['in_random_window'] = \
            abs(row['flops_G'] / d['flops_G'] - 1) <= WINDOW
        summary['arms'][row['arm']] = arm
    return summary


def _goal_lines(summary: Dict[str, Any], label: str) -> List[str]:
    std = summary['random_miou_std']
    return [
        f'- {label} / mean random mIoU: '
        f'{summary["ratio_derived_random"]:.3f} ({label} '
        f'{summary["derived_miou"]:.2f}, random '
        f'{summary["random_miou_mean"]:.2f}'
        + ('' if std is None else f' ± {std:.2f}') + ')',
        f'- {label} / {BASELINE} mIoU: '
        f'{summary["ratio_derived_baseline"]:.3f} at '
        f'{summary["flops_ratio_derived_baseline"]:.2f}x its FLOPs',
        f'- goal (issue 9) for {label}: above mean random + std: '
        f'{"yes" if summary["goal_beats_random"] else "no"}; >= '
        f'{BASELINE} at <= {GOAL_FLOPS_RATIO}x FLOPs: '
        f'{"yes" if summary["goal_beats_baseline"] else "no"} -> goal '
        f'{"met" if summary["goal_met"] else "not met"}']


def _search_line(label: str, arm: Dict[str, Any], search: Dict[str, Any],
                 summary: Dict[str, Any]) -> str:
    minutes = search.get('minutes')
    if minutes is None:  # a marker written before the field existed
        minutes = train_minutes(osp.dirname(search['checkpoint']))
    return (f'{label}: {arm["warmup_epochs"]} warm-up + '
            f'{arm["search_epochs"]} search epochs'
            + (f', options `{" ".join(arm["search_options"])}`'
               if arm['search_options'] else '')
            + (f', {minutes:.1f} min' if minutes is not None else '')
            + f'; derived {summary["derived_flops_G"]:.2f}G '
            f'({summary["target_error"]:+.1%} of the target).')


def markdown(args: argparse.Namespace, prepare: Dict[str, Any],
             rows: List[Dict[str, Any]], summary: Dict[str, Any],
             searches: Searches) -> str:
    """results.md."""
    size = prepare['input_size']
    base_flops = prepare['baseline']['flops_paper_G']
    arm0, search0, _ = searches[None]
    h = [f'# CamVid: searched vs random vs {BASELINE}', '',
         '`python benchmarks/camvid_search_vs_random.py ' +
         ' '.join(args.argv) + '`', '',
         f'Search config `{args.search_config}`, FLOPs target '
         f'{summary["flops_target_G"]:.2f}G ({args.target_ratio}x '
         f'{BASELINE}), seed {args.seed}. '
         + _search_line('Main search (`derived`)', arm0, search0, summary)]
    for name, arm_summary in summary['arms'].items():
        arm, search, _ = searches[name]
        h[-1] += ' ' + _search_line(f'Arm `{name}` (`derived_{name}`)', arm,
                                     search, arm_summary)
    h[-1] += (f' Retrain: {args.retrain_epochs} epochs for every network '
              '(the search config\'s `derive.retrain_base`). mIoU: CamVid '
              'val, `tools/test.py`. Latency: 360x480, batch 1, '
              f'{args.threads} thread(s), device {args.device}, median.')
    h += ['', f'| network | role | code | FLOPs {size[0]}x{size[1]} (G) | '
          f'/ {BASELINE} | params (M) | PyTorch ms | onnxruntime ms | seeds |'
          ' val mIoU |', '|---|---|---|---:|---:|---:|---:|---:|---:|---:|']
    for r in rows:
        h.append(f'| {r["name"]} | {r["role"]} | `{r["code"]}` | '
                 f'{r["flops_G"]:.2f} | '
                 f'{r["flops_G"] / base_flops:.2f} | '
                 f'{r["params_M"]:.2f} | {r["torch_ms"]:.1f} | '
                 f'{r["ort_ms"]:.1f} | {len(r["miou"])} | {_pm(r["miou"])} |')
    h += [''] + _goal_lines(summary, 'derived')
    for name, arm_summary in summary['arms'].items():
        h += _goal_lines(arm_summary, f'derived_{name}')
        if not arm_summary['in_random_window']:
            h.append(f'- derived_{name} lies outside the random networks\' '
                     f'FLOPs window (±{WINDOW:.0%} of derived\'s)')
    for name, (_, _, d) in searches.items():
        label = 'the main search' if name is None else f'arm `{name}`'
        h += ['', f'Confidence of {label} '
              '(attnas_mmseg/search/confidence.py):', '', '```',
              d['confidence']['table'], '```']
    return '\n'.join(h) + '\n'


#: histories above this size are committed thinned to about
#: THIN_TO records (first and last kept) and gzipped: a 3,680-step search
#: logs ~3 MB of JSON lines; the full one stays in the work dir
GZIP_ABOVE = 1 << 20
THIN_TO = 100


def copy_history(src: str, dest: str) -> str:
    """Copy an ``arch_history.jsonl``; when large, every n-th record (and
    the last) gzipped to ``dest + '.gz'`` (``zcat`` / ``gzip.open``)."""
    import gzip
    if osp.getsize(src) <= GZIP_ABOVE:
        shutil.copy(src, dest)
        return dest
    with open(src) as f:
        lines = f.readlines()
    step = -(-len(lines) // THIN_TO)
    kept = lines[::step] + ([lines[-1]] if (len(lines) - 1) % step else [])
    # mtime 0: the same history gives the same bytes on every re-run
    with gzip.GzipFile(dest + '.gz', 'wb', mtime=0) as g:
        g.write(''.join(kept).encode())
    if osp.exists(dest):
        os.remove(dest)
    return dest + '.gz'


def network_rows(prepare: Dict[str, Any], nets: List[Dict[str, Any]],
                 runs: Dict[str, Dict[str, Any]],
                 latency: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One row of the table per network: code, cost, latency, mIoUs."""
    from attnas_mmseg.search import ArchSpec
    rows = []
    for net in nets:
        if net['arch_file']:
            spec = ArchSpec.load(net['arch_file'])
            code, meta = str(spec), spec.meta
        else:
            code, meta = 'MobileNetV2 (OS16) + ASPPHead(256)', \
                prepare['baseline']
        lat = latency[net['name']]
        rows.append(dict(
            name=net['name'], role=net['role'], arm=net.get('arm'), code=code,
            flops_G=meta['flops_paper_G'],
            flops_complete_G=meta['flops_complete_G'],
            params_M=meta['params_M'], torch_ms=lat['torch']['median_ms'],
            ort_ms=lat['onnxruntime']['median_ms'], seeds=net['seeds'],
            miou=[runs[run_name(net, s)]['metrics']['mIoU']
                  for s in net['seeds']]))
    return rows


def copy_files(out: str, searches: Searches, nets: List[Dict[str, Any]],
               runs: Dict[str, Dict[str, Any]]) -> None:
    """The arch files, test metrics and arch histories, into ``out``."""
    os.makedirs(osp.join(out, 'metrics'), exist_ok=True)
    for net in nets:
        if net['arch_file']:
            shutil.copy(net['arch_file'], osp.join(out, f'{net["name"]}'
                                                   '_arch.json'))
        for seed in net['seeds']:
            name = run_name(net, seed)
            shutil.copy(runs[name]['metrics']['metrics_file'],
                        osp.join(out, 'metrics', f'{name}.json'))
    for name, (_, arm_search, _) in searches.items():
        dest = out if name is None else osp.join(out, 'arms', name)
        os.makedirs(dest, exist_ok=True)
        for i, hist in enumerate(arm_search['history']):
            copy_history(hist, osp.join(dest, 'arch_history.jsonl' if i == 0
                                        else f'arch_history_{i}.jsonl'))


def write_report(args: argparse.Namespace, options: Dict[str, Any],
                 prepare: Dict[str, Any], searches: Searches,
                 nets: List[Dict[str, Any]], runs: Dict[str, Dict[str, Any]],
                 latency: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """The report in ``args.results_dir`` (module doc); ``options``: the
    work dir's result options. Returns results.json's content."""
    out = args.results_dir
    _, _, derived = searches[None]
    rows = network_rows(prepare, nets, runs, latency)
    copy_files(out, searches, nets, runs)
    summary = summarize_results(
        prepare, derived, rows,
        {name: d for name, (_, _, d) in searches.items() if name})
    result = dict(options=options,
                  environment=environment(args.threads, args.device),
                  baseline_config=BASELINE_CONFIG, networks=rows,
                  summary=summary, confidence=derived['confidence'],
                  arms={name: dict(arm=arm, search_minutes=srch.get('minutes'),
                                   confidence=d['confidence'])
                        for name, (arm, srch, d) in searches.items() if name},
                  latency=latency)
    with open(osp.join(out, 'results.json'), 'w') as f:
        json.dump(result, f, indent=2)
    with open(osp.join(out, 'results.md'), 'w') as f:
        f.write(markdown(args, prepare, rows, summary, searches))
    print(table([[r['name'], f'{r["flops_G"]:.2f}', f'{r["params_M"]:.2f}',
                  f'{r["torch_ms"]:.1f}', f'{r["ort_ms"]:.1f}',
                  _pm(r['miou'])] for r in rows],
                ['network', 'FLOPs G', 'params M', 'torch ms', 'ORT ms',
                 'mIoU']))
    log.info('goal %s; wrote %s and results.json',
             'met' if summary['goal_met'] else 'not met',
             osp.join(out, 'results.md'))
    for name, arm_summary in summary['arms'].items():
        log.info('arm %s: goal %s', name,
                 'met' if arm_summary['goal_met'] else 'not met')
    return result
