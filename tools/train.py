"""Train a segmentor (or run an AttNAS search) from a config.

Same command line as MMSegmentation 1.x ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]
"""
import argparse
import logging
import os
import os.path as osp
import sys

# Runnable from a checkout without installing the package.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import attnas_mmseg  # noqa: E402,F401  (registers our modules; allows Runner checkpoints)
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from attnas_mmseg.engine import (ConfigCheckError,  # noqa: E402
                                 DatasetNotFoundError, check_config)
from attnas_mmseg.utils import setup_cpu_dist  # noqa: E402
from attnas_mmseg.utils.cpu_dist import teardown_cpu_dist  # noqa: E402
from mmseg.registry import RUNNERS  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs merged into it; a list '
        'value is written key="[a,b]" or key=a,b, nested ones key="[(a,b),(c,d)]" (quotes '
        'needed, no white space)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed launchers pass --local-rank (torch>=2.0) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_amp(cfg: Config) -> None:
    """Switch ``OptimWrapper`` to ``AmpOptimWrapper`` with a dynamic loss scale."""
    wrapper_type = cfg.optim_wrapper.type
    if wrapper_type == 'AmpOptimWrapper':
        print_log(
            'AMP training is already enabled in your config.',
            logger='current',
            level=logging.WARNING)
        return
    if wrapper_type != 'OptimWrapper':
        raise ValueError('--amp needs optim_wrapper.type == "OptimWrapper", '
                         f'got {wrapper_type!r}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'


def main() -> None:
    args = parse_args()

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # work_dir priority: command line > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        enable_amp(cfg)
    cfg.resume = args.resume

    try:  # one line naming the culprit instead of a traceback from the Runner
        check_config(cfg, 'train')
    except (ConfigCheckError, DatasetNotFoundError) as error:
        if int(os.environ.get('RANK', 0)) == 0:
            print(f'{osp.basename(__file__)}: error: {error}', file=sys.stderr)
        sys.exit(1)
    # gloo and a CPU model wrapper without CUDA; see attnas_mmseg.utils.cpu_dist
    own_group = setup_cpu_dist(cfg)
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    runner.train()
    if own_group:  # lets gloo's threads finish before the interpreter exits
        teardown_cpu_dist()


if __name__ == '__main__':
    main()
