"""Search a trained supernet's best subnet by evolution (SPOS style).

    python tools/search_subnet.py CONFIG SUPERNET_CKPT --work-dir DIR \\
        [--flops-target G] [--window 0.05] \\
        [--latency-lut PATH --latency-target MS] \\
        [--population 50 --generations 20 --top-k 10 --num-mutation 25 \\
         --num-crossover 25 --mutate-prob 0.1 --seed 0] \\
        [--split arch|val] [--calib-batches 50] [--device cpu|cuda]

scores candidates of CONFIG's space inside the cost window(s) by their mIoU
with the weights inherited from SUPERNET_CKPT (BN recalibrated), evolves the
best (attnas_mmseg/search/evolution.py) and writes DIR/arch.json and
DIR/retrain.py of the best, as tools/derive_arch.py does. DIR keeps the run
(evolution_state.json, candidates.jsonl): rerunning the same command resumes
it and scores nothing twice; a larger --generations extends it.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from attnas_mmseg.evaluation.subnet_evaluator import (  # noqa: E402
    DEFAULT_CALIB_BATCHES, SPLITS)
from attnas_mmseg.evaluation.subnet_search import search_subnet  # noqa: E402
from attnas_mmseg.search.evolution import EvolutionSettings  # noqa: E402

DEFAULTS = EvolutionSettings()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the search config')
    parser.add_argument('checkpoint', help='a checkpoint of that search '
                        '(the supernet)')
    parser.add_argument('--work-dir', required=True,
                        help='keeps the run; arch.json and retrain.py of '
                        'the best are written there')
    parser.add_argument('--flops-target', type=float, default=None,
                        help='paper-convention FLOPs in G at '
                        'derive.input_size (or --input-size)')
    parser.add_argument('--window', type=float, default=0.05,
                        help='score only candidates within target * (1 -+ '
                        'WINDOW) (default 0.05)')
    parser.add_argument('--latency-lut', default=None,
                        help='a latency table (tools/build_latency_lut.py)')
    parser.add_argument('--latency-target', type=float, default=None,
                        help='predicted latency in ms (needs --latency-lut)')
    for name in ('population', 'generations', 'top_k', 'num_mutation',
                 'num_crossover', 'seed'):
        parser.add_argument(f'--{name.replace("_", "-")}', type=int,
                            default=getattr(DEFAULTS, name),
                            help=f'(default {getattr(DEFAULTS, name)})')
    parser.add_argument('--mutate-prob', type=float,
                        default=DEFAULTS.mutate_prob,
                        help=f'(default {DEFAULTS.mutate_prob})')
    parser.add_argument('--split', choices=SPLITS, default='arch',
                        help='data the candidates are scored on (default '
                        'arch: the arch half of the search data)')
    parser.add_argument('--calib-batches', type=int,
                        default=DEFAULT_CALIB_BATCHES,
                        help='weight-half batches that re-estimate each '
                        f'subnet\'s BN statistics (default '
                        f'{DEFAULT_CALIB_BATCHES})')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--topk', type=int, default=None,
                        help='attentions per network (default: derive.topk '
                        'or 4)')
    parser.add_argument('--input-size', type=int, nargs=2, default=None,
                        metavar=('H', 'W'),
                        help='size for FLOPs (default: derive.input_size '
                        'or 1024 2048)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides of the config for scoring (e.g. '
                        'the dataloaders\' data_root); part of the run\'s '
                        'identity on resume')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        spec = search_subnet(
            args.config, args.checkpoint, args.work_dir,
            flops_target=args.flops_target, window=args.window,
            latency_lut=args.latency_lut, latency_target=args.latency_target,
            population=args.population, generations=args.generations,
            top_k=args.top_k, num_mutation=args.num_mutation,
            num_crossover=args.num_crossover, mutate_prob=args.mutate_prob,
            seed=args.seed, split=args.split,
            calib_batches=args.calib_batches, device=args.device,
            topk=args.topk, input_size=args.input_size,
            cfg_options=args.cfg_options)
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        sys.exit(f'search_subnet: error: {err}')
    found = spec.meta['evolution']
    meta = spec.meta
    print(f'best: {spec}')
    print(f'mIoU {found["score_mIoU"]:.2f} ({found["split"]}, inherited '
          f'weights) after {found["evaluated"]} candidates in '
          f'{found["generations"]} generation(s); costs '
          + ', '.join(f'{k} {v:.3g} (window {found["windows"][k][0]:.3g}-'
                      f'{found["windows"][k][1]:.3g})'
                      for k, v in found['costs'].items()))
    print(f'FLOPs (paper convention) {meta["flops_paper_G"]:.2f}G, complete '
          f'{meta["flops_complete_G"]:.2f}G, params {meta["params_M"]:.2f}M '
          f'at {meta["input_size"][0]}x{meta["input_size"][1]}')
    print(f'wrote {osp.join(args.work_dir, "arch.json")} and '
          f'{osp.join(args.work_dir, "retrain.py")}')


if __name__ == '__main__':
    main()
