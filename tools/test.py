"""Test (and evaluate) a segmentor checkpoint.

Same command line as MMSegmentation 1.x ``tools/test.py``::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR] [--show]
        [--show-dir DIR] [--wait-time S] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}] [--tta]
"""
import argparse
import os
import os.path as osp
import sys

# Runnable from a checkout without installing the package.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import attnas_mmseg  # noqa: E402,F401  (registers our modules; allows Runner checkpoints)
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from attnas_mmseg.engine import (ConfigCheckError,  # noqa: E402
                                 DatasetNotFoundError, check_config)
from attnas_mmseg.utils import setup_cpu_dist  # noqa: E402
from attnas_mmseg.utils.cpu_dist import teardown_cpu_dist  # noqa: E402
from mmseg.registry import RUNNERS  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='MMSeg test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the dir where the evaluation metrics are dumped as json')
    parser.add_argument(
        '--out', type=str, help='the dir to save output predictions for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='dir where painted images are saved (under work_dir/timestamp/show_dir)')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
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
    parser.add_argument('--tta', action='store_true', help='test time augmentation')
    # torch.distributed launchers pass --local-rank (torch>=2.0) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def trigger_visualization_hook(cfg: Config, args: argparse.Namespace) -> Config:
    """Turn on the config's ``VisualizationHook`` for ``--show``/``--show-dir``."""
    if 'visualization' not in cfg.default_hooks:
        raise RuntimeError('--show/--show-dir need a VisualizationHook in default_hooks, e.g. '
                           'visualization=dict(type="SegVisualizationHook")')
    hook = cfg.default_hooks['visualization']
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir
    return cfg


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

    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)

    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True

    try:  # one line naming the culprit instead of a traceback from the Runner
        check_config(cfg, 'test')
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
    runner.test()
    if own_group:  # lets gloo's threads finish before the interpreter exits
        teardown_cpu_dist()


if __name__ == '__main__':
    main()
