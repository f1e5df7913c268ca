"""Compare K searches: do they agree on the architecture, and how sure is each?

    python tools/compare_searches.py A B [C ...] [--topk 4] [--json OUT]

Each of A, B, ... is a search checkpoint (``.pth``: its alpha/beta are derived
as tools/derive_arch.py does) or an architecture (``arch.json``, or the paper
notation in quotes). Prints, per backbone block, every run's op, the modal op,
the fraction of runs choosing it and whether all agree; the attention sets,
how many runs share the modal one and their mean pairwise Jaccard index, each
beside its chance level for random architectures; and, for checkpoints, the
margins of every run side by side (p1 - p2 per block, w_k - w_{k+1} for the
attention; ``*`` marks a choice within noise, the rule of
attnas_mmseg/search/confidence.py). Low agreement with margins within noise
says more search budget could change the answer. ``--json`` writes it all.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Any, Dict, List

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from attnas_mmseg.export import agreement_summary  # noqa: E402
from attnas_mmseg.search import ArchSpec, derive_arch  # noqa: E402
from attnas_mmseg.search.confidence import (  # noqa: E402
    attention_confidence, backbone_confidence, noise_sigma_from_checkpoint)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs', nargs='+',
                        help='search checkpoints (.pth) or arch files')
    parser.add_argument('--topk', type=int, default=4,
                        help='attentions derived from a checkpoint')
    parser.add_argument('--json', default=None, help='write the result here')
    return parser.parse_args(argv)


def load_run(path: str, topk: int) -> Dict[str, Any]:
    """The spec of one run and, for a checkpoint, its confidence."""
    if not path.endswith('.pth'):
        return dict(path=path, spec=ArchSpec.coerce(path), confidence=None)
    import torch

    from attnas_mmseg.export import arch_params_from_checkpoint
    alpha, beta = arch_params_from_checkpoint(path)
    sigma = noise_sigma_from_checkpoint(torch.load(path, map_location='cpu'))
    blocks = None if alpha is None else backbone_confidence(alpha, sigma)
    return dict(path=path, spec=derive_arch(alpha, beta, topk),
                confidence=dict(sigma=sigma, blocks=blocks,
                                attention=attention_confidence(
                                    beta, topk, sigma)))


def _mark(flag) -> str:
    return '*' if flag else ' '


def report(runs: List[Dict[str, Any]]) -> str:
    specs = [r['spec'] for r in runs]
    summary = agreement_summary(specs)
    k = len(runs)
    lines = ['runs:'] + [f'  [{i + 1}] {r["path"]}: {r["spec"]}'
                         for i, r in enumerate(runs)]
    bb = summary.get('backbone')
    if bb:
        lines += ['', 'backbone agreement (op per run; modal op; fraction '
                  'of runs choosing it)',
                  f'{"block":>5}  ' + ' '.join(f'{f"[{i + 1}]":>4}'
                                               for i in range(k)) +
                  '  modal  agree  all']
        for b in bb['blocks']:
            lines.append(f'{b["block"]:>5}  ' +
                         ' '.join(f'{op:>4}' for op in b['ops']) +
                         f'  {b["modal_op"]:>5}  {b["fraction"]:>5.2f}  '
                         f'{"yes" if b["unanimous"] else "no"}')
        lines.append(f'unanimous blocks {bb["unanimous"]}/{len(bb["blocks"])}'
                     f' (random archs: {bb["chance_unanimous"]:.2f}); mean '
                     f'modal fraction {bb["mean_fraction"]:.2f}')
    att = summary['attention']
    chance = ('' if att['chance_jaccard'] is None else
              f' (random archs: {att["chance_jaccard"]:.2f})')
    lines += ['', 'attention agreement ((layer, id) cells per run)'] + [
        f'  [{i + 1}] ' + ' '.join(f'({l},{a})' for l, a in cells)
        for i, cells in enumerate(att['sets'])]
    lines.append(f'modal set shared by {att["modal_count"]}/{k} runs, '
                 f'{"all identical" if att["identical"] else "not identical"}'
                 f'; mean pairwise Jaccard {att["mean_jaccard"]:.2f}{chance}')

    conf = [(i, r['confidence']) for i, r in enumerate(runs)
            if r['confidence'] is not None]
    if conf:
        lines += ['', 'margins of the checkpoints (p1 - p2 per block; '
                  'w_k - w_k+1 for the attention; * within noise)',
                  '  sigma ' + '  '.join(
                      f'[{i + 1}] ' + ('unknown' if c['sigma'] is None else
                                       f'{c["sigma"]:.3g}')
                      for i, c in conf)]
        with_blocks = [(i, c) for i, c in conf if c['blocks'] is not None]
        if with_blocks:
            lines.append(f'{"block":>5}  ' + '  '.join(
                f'{f"[{i + 1}]":>8}' for i, _ in with_blocks))
            for b in range(len(with_blocks[0][1]['blocks'])):
                lines.append(f'{b + 1:>5}  ' + '  '.join(
                    f'{c["blocks"][b].margin:>7.4f}'
                    f'{_mark(c["blocks"][b].uncertain)}'
                    for _, c in with_blocks))
        lines.append(f'{"att":>5}  ' + '  '.join(
            f'{c["attention"].margin:>7.4f}{_mark(c["attention"].uncertain)}'
            for _, c in conf))
    return '\n'.join(lines)


def to_json(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    from dataclasses import asdict
    out = agreement_summary([r['spec'] for r in runs])
    out['runs'] = []
    for r in runs:
        conf = r['confidence']
        if conf is not None:
            conf = dict(sigma=conf['sigma'],
                        blocks=None if conf['blocks'] is None else
                        [asdict(b) for b in conf['blocks']],
                        attention=asdict(conf['attention']))
        out['runs'].append(dict(path=r['path'], arch=str(r['spec']),
                                confidence=conf))
    return out


def main(argv=None):
    args = parse_args(argv)
    if len(args.runs) < 2:
        sys.exit('compare_searches: error: give at least two runs')
    try:
        runs = [load_run(p, args.topk) for p in args.runs]
        text = report(runs)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f'compare_searches: error: {err}')
    print(text)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(to_json(runs), f, indent=2)
        print(f'\nwrote {args.json}')


if __name__ == '__main__':
    main()
