"""Build (or continue) a latency lookup table of a search space, here.

    python tools/build_latency_lut.py SEARCH_CONFIG --backend torch \\
        --device cpu --input-size 512 1024 --threads 1 --runs 10 \\
        --warmup 3 [--memory-format channels_last|contiguous] \\
        --out work_dirs/lut/torch_cpu_1t_512x1024.json

Times, batch 1, BN folded (mmcv's fuse_conv_bn, as deployed), with
``--backend torch`` in the memory format you deploy (``--memory-format``;
default channels_last, as ``attnas_mmseg.deploy.prepare_for_inference`` runs
it), the median of ``--runs`` runs after ``--warmup``: every candidate op of
every backbone block at the shape that block sees (identical ops at identical
shapes once), every attention candidate on the head's feature, and the fixed
parts (stem, head in_proj / bottleneck / cls_seg, final resize); see
attnas_mmseg/search/cost/latency_parts.py for the keys and docs/latency.md for
the use.
With ``--backend onnxruntime`` each part is exported alone to ONNX (temp
dir) and run by an InferenceSession with ``intra_op_num_threads=--threads``.

Each entry is written as soon as it is timed (atomically), so an interrupted
build is continued by running the same command again; ``--limit N`` stops
after N new entries. An existing ``--out`` measured with other settings
(backend, device, threads, input size, memory format, library versions, ...)
is refused with the differing keys named.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config, DictAction  # noqa: E402

from attnas_mmseg.deploy.fast_inference import MEMORY_FORMATS  # noqa: E402
from attnas_mmseg.models import build_segmentor  # noqa: E402
from attnas_mmseg.deploy.latency_measure import (DEVICES, build_lut,  # noqa: E402
                                                 lut_settings)
from attnas_mmseg.search.cost.latency_parts import latency_parts  # noqa: E402
from attnas_mmseg.search.cost.latency_table import LatencyLUT  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='search config (or any model config)')
    parser.add_argument('--backend', choices=['torch', 'onnxruntime'],
                        default='torch')
    parser.add_argument('--device', choices=list(DEVICES), default='cpu')
    parser.add_argument('--input-size', type=int, nargs=2, required=True,
                        metavar=('H', 'W'),
                        help='the image size the table prices (batch 1)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch intra-op / onnxruntime intra_op threads')
    parser.add_argument('--memory-format', choices=list(MEMORY_FORMATS),
                        default=None,
                        help='--backend torch: the layout timed (default '
                        'channels_last, the fastest eager one); recorded in '
                        'the table\'s settings')
    parser.add_argument('--runs', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--limit', type=int, default=None,
                        help='time at most this many new entries, then stop')
    parser.add_argument('--out', required=True, help='the LUT (.json)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings (key=value)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if 'model' not in cfg:
        sys.exit(f'build_latency_lut: error: {args.config} defines no model')
    try:
        settings = lut_settings(args.backend, args.device, args.threads,
                                args.input_size, args.memory_format)
        LatencyLUT.open(args.out, settings)  # refuse before building
        segmentor = build_segmentor(cfg.model.to_dict())
        parts = latency_parts(segmentor, args.input_size)
        keys = {p.key for p in parts}
        print(f'{len(parts)} parts, {len(keys)} distinct entries at '
              f'{args.input_size[0]}x{args.input_size[1]}; {args.backend} on '
              f'{args.device} ({settings["device_name"]}), {args.threads} '
              f'thread(s)'
              + (f', {settings["memory_format"]}'
                 if settings['memory_format'] else '')
              + f', median of {args.runs} after {args.warmup}',
              flush=True)
        lut, timed = build_lut(parts, args.out, settings, runs=args.runs,
                               warmup=args.warmup, limit=args.limit)
    except ValueError as err:
        sys.exit(f'build_latency_lut: error: {err}')
    done = len(keys & set(lut.entries))
    print(f'{args.out}: timed {timed} entries now; {done}/{len(keys)} of this '
          f'model\'s entries present' +
          ('' if done == len(keys) else
           f', {len(keys) - done} left (run again to continue)'))


if __name__ == '__main__':
    main()
