"""How well each scorer ranks trained networks: Kendall tau, Spearman rho
(90% bootstrap intervals), partial tau on FLOPs, precision at the top 25%
and the true rank of each scorer's pick, against the mean mIoU of a ground
truth, with the noise ceiling (one training seed scoring another).

    python benchmarks/rank_correlation.py \\
        --ground-truth docs/results/camvid/ranking/ground_truth.json \\
        --config configs/demo/attnas-search_demo_camvid-120x160.py \\
        --cfg-options \\
            train_dataloader.dataset.dataset.data_root=../shared/data/camvid \\
        --scorers flops params synflow naswot grad_norm logprob:SEARCH.pth \\
                  inherited:SEARCH.pth [--scores MORE.json] \\
        [--out-dir docs/results/camvid/ranking]

The ground truth is
``attnas_mmseg.evaluation.ground_truth.GROUND_TRUTH_FORMAT``
(benchmarks/rank_ground_truth.py writes it). A scores file is
``{"scorer": {"network name": score}}`` (higher = predicted better); with
``--scorers`` the scores are computed here in the space of ``--config`` (a
search config), one of ``name`` or ``name:ARG``: ``latency:LUT``,
``logprob:SEARCH_CKPT``, ``inherited:SUPERNET_CKPT`` or
``inherited:SUPERNET_CONFIG:SUPERNET_CKPT`` (the others take none), and
saved as ``scores.json`` beside the results. Writes ``results.md`` and
``results.json`` into ``--out-dir``.

Scorers are judged on the sampled networks only. A network whose ``source``
is ``searched:...`` (``rank_ground_truth.py --searched``) is a search's
pick: a second table says where it lands among the sampled ones (rank, top
25%, z against their spread) and, with ``--searches`` (rank_searches.py's
``searches.json``), what its search and derivation cost.
"""
import argparse
import json
import math
import os
import os.path as osp
import sys
import time
from dataclasses import replace
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _common import table  # noqa: E402

from attnas_mmseg.evaluation import ground_truth, rank_stats  # noqa: E402
from attnas_mmseg.evaluation.scorers import SCORERS  # noqa: E402
from attnas_mmseg.evaluation.scorers import ScoreContext, score_all  # noqa

#: Scorers and the argument after ``name:`` they take (None: none).
SCORER_ARGS = dict(latency='LUT', logprob='SEARCH_CKPT',
                   inherited='[SUPERNET_CONFIG:]SUPERNET_CKPT')


def parse_scorer(token: str) -> Dict[str, Any]:
    """``name`` or ``name:ARG`` -> dict(name, args, context overrides)."""
    name, _, arg = token.partition(':')
    if name not in SCORERS:
        raise ValueError(f'--scorers: unknown scorer {name!r}; one of '
                         f'{sorted(SCORERS)}')
    wants = SCORER_ARGS.get(name)
    if bool(arg) != bool(wants):
        need = f'{name}:{wants}' if wants else f'{name} (no argument)'
        raise ValueError(f'--scorers: {token!r}: expected {need}')
    overrides: Dict[str, Any] = {}
    if name == 'latency':
        overrides['latency_lut'] = arg
    elif name == 'logprob':
        overrides['search_checkpoint'] = arg
    elif name == 'inherited':
        config, _, ckpt = arg.rpartition(':')
        overrides.update(supernet_checkpoint=ckpt,
                         supernet_config=config or None)
    return dict(name=name, arg=arg, overrides=overrides)


def scorer_labels(parsed: List[Dict[str, Any]]) -> List[str]:
    """A scorer's name; where a name repeats, with its file's stem, or its
    whole argument where stems repeat too."""
    names = [p['name'] for p in parsed]
    labels = [p['name'] if names.count(p['name']) == 1 else
              f'{p["name"]}:{osp.splitext(osp.basename(p["arg"]))[0]}'
              for p in parsed]
    return [label if labels.count(label) == 1 else f'{p["name"]}:{p["arg"]}'
            for label, p in zip(labels, parsed)]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--ground-truth', required=True)
    parser.add_argument('--scores', nargs='+', default=[],
                        help='scores files {"scorer": {"network": score}}')
    with_args = ', '.join(f'{k}:{v}' for k, v in SCORER_ARGS.items())
    parser.add_argument('--scorers', nargs='+', default=[],
                        help=f'compute these: name or name:ARG ({with_args})')
    parser.add_argument('--config', help='the space (search) config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override --config settings (key=value)')
    parser.add_argument('--split', default='train',
                        help='dataloader of --config for the proxies\' batch')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0,
                        help='seeds the batch, the random weights and the '
                        'bootstrap')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--input-size', type=int, nargs=2, metavar=('H', 'W'),
                        help='of the FLOPs scorer (default: the config\'s '
                        'derive.input_size)')
    parser.add_argument('--inherited-split', default='val',
                        help='where inherited scores: val or arch')
    parser.add_argument('--calib-batches', type=int,
                        help='BN recalibration batches of inherited '
                        '(default: the evaluator\'s)')
    parser.add_argument('--resamples', type=int,
                        default=rank_stats.BOOTSTRAP_RESAMPLES,
                        help='bootstrap resamples (0: no intervals)')
    parser.add_argument('--searches',
                        help='rank_searches.py\'s searches.json: the picks\' '
                        'search and derivation minutes')
    parser.add_argument('--out-dir', help='write results.md/json here')
    args = parser.parse_args(argv)
    if not args.scores and not args.scorers:
        parser.error('give --scores and/or --scorers')
    if args.scorers and not args.config:
        parser.error('--scorers needs --config (the space to build in)')
    if args.resamples < 0:
        parser.error('--resamples must be >= 0')
    try:
        args.parsed = [parse_scorer(t) for t in args.scorers]
    except ValueError as err:
        parser.error(str(err))
    return args


def read_scores(paths: List[str]) -> Dict[str, Dict[str, float]]:
    out: Dict[str, Dict[str, float]] = {}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        if not isinstance(data, dict) or not all(
                isinstance(v, dict) for v in data.values()):
            raise ValueError(f'--scores: {path}: expected {{"scorer": '
                             '{"network name": score}}')
        for scorer, scores in data.items():
            if scorer in out:
                raise ValueError(f'--scores: {path}: scorer {scorer!r} is '
                                 'given twice')
            out[scorer] = {k: float(v) for k, v in scores.items()}
    return out


def compute_scores(args: argparse.Namespace, truth: ground_truth.GroundTruth
                   ) -> Tuple[Dict[str, Dict[str, float]], Dict[str, float]]:
    """({label: {network: score}}, {label: seconds per network})."""
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    base = ScoreContext(cfg, split=args.split, batch_size=args.batch_size,
                        seed=args.seed, device=args.device,
                        input_size=args.input_size,
                        inherited_split=args.inherited_split,
                        calib_batches=args.calib_batches)
    specs = dict(zip(truth.names, truth.specs))
    scores, seconds = {}, {}
    for label, parsed in zip(scorer_labels(args.parsed), args.parsed):
        start = time.perf_counter()
        scores[label] = score_all(parsed['name'], specs,
                                  replace(base, **parsed['overrides']))
        seconds[label] = (time.perf_counter() - start) / len(specs)
        print(f'{label}: scored {len(specs)} networks '
              f'({seconds[label]:.2f} s each)', flush=True)
    return scores, seconds


def read_costs(path: Optional[str]) -> Dict[str, Dict[str, float]]:
    """{pick: {search_minutes, search_threads, derive_minutes,
    derive_threads}} from a rank_searches.py ``searches.json`` (none without
    one; a pick kept from before threads were recorded: derive_threads
    None)."""
    if not path:
        return {}
    with open(path) as f:
        data = json.load(f)
    try:
        searches, picks = data['searches'], data['picks']
        return {name: dict(
            search=pick['search'],
            search_minutes=searches[pick['search']]['minutes'],
            search_threads=searches[pick['search']]['threads'],
            derive_minutes=pick['minutes'],
            derive_threads=pick.get('threads'))
            for name, pick in picks.items()}
    except (KeyError, TypeError) as err:
        raise ValueError(f'--searches: {path}: not a rank_searches.py '
                         f'searches.json (no {err})') from None


def evaluate(truth: ground_truth.GroundTruth,
             scores: Dict[str, Dict[str, float]], resamples: int,
             seed: int, costs: Optional[Dict[str, Dict[str, float]]] = None
             ) -> Dict[str, Any]:
    """The scorers' rows and the ceiling on the sampled networks of
    ``truth``; the picks' rows against them (with ``costs``' minutes)."""
    picks = ground_truth.pick_rows(truth)
    for name, row in picks.items():
        row.update((costs or {}).get(name, {}))
    listed = [dict(name=n, flops_G=float(f), params_M=float(p),
                   miou={s: float(v[i]) for s, v in truth.miou.items()},
                   mean=float(m), searched=bool(c))
              for i, (n, f, p, m, c) in enumerate(zip(
                  truth.names, truth.flops_G, truth.params_M, truth.mean,
                  truth.searched))]
    truth = truth.sampled()
    rows = {label: ground_truth.scorer_row(truth.ordered(s, label), truth,
                                         resamples, seed)
            for label, s in scores.items()}
    noise = rank_stats.noise_components(truth.miou) \
        if len(truth.miou) >= 2 else None
    return dict(picks=picks, noise=noise, listed=listed,
                networks=len(truth.names),
                seeds=sorted(truth.miou),
                resamples=resamples, level=rank_stats.CI_LEVEL,
                top_fraction=rank_stats.TOP_FRACTION, seed=seed,
                setting=truth.setting, scorers=rows,
                noise_ceiling=ground_truth.ceiling_row(truth, resamples, seed))


def _signed(value: Optional[float]) -> str:
    """``+0.12``; '-' for an undefined value; no ``-0.00``."""
    if value is None or math.isnan(value):
        return '-'
    return f'{0.0 if abs(value) < 0.005 else value:+.2f}'


def _fmt(value: Optional[float], ci: Optional[list] = None) -> str:
    text = _signed(value)
    if ci is not None and text != '-':
        text += f' [{_signed(ci[0])}, {_signed(ci[1])}]'
    return text


HEADER = ['scorer', 'tau [90% CI]', 'rho [90% CI]', 'partial tau on FLOPs',
          'precision@25%', 'rank of pick']


def table_rows(result: Dict[str, Any]) -> List[List[str]]:
    rows = list(result['scorers'].items())
    if result['noise_ceiling'] is not None:
        rows.append(('noise ceiling (seed vs seed)', result['noise_ceiling']))
    return [[label, _fmt(r['tau'], r['tau_ci']), _fmt(r['rho'], r['rho_ci']),
             _fmt(r['partial_tau_flops']), f'{r["precision_top25"]:.2f}',
             f'{r["best_pick_rank"]:.1f} / {result["networks"]}']
            for label, r in rows]


def _threads(search: int, derive: Optional[int]) -> str:
    if search == derive:
        return f'{search} threads'
    return f'{search} + {"?" if derive is None else derive} threads'


PICK_HEADER = ['pick', 'FLOPs (G)', 'mIoU per seed', 'mean',
               'rank among the sampled', 'top 25%', 'z', 'z at its FLOPs',
               'search + derive (min)']


def pick_table_rows(result: Dict[str, Any]) -> List[List[str]]:
    out = []
    for name, r in result['picks'].items():
        cost = '-'
        if 'search_minutes' in r:
            cost = (f'{r["search_minutes"]:.1f} + {r["derive_minutes"]:.1f}'
                    f' ({_threads(r["search_threads"], r["derive_threads"])})')
        out.append([name, f'{r["flops_G"]:.2f}',
                    ' / '.join(f'{v:.2f}' for v in r['miou'].values()),
                    f'{r["mean"]:.2f}', f'{r["rank"]} / {r["of"] + 1}',
                    'yes' if r['top'] else 'no', _signed(r['z']),
                    _signed(r.get('z_flops', math.nan)), cost])
    return out


NETWORK_HEADER = ['network', 'FLOPs (G)', 'params (M)', 'mIoU per seed',
                  'mean']


def network_table_rows(result: Dict[str, Any]) -> List[List[str]]:
    """The ground truth's networks, best mean first (a pick marked)."""
    return [[n['name'] + (' (pick)' if n['searched'] else ''),
             f'{n["flops_G"]:.2f}', f'{n["params_M"]:.2f}',
             ' / '.join(f'{v:.2f}' for v in n['miou'].values()),
             f'{n["mean"]:.2f}']
            for n in sorted(result['listed'], key=lambda n: -n['mean'])]


def md_table(header: List[str], rows: List[List[str]]) -> List[str]:
    """A markdown table: the first column left, the others right."""
    return (['| ' + ' | '.join(header) + ' |',
             '|' + '|'.join(['---'] + ['---:'] * (len(header) - 1)) + '|']
            + ['| ' + ' | '.join(r) + ' |' for r in rows])


def render_md(result: Dict[str, Any]) -> str:
    lines = ['# How well each scorer ranks the trained networks', '',
             f'{result["networks"]} networks, ground truth the mean val mIoU '
             f'over seeds {", ".join(result["seeds"]) or "(one)"}; intervals: '
             f'{result["resamples"]} bootstrap resamples of the networks '
             f'(seed {result["seed"]}). See docs/design.md, "Ranking '
             'networks", for how to read it.', '']
    lines += md_table(HEADER, table_rows(result))
    noise = result.get('noise')
    if noise:
        lines += ['', f'Noise of the ground truth: seed std '
                  f'{noise["within_std"]:.2f} mIoU, std of the networks\' '
                  f'means {noise["between_std"]:.2f}, of which the networks\' '
                  f'own {noise["true_between_std"]:.2f}; the means are '
                  f'{noise["reliability"]:.0%} signal. A scorer that knew '
                  f'the true order would be expected at tau '
                  f'{noise["attainable_tau"]:.2f} against them (normal '
                  f'approximation; it predicts a seed-vs-seed tau of '
                  f'{noise["expected_seed_tau"]:.2f}, measured above).']
    if result['picks']:
        lines += ['', '## Where the searches\' picks land', '',
                  'Each pick trained like the sampled networks; its rank if '
                  f'put among the {result["networks"]} of them (1 = best), '
                  'whether at most 25% of them are better, z = (its '
                  'mean - theirs) / their std, and z at its FLOPs = its '
                  'distance from their least-squares line of mean on FLOPs '
                  '/ their residual std (the size trend taken out).', '']
        lines += md_table(PICK_HEADER, pick_table_rows(result))
    lines += ['', '## The networks', '']
    lines += md_table(NETWORK_HEADER, network_table_rows(result))
    if result['setting']:
        lines += ['', 'Setting of the ground truth: `'
                  + json.dumps(result['setting'], sort_keys=True) + '`']
    return '\n'.join(lines) + '\n'


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    truth = ground_truth.load_ground_truth(args.ground_truth)
    scores = read_scores(args.scores)
    seconds: Dict[str, float] = {}
    if args.parsed:
        computed, seconds = compute_scores(args, truth)
        clash = sorted(set(computed) & set(scores))
        if clash:
            raise ValueError(f'--scorers: {clash} also given by --scores')
        scores.update(computed)
    result = evaluate(truth, scores, args.resamples, args.seed,
                      read_costs(args.searches))
    result['seconds_per_network'] = seconds
    print(table(table_rows(result), HEADER))
    if result['picks']:
        print(table(pick_table_rows(result), PICK_HEADER))
    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)
        with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
            json.dump(_no_nan(result), f, indent=1)
        with open(osp.join(args.out_dir, 'results.md'), 'w') as f:
            f.write(render_md(result))
        if seconds:
            with open(osp.join(args.out_dir, 'scores.json'), 'w') as f:
                json.dump({k: scores[k] for k in seconds}, f, indent=1)
        print(f'wrote {args.out_dir}/results.md and results.json')
    return result


def _no_nan(value: Any) -> Any:
    """``value`` with NaN as None (an undefined statistic), valid JSON."""
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


if __name__ == '__main__':
    main()
