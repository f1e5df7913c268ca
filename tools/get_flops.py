"""FLOPs (multiply-adds) and parameters: of a config's model, or Table 1.

    python tools/get_flops.py CONFIG [--shape H W]   # a model, both counts
    python tools/get_flops.py --table1                # Table 1, ours vs paper

Two counts, both multiply-adds: the *paper convention* (thop 0.0.31 rules, the
counter that reproduces Table 1; see attnas_mmseg/search/flops.py) and the
*complete* count of mmengine's get_model_complexity_info (what MMSeg's own
get_flops.py reports).
"""
import argparse
import math
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402

import attnas_mmseg  # noqa: E402,F401
from attnas_mmseg.models import build_segmentor  # noqa: E402
from attnas_mmseg.search import (ATTENTION_CANDIDATES, FLOPS_PER_G,  # noqa
                                 build_attention,
                                 build_flops_table, count_complete_flops,
                                 count_paper_flops, search_space_size)


def truncate(value: float, digits: int = 1) -> float:
    """Truncate (not round) as the paper's table does."""
    scale = 10**digits
    return math.floor(value * scale) / scale


def table1(channels: int = 320, size=(64, 128)) -> str:
    from mmengine.analysis import get_model_complexity_info
    rows = [f'Table 1 at 1024x2048 input: attention on a {size[0]}x{size[1]}'
            f' map (output stride 16), {channels} channels in and out.',
            'FLOPs in M multiply-adds. paper-conv: thop 0.0.31 rules, '
            'truncated to the paper\'s precision; complete: mmengine.',
            f'{"id":<6}{"operation":<32}{"ours paper-conv":>16}'
            f'{"paper":>10}{"diff %":>9}{"complete":>12}']
    x = torch.zeros(1, channels, *size)
    for cand in ATTENTION_CANDIDATES:
        module = build_attention(cand.id, channels, norm_cfg=dict(type='BN'))
        module.eval()
        # truncated to the precision Table 1 prints (whole M above 100M)
        ours = truncate(count_paper_flops(module, x) / 1e6,
                        0 if cand.paper_mflops >= 100 else 1)
        info = get_model_complexity_info(module, inputs=(x, ),
                                         show_table=False, show_arch=False)
        diff = 100 * (ours - cand.paper_mflops) / cand.paper_mflops
        rows.append(f'{cand.short_name:<6}{cand.name:<32}{ours:>16.1f}'
                    f'{cand.paper_mflops:>10.1f}{diff:>+9.2f}'
                    f'{info["flops"] / 1e6:>12.1f}')
    for layers in (1, 2, 3):
        rows.append(f'search space, {layers} attention layer(s), top-4: '
                    f'6^17 x C({13 * layers},4) = '
                    f'{search_space_size(layers):.3e}'
                    + ('  (paper: 2.5e17)' if layers == 2 else ''))
    return '\n'.join(rows)


def model_flops(config: str, shape) -> str:
    model = build_segmentor(config, init_weights=False)
    paper = build_flops_table(model, tuple(shape))
    complete, params = count_complete_flops(model, tuple(shape))
    lines = [f'config: {config}', f'input: {shape[0]}x{shape[1]}']
    if paper.backbone is not None or paper.attention is not None:
        lines.append('searching model: paper-convention FLOPs of the fixed '
                     'part (candidates are priced per op in the FLOPs table)')
    lines += [f'FLOPs (paper convention): {paper.fixed / FLOPS_PER_G:.2f}G',
              f'FLOPs (complete, mmengine): {complete / FLOPS_PER_G:.2f}G',
              f'Params: {params / 1e6:.2f}M']
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?')
    parser.add_argument('--shape', type=int, nargs=2, default=[1024, 2048],
                        metavar=('H', 'W'))
    parser.add_argument('--table1', action='store_true',
                        help='print Table 1, ours beside the paper')
    args = parser.parse_args(argv)
    if args.table1:
        print(table1())
    if args.config:
        print(model_flops(args.config, args.shape))
    if not (args.table1 or args.config):
        parser.error('give a CONFIG, --table1, or both')


if __name__ == '__main__':
    main()
