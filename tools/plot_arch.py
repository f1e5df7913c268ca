"""Plot an AttNAS search and the architecture derived from it.

    python tools/plot_arch.py \\
        --history WORK_DIR/<timestamp>/arch_history.jsonl \\
        --arch OUT/arch.json --out-dir OUT [--overwrite]

writes ``OUT/arch_evolution.png`` (softmax(alpha) per block, softmax(beta)
over all AttSets, FLOPs_pred and losses across the search; needs --history)
and ``OUT/arch_module.png`` (the derived attention module drawn as the paper's
Figure 2; needs --arch, or takes the last logged architecture). --history
also takes several files or a work dir (all its runs, e.g. a resumed search).
The logic is in attnas_mmseg/visualization/arch_plots.py.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from attnas_mmseg.search.space.arch_spec import ArchSpec  # noqa: E402
from attnas_mmseg.search.space.extra_candidates import (  # noqa: E402
    ExtraCandidates)
from attnas_mmseg.visualization import (load_history, plot_evolution,  # noqa
                                        plot_module)

EVOLUTION_FILE, MODULE_FILE = 'arch_evolution.png', 'arch_module.png'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--history', nargs='+', default=None,
                        help='arch_history.jsonl file(s) or work dir(s)')
    parser.add_argument('--arch', default=None,
                        help="tools/derive_arch.py's arch.json (or notation)")
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--combine', default='sum', choices=('sum', 'mean'),
                        help="the head's combine, drawn in arch_module.png")
    parser.add_argument('--overwrite', action='store_true')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.history is None and args.arch is None:
        sys.exit('plot_arch: error: give --history, --arch, or both')
    targets = []
    if args.history is not None:
        targets.append(osp.join(args.out_dir, EVOLUTION_FILE))
    targets.append(osp.join(args.out_dir, MODULE_FILE))
    existing = [t for t in targets if osp.exists(t)]
    if existing and not args.overwrite:
        sys.exit(f'plot_arch: error: {", ".join(existing)} exist; pass '
                 '--overwrite to replace them')
    try:
        spec = None if args.arch is None else ArchSpec.coerce(args.arch)
        if args.history is not None:
            records = load_history(args.history)
            print('wrote', plot_evolution(records, targets[0], spec=spec))
            spec = spec or ArchSpec.coerce(
                records[-1]['arch'],
                ExtraCandidates.from_dict(records[-1].get('extra')))
        print('wrote', plot_module(spec, targets[-1], combine=args.combine))
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f'plot_arch: error: {err}')


if __name__ == '__main__':
    main()
