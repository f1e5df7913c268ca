"""Sample random architectures of a search space, written as derive_arch does.

    python tools/sample_random_arch.py SEARCH_CONFIG --num N --seed S \\
        --out-dir DIR [--flops-window REF 0.1 [--strata K]] [--topk 4]
        [--overwrite]

draws N architectures uniformly from SEARCH_CONFIG's space (17 backbone ops
1-6, ``topk`` distinct (layer, id) attention cells; see
attnas_mmseg/search/random_arch.py), only those whose paper-convention FLOPs
at the config's ``derive.input_size`` lie within REF * (1 -+ 0.1) when
``--flops-window`` is given (REF: FLOPs in G, an arch.json, or the paper
notation in quotes). Uniform draws crowd the space's median FLOPs; with
``--strata K`` network i is drawn instead from the (i mod K)-th of K
equal-width FLOPs bins of the window, uniformly inside it
(``sample_archs_stratified``), so the networks spread over the window. It
writes ``DIR/random_<i>/arch.json`` and
``DIR/random_<i>/retrain.py`` exactly as ``tools/derive_arch.py`` does, so
``tools/train.py DIR/random_<i>/retrain.py`` trains one from scratch. The same
seed gives the same architectures.
"""
import argparse
import os.path as osp
import sys
from pathlib import Path

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from attnas_mmseg.search.cost.flops import FLOPS_PER_G  # noqa: E402
from attnas_mmseg.export.derived import (ARCH_FILE, RETRAIN_FILE,  # noqa: E402
                                        write_derived)
from attnas_mmseg.export.random_arch import (  # noqa: E402
    draw_archs, flops_range, flops_window, reference_flops,
    search_flops_table)
from attnas_mmseg.search.space.extra_candidates import (  # noqa: E402
    ExtraCandidates)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the search config (its space, '
                        'derive.retrain_base and derive.input_size)')
    parser.add_argument('--num', type=int, required=True)
    parser.add_argument('--seed', type=int, required=True)
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--flops-window', nargs=2, default=None,
                        metavar=('REF', 'REL'),
                        help='keep FLOPs within REF*(1-REL)..REF*(1+REL); '
                        'REF: G, an arch.json or the paper notation')
    parser.add_argument('--strata', type=int, default=None, metavar='K',
                        help='spread the draw over K equal FLOPs bins of '
                        'the window (needs --flops-window)')
    parser.add_argument('--topk', type=int, default=None,
                        help='attentions per network (default: derive.topk '
                        'or 4)')
    parser.add_argument('--input-size', type=int, nargs=2, default=None,
                        metavar=('H', 'W'),
                        help='size for FLOPs (default: derive.input_size '
                        'or 1024 2048)')
    parser.add_argument('--overwrite', action='store_true')
    args = parser.parse_args(argv)
    if args.strata is not None and (args.flops_window is None or
                                    args.strata < 1):
        parser.error('--strata: needs --flops-window and K >= 1, got '
                     f'{args.strata}')
    return args


def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config
    try:
        derive_cfg = Config.fromfile(args.config).get('derive', {})
        topk = args.topk or int(derive_cfg.get('topk', 4))
        out_dirs = [Path(args.out_dir) / f'random_{i}'
                    for i in range(args.num)]
        existing = [str(d / f) for d in out_dirs
                    for f in (ARCH_FILE, RETRAIN_FILE) if (d / f).exists()]
        if existing and not args.overwrite:
            raise FileExistsError(f'{", ".join(existing)} exist; pass '
                                  '--overwrite to replace them')
        table = search_flops_table(args.config, args.input_size)
        size = table.input_size
        window = ref = None
        if args.flops_window:
            ref_arg, rel = args.flops_window
            ref = reference_flops(ref_arg, table) / FLOPS_PER_G
            window = flops_window(ref, float(rel))
            low, high = (f / FLOPS_PER_G for f in flops_range(table, topk))
            if window[1] < low or window[0] > high:
                raise ValueError(
                    f'window: {window[0]:.3g}G - {window[1]:.3g}G holds no '
                    f'architecture of the space, which spans {low:.3g}G - '
                    f'{high:.3g}G at {size[0]}x{size[1]}')
            print(f'FLOPs window at {size[0]}x{size[1]}: {window[0]:.2f}G - '
                  f'{window[1]:.2f}G ({ref:.2f}G +- {float(rel):.0%})')
        specs = draw_archs(table, args.num, args.seed, topk, window,
                           args.strata, ExtraCandidates.from_model_cfg(
                               Config.fromfile(args.config).model))
        for spec, out in zip(specs, out_dirs):
            spec.meta.update(topk=topk, flops_window_G=window,
                             flops_reference_G=ref)
            how = 'uniformly' if args.strata is None else (
                'uniformly inside FLOPs stratum '
                f'{spec.meta["index"] % args.strata + 1} of {args.strata}')
            spec = write_derived(
                spec, args.config, str(out), size, args.overwrite,
                origin=f'Sampled {how} by tools/sample_random_arch.py '
                f'(seed {args.seed}, #{spec.meta["index"]})')
            meta = spec.meta
            drawn = (f'{meta["tries"]} candidate(s) drawn' if 'tries' in meta
                     else f'{meta["moves"]} walk steps')
            print(f'{out.name}: {spec}  {meta["flops_paper_G"]:.2f}G paper '
                  f'convention, {meta["flops_complete_G"]:.2f}G complete, '
                  f'{meta["params_M"]:.2f}M params ({drawn})')
    except (ValueError, FileExistsError) as err:
        sys.exit(f'sample_random_arch: error: {err}')
    print(f'wrote {args.num} x ({ARCH_FILE}, {RETRAIN_FILE}) under '
          f'{args.out_dir}')


if __name__ == '__main__':
    main()
