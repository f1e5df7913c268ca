"""Inference speed (fps) of any config, as MMSeg's analysis_tools/benchmark.py.

    python tools/benchmark.py CONFIG [CHECKPOINT] [--repeat-times 1]
        [--work-dir DIR] [--log-interval 50] [--device cpu|cuda]
        [--no-fuse] [--memory-format channels_last|contiguous]
        [--shape 512 1024] [--total-iters 200] [--num-warmup 5]
        [--threads N] [--cfg-options k=v ...]

As MMSeg's: batch 1, ``model(inputs, data_samples, mode='predict')`` under
``no_grad`` (prediction included: whole/slide inference, resize to the
original shape), the data preprocessor run outside the timed region, the first
``--num-warmup`` images untimed, fps over the next ones up to
``--total-iters``, repeated ``--repeat-times`` with a fresh model, the mean and
variance written to ``fps_<time>.json`` in ``--work-dir`` (default
``work_dirs/<config name>``). Beyond MMSeg's:

* CHECKPOINT is optional (fresh weights, BN statistics from one random
  batch: speed does not depend on the weights);
* the model runs as ``attnas_mmseg.deploy.prepare_for_inference`` prepares
  it, the fastest eager setting measured here: BN folded into the
  convolutions (mmcv; ``--no-fuse`` to keep it; MMSeg's ``--fuse-conv-bn``
  is accepted and is the default) and weights and inputs in channels_last
  (``--memory-format contiguous`` for NCHW as built);
* images come from the config's ``test_dataloader`` when its dataset is
  there; otherwise (no test_dataloader, data missing, empty) a random
  normalised image of ``--shape`` is used, and the output says so;
* ``--device`` (default: cuda if available), ``--threads`` (torch intra-op).
"""
import argparse
import itertools
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.fileio import dump  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmengine.utils import mkdir_or_exist  # noqa: E402

import attnas_mmseg  # noqa: E402,F401
from attnas_mmseg.deploy import (MEMORY_FORMATS,  # noqa: E402
                                 prepare_for_inference, set_threads)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='MMSeg benchmark a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (optional)')
    parser.add_argument('--log-interval', type=int, default=50,
                        help='interval of logging')
    parser.add_argument('--work-dir',
                        help='if specified, the results will be dumped into '
                        'the directory as json')
    parser.add_argument('--repeat-times', type=int, default=1)
    parser.add_argument('--total-iters', type=int, default=200,
                        help='images per repeat, warm-up included')
    parser.add_argument('--num-warmup', type=int, default=5)
    parser.add_argument('--device', default=None,
                        help='cpu or cuda (default: cuda if available)')
    parser.add_argument('--fuse-conv-bn', dest='fuse', action='store_true',
                        default=True,
                        help='fold BN into the convolutions (mmcv); the '
                        'default, accepted as MMSeg\'s tool takes it')
    parser.add_argument('--no-fuse', dest='fuse', action='store_false',
                        help='keep BN unfolded')
    parser.add_argument('--memory-format', choices=list(MEMORY_FORMATS),
                        default='channels_last',
                        help='layout of weights and inputs (default '
                        'channels_last, the fastest eager one)')
    parser.add_argument('--shape', type=int, nargs=2, default=[512, 1024],
                        metavar=('H', 'W'),
                        help='random input size when the dataset is absent')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch intra-op threads (default: torch\'s)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings (key=value)')
    args = parser.parse_args(argv)
    if args.total_iters <= args.num_warmup or args.num_warmup < 0:
        parser.error('--total-iters must exceed --num-warmup >= 0')
    if args.repeat_times < 1:
        parser.error('--repeat-times must be >= 1')
    return args


def test_loader(cfg: Config):
    """(dataloader, None) when the config's test images are there, else
    (None, why)."""
    if 'test_dataloader' not in cfg or not cfg.test_dataloader:
        return None, 'the config has no test_dataloader'
    loader_cfg = cfg.test_dataloader.copy()
    loader_cfg.batch_size = 1
    try:
        loader = Runner.build_dataloader(loader_cfg)
    except (FileNotFoundError, NotADirectoryError) as err:
        return None, f'its test dataset is absent ({err})'
    if len(loader.dataset) == 0:
        return None, 'its test dataset is empty'
    return loader, None


def random_batches(shape, device):
    """A normalised N(0, 1) image and the metainfo ``predict`` needs."""
    from mmseg.structures import SegDataSample
    h, w = shape
    inputs = torch.randn(1, 3, h, w, generator=torch.Generator()
                         .manual_seed(0)).to(device)
    meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
                padding_size=[0, 0, 0, 0])
    return itertools.repeat((inputs, [SegDataSample(metainfo=meta)]))


def loader_batches(loader, model):
    """The loader's batches, preprocessed, restarting when it ends."""
    while True:
        for data in loader:
            data = model.data_preprocessor(data, False)
            yield data['inputs'], data['data_samples']


def build_model(model_cfg, checkpoint, device: str, fuse: bool,
                memory_format: str):
    """The model in eval mode on ``device``, prepared for inference: BN
    folded if ``fuse``, weights and inputs in ``memory_format``.

    Without a checkpoint the weights are fresh and the BN statistics set from
    one random batch (``calibrate_bn``): an untrained net in eval mode shrinks
    its activations towards denormal floats, which some CPUs run far slower
    than a trained net's.
    """
    from attnas_mmseg.deploy import calibrate_bn
    from attnas_mmseg.models import build_segmentor
    # a ConfigDict, not a dict: EncoderDecoder reads test_cfg.mode
    model = build_segmentor(model_cfg, checkpoint)
    if checkpoint is None:
        calibrate_bn(model, torch.randn(2, 3, 128, 256, generator=torch
                                        .Generator().manual_seed(1)))
    model = model.to(device)
    return prepare_for_inference(model, memory_format, fuse=fuse,
                                 inplace=True)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if 'model' not in cfg:
        sys.exit(f'benchmark: error: {args.config} defines no model')
    if args.checkpoint is not None and not osp.isfile(args.checkpoint):
        sys.exit(f'benchmark: error: checkpoint {args.checkpoint} not found')
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if args.threads is not None:
        set_threads(args.threads)
    torch.backends.cudnn.benchmark = False

    timestamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    work_dir = args.work_dir or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    mkdir_or_exist(osp.abspath(work_dir))
    json_file = osp.join(work_dir, f'fps_{timestamp}.json')

    loader, why = test_loader(cfg)
    source = 'test_dataloader' if loader is not None else \
        f'random {args.shape[0]}x{args.shape[1]}'
    if loader is None:
        print(f'{why}: timing a random normalised image of '
              f'{args.shape[0]}x{args.shape[1]}')
    print(f'device {device}, {torch.get_num_threads()} thread(s), BN '
          f'{"folded" if args.fuse else "not folded"}, '
          f'{args.memory_format}, input: {source}')
    benchmark_dict = dict(config=args.config, unit='img / s', device=device,
                          threads=torch.get_num_threads(),
                          fuse_conv_bn=args.fuse,
                          memory_format=args.memory_format, input=source)
    overall_fps_list = []
    total = args.total_iters
    for time_index in range(args.repeat_times):
        print(f'Run {time_index + 1}:')
        model = build_model(cfg.model, args.checkpoint, device, args.fuse,
                            args.memory_format)
        batches = random_batches(args.shape, device) if loader is None \
            else loader_batches(loader, model)
        pure_inf_time = 0.0
        for i, (inputs, data_samples) in enumerate(batches):
            if device.startswith('cuda'):
                torch.cuda.synchronize()
            start_time = time.perf_counter()
            with torch.no_grad():
                model(inputs, data_samples, mode='predict')
            if device.startswith('cuda'):
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - start_time
            if i >= args.num_warmup:
                pure_inf_time += elapsed
                if (i + 1) % args.log_interval == 0:
                    fps = (i + 1 - args.num_warmup) / pure_inf_time
                    print(f'Done image [{i + 1:<3}/ {total}], '
                          f'fps: {fps:.2f} img / s')
            if i + 1 == total:
                fps = (i + 1 - args.num_warmup) / pure_inf_time
                print(f'Overall fps: {fps:.2f} img / s\n')
                benchmark_dict[f'overall_fps_{time_index + 1}'] = round(fps, 2)
                overall_fps_list.append(fps)
                break
    benchmark_dict['average_fps'] = round(float(np.mean(overall_fps_list)), 2)
    benchmark_dict['fps_variance'] = round(float(np.var(overall_fps_list)), 4)
    benchmark_dict['latency_ms'] = round(
        1e3 / float(np.mean(overall_fps_list)), 2)
    print(f'Average fps of {args.repeat_times} evaluations: '
          f'{benchmark_dict["average_fps"]}')
    print(f'The variance of {args.repeat_times} evaluations: '
          f'{benchmark_dict["fps_variance"]}')
    dump(benchmark_dict, json_file, indent=4)
    print(f'results: {json_file}')


if __name__ == '__main__':
    main()
