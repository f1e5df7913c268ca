"""tools/get_flops.py as a user runs it, against FLOPs and parameters counted
by hand from each network's structure.

The paper convention (``attnas_mmseg/search/cost/flops.py``, thop 0.0.31) in
multiply-adds per image: a conv costs ``H_out W_out C_out (C_in / groups k_h
k_w + bias)``, a BN 2 per element, an adaptive average pool ``(floor(H/h)
floor(W/w) + 1)`` per output element, a linear layer ``in_features`` per
output; activations, resizing, sums and products cost nothing. Parameters:
conv and linear weights (+ bias), 2 per BN channel.
"""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHAPE = (256, 512)
#: MobileNetV2 stages: (expansion of MobileNetV2, channels, blocks), and the
#: stage strides of every config here (output stride 16).
STAGES = [(1, 16, 1), (6, 24, 2), (6, 32, 3), (6, 64, 4), (6, 96, 3),
          (6, 160, 3), (6, 320, 1)]
STRIDES = (1, 2, 2, 2, 1, 1, 1)
#: kernel-major op order: op j (1-6) -> (kernel, expansion).
OPS = ((3, 1), (3, 3), (3, 6), (5, 1), (5, 3), (5, 6))


class Count:
    """Running totals of paper-convention FLOPs and parameters."""

    def __init__(self):
        self.flops = 0
        self.params = 0

    def conv(self, c_in, c_out, k, h_out, w_out, groups=1, bias=False):
        self.flops += h_out * w_out * c_out * (c_in // groups * k * k + bias)
        self.params += c_out * c_in // groups * k * k + (c_out if bias else 0)

    def bn(self, c, h, w):
        self.flops += 2 * c * h * w
        self.params += 2 * c

    def conv_bn(self, c_in, c_out, k, h_out, w_out, groups=1):
        self.conv(c_in, c_out, k, h_out, w_out, groups)
        self.bn(c_out, h_out, w_out)

    def pool(self, c, h, w, bins):
        self.flops += ((h // bins) * (w // bins) + 1) * c * bins * bins

    def linear(self, n_in, n_out):
        self.flops += n_in * n_out
        self.params += n_in * n_out + n_out


def mobilenet_v2(count, ops):
    """The stem and 17 inverted residuals (``ops``: (kernel, expansion) per
    block); returns the output map size."""
    h, w = SHAPE[0] // 2, SHAPE[1] // 2
    count.conv_bn(3, 32, 3, h, w)
    c_in, block = 32, 0
    for (_, c_out, blocks), stride in zip(STAGES, STRIDES):
        for b in range(blocks):
            kernel, expansion = ops[block]
            s = stride if b == 0 else 1
            hidden = c_in * expansion
            if expansion != 1:
                count.conv_bn(c_in, hidden, 1, h, w)
            h, w = h // s, w // s
            count.conv_bn(hidden, hidden, kernel, h, w, groups=hidden)
            count.conv_bn(hidden, c_out, 1, h, w)
            c_in, block = c_out, block + 1
    return h, w


def attnas_s():
    """AttNAS-S: mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1) and
    AttSet1(12,13)+AttSet2(3,7) (Table 1's candidates), a 3x3 bottleneck
    320->96, 19 classes."""
    count, c = Count(), 320
    code = (3, 3, 2, 3, 2, 3, 2, 3, 2, 6, 3, 6, 5, 3, 2, 5, 1)
    h, w = mobilenet_v2(count, [OPS[op - 1] for op in code])
    count.pool(c, h, w, 9)          # Att12: pooled self-attention, gamma
    count.params += 1
    count.pool(c, h, w, 1)          # Att13: SE, reduction 16
    count.linear(c, c // 16)
    count.linear(c // 16, c)
    count.pool(c, h, w, 3)          # Att3: pool 3, conv1x1-BN
    count.conv_bn(c, c, 1, 3, 3)
    count.conv(c, c, 3, h, w, bias=True)   # Att7: atrous 3x3, bias, no BN
    count.conv_bn(c, 96, 3, h, w)   # bottleneck
    count.conv(96, 19, 1, h, w, bias=True)  # conv_seg
    return count


def deeplabv3_mv2():
    """MMSeg's MobileNetV2 (kernel 3, its expansions) and ASPPHead of 160
    channels, rates (1, 6, 12, 18), 19 classes."""
    count, c, ch = Count(), 320, 160
    ops = [(3, e) for e, _, blocks in STAGES for _ in range(blocks)]
    h, w = mobilenet_v2(count, ops)
    count.pool(c, h, w, 1)          # image pool, conv1x1-BN on 1x1
    count.conv_bn(c, ch, 1, 1, 1)
    count.conv_bn(c, ch, 1, h, w)   # rate 1
    for _ in (6, 12, 18):
        count.conv_bn(c, ch, 3, h, w)
    count.conv_bn(5 * ch, ch, 3, h, w)   # bottleneck over the concat
    count.conv(ch, 19, 1, h, w, bias=True)
    return count


def exact(config):
    """(paper FLOPs, params) at full precision: the counter the tool calls,
    on the model the package's builder makes of ``config``."""
    from attnas_mmseg.models import build_segmentor
    from attnas_mmseg.search import build_flops_table
    model = build_segmentor(str(REPO / config), device='meta')
    return (build_flops_table(model, SHAPE).fixed,
            sum(p.numel() for p in model.parameters()))


def run(*args):
    proc = subprocess.run([sys.executable, 'tools/get_flops.py', *args],
                          cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def reported(out):
    """(paper FLOPs G, complete FLOPs G, params M) as printed."""
    lines = {l.split(':')[0]: l.split()[-1] for l in out.splitlines()
             if ':' in l}
    return (float(lines['FLOPs (paper convention)'][:-1]),
            float(lines['FLOPs (complete, mmengine)'][:-1]),
            float(lines['Params'][:-1]))


def test_config_flops_both_counts():
    config = 'configs/attnas_s_cityscapes.py'
    count = attnas_s()
    assert exact(config) == (count.flops, count.params)
    paper, complete, params = reported(
        run(config, '--shape', *map(str, SHAPE)))
    assert f'{paper:.2f}' == f'{count.flops / 1e9:.2f}'
    assert f'{params:.2f}' == f'{count.params / 1e6:.2f}'
    # mmengine counts what thop does not (e.g. activations): within 2%
    assert abs(complete - paper) / paper < 0.02


def test_config_with_an_mmseg_head():
    config = ('configs/baselines/deeplabv3_mobilenet-v2-d16_4xb2-80k_'
              'cityscapes-512x1024.py')
    count = deeplabv3_mv2()
    assert exact(config) == (count.flops, count.params)
    paper, _, params = reported(run(config, '--shape', *map(str, SHAPE)))
    assert f'{paper:.2f}' == f'{count.flops / 1e9:.2f}'
    assert f'{params:.2f}' == f'{count.params / 1e6:.2f}'
