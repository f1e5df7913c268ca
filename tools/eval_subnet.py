"""Evaluate a subnet of a trained supernet with the weights it inherits.

    python tools/eval_subnet.py CONFIG SUPERNET_CKPT --arch SPEC|arch.json
        [--split val|arch] [--calib-batches N] [--device cpu|cuda]
        [--flops-size H W] [--cfg-options KEY=VALUE ...] [--out metrics.json]

extracts SPEC's fixed network from the search checkpoint (its backbone ops'
and attentions' weights, everything else copied), re-estimates its BN
statistics on N batches of CONFIG's train_dataloader (the weight half), and
prints its FLOPs (paper convention), parameters and mIoU / aAcc / mAcc on
CONFIG's val_dataloader (``--split val``; a search config has none: add one
with --cfg-options) or on the arch half of the search data (``--split
arch``). ``--out`` writes the same as JSON.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402

from attnas_mmseg.evaluation.subnet_evaluator import (  # noqa: E402
    DEFAULT_CALIB_BATCHES, SPLITS, SubnetEvaluator)
from attnas_mmseg.search.cost.flops import (FLOPS_PER_G,  # noqa: E402
                                            build_flops_table)
from attnas_mmseg.utils.atomic_write import write_new_file  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the search config')
    parser.add_argument('checkpoint', help='a checkpoint of that search')
    parser.add_argument('--arch', required=True,
                        help='the subnet: the paper notation in quotes '
                        "('mv2(...) AttSet1(..)+AttSet2(..)') or an "
                        'arch.json')
    parser.add_argument('--split', choices=SPLITS, default='val',
                        help="where to score: CONFIG's val_dataloader or "
                        'the arch half of the search data (default: val)')
    parser.add_argument('--calib-batches', type=int,
                        default=DEFAULT_CALIB_BATCHES,
                        help='train_dataloader batches that re-estimate the '
                        f'BN statistics (default: {DEFAULT_CALIB_BATCHES})')
    parser.add_argument('--device', default='cpu',
                        help="'cpu' (default), 'cuda' or 'cuda:N'")
    parser.add_argument('--seed', type=int, default=0,
                        help='seeds the calibration draw and the scoring '
                        'pass (default: 0)')
    parser.add_argument('--flops-size', type=int, nargs=2, default=None,
                        metavar=('H', 'W'),
                        help='input size for FLOPs (default: '
                        'derive.input_size of CONFIG or 1024 2048)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, as key=value pairs merged '
        'into it (e.g. a val_dataloader for a search config)')
    parser.add_argument('--out', default=None,
                        help='write the spec, costs and metrics as JSON')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        evaluator = SubnetEvaluator(
            args.config, args.checkpoint, split=args.split,
            calib_batches=args.calib_batches, device=args.device,
            cfg_options=args.cfg_options, seed=args.seed)
        spec = evaluator.spec(args.arch)
        model = evaluator.subnet(spec)
        size = tuple(args.flops_size or evaluator.cfg.get('derive', {}).get(
            'input_size', (1024, 2048)))
        flops = build_flops_table(model, size).fixed / FLOPS_PER_G
        params = sum(p.numel() for p in model.parameters()) / 1e6
        metrics = evaluator.score(model)
    except (ValueError, TypeError, OSError) as err:
        sys.exit(f'eval_subnet: error: {err}')
    print(f'subnet: {spec}')
    print(f'FLOPs (paper convention) {flops:.2f}G at {size[0]}x{size[1]}, '
          f'params {params:.2f}M')
    print(f'split {args.split}, BN recalibrated on '
          f'{evaluator.calib_batches} batch(es) of train_dataloader: ' +
          ', '.join(f'{k} {v:.2f}' for k, v in metrics.items()))
    if args.out:
        record = dict(arch=str(spec), spec=spec.to_dict(),
                      config=osp.abspath(args.config),
                      checkpoint=osp.abspath(args.checkpoint),
                      split=args.split,
                      calib_batches=evaluator.calib_batches, seed=args.seed,
                      flops_G=flops, flops_input_size=list(size),
                      params_M=params, metrics=metrics)
        write_new_file(args.out, json.dumps(record, indent=2) + '\n')
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
