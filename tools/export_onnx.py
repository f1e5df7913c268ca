"""Export a segmentor's dense logits to ONNX and check them with onnxruntime.

    python tools/export_onnx.py CONFIG [CHECKPOINT] --out model.onnx \\
        [--shape 1024 2048] [--arch arch.json] [--no-fuse-conv-bn]
        [--overwrite]

The ONNX input is the normalised image (1, 3, H, W), the output the logits
(1, num_classes, H, W) (attnas_mmseg/deploy/onnx_export.py). ``--arch`` fills
a derived architecture (``tools/derive_arch.py``'s arch.json, or the paper
notation) into an AttNAS config such as configs/_base_/models/attnas_mv2.py.
Without CHECKPOINT the weights are freshly initialised and the BN statistics
set from one random batch (so the logits are O(1), not ~1e-8, and the check
means something). BN is folded into the convolutions before export (mmcv's
``fuse_conv_bn``, as deployed; ``--no-fuse-conv-bn`` exports the graph as
built); the check compares onnxruntime with the *unfused* PyTorch model, so it
covers the folding too. Exits non-zero if they differ by more than ``--atol``.
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402

from attnas_mmseg.deploy import (calibrate_bn, check_onnx,  # noqa
                                 count_batchnorms, export_onnx,
                                 fuse_conv_bn)
from attnas_mmseg.deploy.onnx_export import DEFAULT_OPSET  # noqa: E402
from attnas_mmseg.models import build_segmentor  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', default=None)
    parser.add_argument('--out', required=True, help='the .onnx file')
    parser.add_argument('--shape', type=int, nargs=2, default=[1024, 2048],
                        metavar=('H', 'W'))
    parser.add_argument('--arch', default=None,
                        help='arch.json or paper notation of a derived net')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET)
    parser.add_argument('--atol', type=float, default=1e-3,
                        help='max abs difference allowed in the check')
    parser.add_argument('--no-check', action='store_true',
                        help='skip the onnxruntime comparison')
    parser.add_argument('--no-fuse-conv-bn', action='store_true',
                        help='export without folding BN into the convs')
    parser.add_argument('--overwrite', action='store_true')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if osp.exists(args.out) and not args.overwrite:
        sys.exit(f'export_onnx: error: {args.out} exists; pass --overwrite '
                 'to replace it')
    try:
        model = build_segmentor(args.config, args.checkpoint, args.arch)
        if args.checkpoint is None:
            calibrate_bn(model, torch.randn(2, 3, *args.shape,
                                            generator=torch.Generator()
                                            .manual_seed(1)))
        start = time.perf_counter()
        exported = model if args.no_fuse_conv_bn else fuse_conv_bn(model)
        out = export_onnx(exported, args.out, args.shape, opset=args.opset,
                          overwrite=args.overwrite)
    except (ValueError, FileExistsError) as err:
        sys.exit(f'export_onnx: error: {err}')
    folded = 'not folded' if args.no_fuse_conv_bn else \
        f'folded, {count_batchnorms(exported)} left'
    print(f'wrote {out} ({osp.getsize(out) / 2**20:.1f} MiB, opset '
          f'{args.opset}, input 1x3x{args.shape[0]}x{args.shape[1]}, BN '
          f'{folded}) in {time.perf_counter() - start:.1f}s')
    if args.no_check:
        return
    diff, scale = check_onnx(model, out, shape=args.shape)
    print(f'onnxruntime vs PyTorch (unfused): max abs diff {diff:.3e} (max '
          f'abs logit {scale:.3e})')
    if not diff <= args.atol:
        sys.exit(f'export_onnx: error: max abs diff {diff:.3e} exceeds '
                 f'--atol {args.atol:g}')


if __name__ == '__main__':
    main()
