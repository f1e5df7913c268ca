"""The quick start, end to end: search -> derive -> retrain -> test -> pictures.

    python tools/demo.py                       # synthetic data, generated here
    python tools/demo.py --dataset camvid --data-root ../shared/data/camvid
    python tools/demo.py --derive evolution    # SPOS: uniform supernet + evolution

``--derive argmax`` (the default, the paper's): a search with ArchUpdateHook
and the argmax of its alpha/beta (``tools/derive_arch.py``). ``--derive
evolution`` (issue 18): the supernet is trained with uniformly drawn paths
(``search_mode='uniform'``, ``configs/demo/attnas-search-uniform_*``) and
the network is chosen by an evolutionary search scoring subnets with their
inherited weights on the arch half, inside the argmax search's FLOPs target
+- its ``derive.target_window`` (``tools/search_subnet.py``, a demo-sized
population: ``SMALL_EVOLUTION`` of
:mod:`attnas_mmseg.evaluation.subnet_search`). Which derivation to trust on a dataset
is what ``benchmarks/rank_correlation.py`` measures; the default stays the
paper's until it says otherwise (docs/design.md).

Every stage is the project's real entry point run as a user would:
``tools/train.py`` (search, with ArchUpdateHook), ``tools/derive_arch.py``,
``tools/train.py`` on the derived retrain config, MMSeg's ``tools/test.py``
(IoUMetric), ``tools/plot_arch.py``, ``tools/export_onnx.py`` and
``tools/benchmark.py`` (inference speed as deployed: BN folded,
channels_last). The demo configs live in ``configs/demo/``; artefacts go to
``--work-dir``.
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from typing import List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

DATASETS = {
    'synthetic': dict(
        search='configs/demo/attnas-search_demo_synthetic-cityscapes-64x128.py',
        uniform='configs/demo/attnas-search-uniform_demo_synthetic-'
        'cityscapes-64x128.py',
        data_root='data/synthetic_cityscapes',
        val_labels='gtFine/val/*/*_gtFine_labelTrainIds.png',
        ignore=255),
    'camvid': dict(
        search='configs/demo/attnas-search_demo_camvid-120x160.py',
        uniform='configs/demo/attnas-search-uniform_demo_camvid-120x160.py',
        data_root=None,
        val_labels='valannot/*.png',
        ignore=11),
}
DERIVATIONS = ('argmax', 'evolution')


def run(cmd: List[str], env: dict) -> None:
    print('\n$ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, env=env, check=True)


def latest(pattern: str) -> str:
    paths = sorted(glob.glob(pattern), key=osp.getmtime)
    if not paths:
        raise FileNotFoundError(f'nothing matches {pattern}')
    return paths[-1]


def constant_predictor_miou(pattern: str, ignore: int) -> float:
    """mIoU of predicting the most frequent class everywhere (IoUMetric's
    averaging: over the classes present in the ground truth)."""
    import numpy as np
    from PIL import Image
    counts = {}
    for path in glob.glob(pattern):
        ids, n = np.unique(np.asarray(Image.open(path)), return_counts=True)
        for i, c in zip(ids.tolist(), n.tolist()):
            if i != ignore:
                counts[i] = counts.get(i, 0) + c
    total = sum(counts.values())
    return max(counts.values()) / total / len(counts)


def test_metrics(work_dir: str) -> dict:
    """Metrics tools/test.py dumped as json in its timestamped log dir."""
    path = latest(osp.join(work_dir, '*', '*.json'))
    with open(path) as f:
        return json.load(f)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--dataset', choices=sorted(DATASETS),
                        default='synthetic')
    parser.add_argument('--data-root', default=None,
                        help='dataset folder (camvid: the SegNet layout)')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--device', choices=['auto', 'cpu', 'cuda'],
                        default='auto')
    parser.add_argument('--seed', type=int, default=0,
                        help='randomness.seed of the search and the retrain '
                        '(same seed, same machine: same architecture)')
    parser.add_argument('--derive', choices=DERIVATIONS, default='argmax',
                        help='argmax of a gradient search (the paper) or '
                        'evolution on a uniformly trained supernet')
    parser.add_argument('--search-epochs', type=int, default=None)
    parser.add_argument('--retrain-epochs', type=int, default=None)
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --work-dir')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    spec = DATASETS[args.dataset]
    data_root = args.data_root or spec['data_root']
    if data_root is None:
        sys.exit('demo: --data-root is required for --dataset '
                 f'{args.dataset}')
    work = osp.abspath(args.work_dir)
    if osp.exists(work):
        if not args.overwrite:
            sys.exit(f'demo: {work} exists; pass --overwrite to replace it '
                     'or --work-dir to use another folder')
        shutil.rmtree(work)
    env = dict(os.environ)
    if args.device == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
    elif args.device == 'cuda':
        import torch
        if not torch.cuda.is_available():
            sys.exit('demo: --device cuda but torch sees no GPU')
    py = sys.executable
    start = time.time()

    if args.dataset == 'synthetic':
        from attnas_mmseg.datasets.synthetic import generate
        generate('cityscapes', osp.join(REPO, data_root), num_train=48,
                 num_val=16, height=128, width=256, seed=0)

    search_dir = osp.join(work, 'search')
    seed = f'randomness.seed={args.seed}'
    evolution = args.derive == 'evolution'
    config = spec['uniform'] if evolution else spec['search']
    opts = ['--cfg-options', *demo_root_options(data_root), seed]
    if args.search_epochs and evolution:   # one weight schedule, no warm-up
        opts += [f'train_cfg.max_epochs={args.search_epochs}',
                 f'param_scheduler.0.end={args.search_epochs}']
    elif args.search_epochs:
        from attnas_mmseg.utils.search_schedule import \
            search_schedule_options
        opts += search_schedule_options(osp.join(REPO, config),
                                        args.search_epochs)
    run([py, 'tools/train.py', config, '--work-dir', search_dir, *opts], env)
    ckpt = latest(osp.join(search_dir, 'epoch_*.pth'))

    arch_dir = osp.join(work, 'derived')
    if evolution:
        from attnas_mmseg.evaluation.subnet_search import (SMALL_EVOLUTION,
                                                           cli_options)
        target, window = evolution_target(osp.join(REPO, spec['search']))
        run([py, 'tools/search_subnet.py', config, ckpt, '--work-dir',
             arch_dir, '--flops-target', str(target), '--window',
             str(window), '--seed', str(args.seed),
             *cli_options(SMALL_EVOLUTION),
             '--cfg-options', *demo_root_options(data_root)], env)
    else:
        run([py, 'tools/derive_arch.py', config, ckpt, '--out-dir',
             arch_dir], env)
    retrain_cfg = osp.join(arch_dir, 'retrain.py')

    retrain_dir = osp.join(work, 'retrain')
    ropts = ['--cfg-options', *demo_root_options(data_root, retrain=True),
             seed]
    if args.retrain_epochs:
        ropts += [f'train_cfg.max_epochs={args.retrain_epochs}',
                  f'train_cfg.val_interval={args.retrain_epochs}']
    run([py, 'tools/train.py', retrain_cfg, '--work-dir', retrain_dir,
         *ropts], env)
    model_ckpt = latest(osp.join(retrain_dir, 'epoch_*.pth'))
    test_dir = osp.join(work, 'test')
    run([py, 'tools/test.py', retrain_cfg, model_ckpt, '--work-dir',
         test_dir, *ropts], env)
    metrics = test_metrics(test_dir)

    # a uniform search has no arch steps, so no alpha/beta history to draw
    history = [] if evolution else [
        '--history', latest(osp.join(search_dir, '*', 'arch_history.jsonl'))]
    run([py, 'tools/plot_arch.py', *history, '--arch',
         osp.join(arch_dir, 'arch.json'), '--out-dir', work], env)
    onnx_path = osp.join(work, 'derived.onnx')
    shape = DEMO_SHAPES[args.dataset]
    run([py, 'tools/export_onnx.py', retrain_cfg, model_ckpt, '--out',
         onnx_path, '--shape', *map(str, shape)], env)
    bench_dir = osp.join(work, 'benchmark')
    run([py, 'tools/benchmark.py', retrain_cfg, model_ckpt, '--work-dir',
         bench_dir, '--total-iters', '25', '--num-warmup', '5', '--threads',
         '1', *ropts], env)
    with open(latest(osp.join(bench_dir, 'fps_*.json'))) as f:
        speed = json.load(f)

    from attnas_mmseg.search import ArchSpec
    arch = ArchSpec.load(osp.join(arch_dir, 'arch.json'))
    meta = arch.meta
    const = 100 * constant_predictor_miou(
        osp.join(REPO, data_root, spec['val_labels']), spec['ignore'])
    search = meta.get('search', {})
    report = [
        '', '=' * 72, 'AttNAS demo: search -> derive -> retrain -> test',
        '=' * 72,
        f'dataset           {args.dataset} ({data_root})',
        f'seed              {seed_note(args.seed)}',
        f'derived           {arch}',
        *(evolution_lines(meta) if evolution else search_lines(search,
                                                               meta)),
        f'FLOPs @{meta["input_size"][0]}x{meta["input_size"][1]}    '
        f'{meta["flops_paper_G"]:.2f}G paper convention, '
        f'{meta["flops_complete_G"]:.2f}G complete (mmengine)',
        f'params            {meta["params_M"]:.2f}M',
        f'mIoU (val)        {metrics["mIoU"]:.2f}  (constant predictor: '
        f'{const:.2f})',
        f'inference         {speed["latency_ms"]:.1f} ms/image, PyTorch '
        f'eager on {speed["device"]}, {speed["threads"]} thread, BN folded, '
        f'{speed["memory_format"]} (tools/benchmark.py on its test images)',
        f'time              {(time.time() - start) / 60:.1f} min',
        'artefacts:',
        f'  search log/ckpt  {search_dir}',
        f'  architecture     {osp.join(arch_dir, "arch.json")}',
        f'  retrain config   {retrain_cfg}',
        f'  retrained model  {model_ckpt}',
        '  pictures         ' + ', '.join(
            osp.join(work, name) for name in
            ((() if evolution else ('arch_evolution.png', ))
             + ('arch_module.png', ))),
        f'  ONNX             {onnx_path}',
        f'  speed            {bench_dir}',
    ]
    print('\n'.join(report))
    with open(osp.join(work, 'report.txt'), 'w') as f:
        f.write('\n'.join(report[1:]) + '\n')


DEMO_SHAPES = {'synthetic': (128, 256), 'camvid': (360, 480)}


def evolution_target(search_config: str) -> tuple:
    """(FLOPs target in G, window) of the evolution: the argmax search's
    target and its derive.target_window (0.1 when it has none), so both
    derivations aim at the same cost. A target outside the space's range at
    derive.input_size (the CamVid demo's 30G at 720x960, where the space
    spans about 1.6-20.2G) is replaced by the median cost of 100 uniform
    draws: near a range's end the window would hold too few networks for
    the evolution's random start."""
    from mmengine.config import Config

    from attnas_mmseg.export.random_arch import (flops_range, median_flops,
                                                 search_flops_table)
    from attnas_mmseg.search.cost.flops import FLOPS_PER_G
    cfg = Config.fromfile(search_config)
    hook = next(h for h in cfg.custom_hooks if h.type == 'ArchUpdateHook')
    window = float(cfg.get('derive', {}).get('target_window') or 0.1)
    topk = int(cfg.get('derive', {}).get('topk', 4))
    table = search_flops_table(search_config)
    low, high = (f / FLOPS_PER_G for f in flops_range(table, topk))
    target = float(hook.flops_target)
    if not low <= target <= high:
        target = median_flops(table, topk) / FLOPS_PER_G
    return target, window


def search_lines(search: dict, meta: dict) -> List[str]:
    """The report's lines on a gradient search and its argmax."""
    target, derived = search['flops_target_G'], search['flops_derived_G']
    size = search['flops_input_size']
    return [f'FLOPs target      {target:.2f}G, derived {derived:.2f}G '
            f'({100 * (derived / target - 1):+.1f}%) at {size[0]}x{size[1]}',
            f'confidence        {confidence_summary(search, meta["topk"])}']


def evolution_lines(meta: dict) -> List[str]:
    """The report's lines on an evolution (tools/search_subnet.py)."""
    found = meta['evolution']
    low, high = found['windows']['flops_G']
    return [f'FLOPs window      {low:.2f}-{high:.2f}G (target '
            f'{found["flops_target_G"]:.2f}G), found '
            f'{found["costs"]["flops_G"]:.2f}G',
            f'evolution         mIoU {found["score_mIoU"]:.2f} on the '
            f'{found["split"]} half with inherited weights (BN recalibrated), '
            f'best of {found["evaluated"]} subnets in '
            f'{found["generations"]} generations']


def confidence_summary(search: dict, topk: int) -> str:
    """One line: how many choices of the search are within noise."""
    import torch

    from attnas_mmseg.search.confidence import confidence_record
    alpha = torch.tensor(search['alpha'])
    record = confidence_record(alpha, torch.tensor(search['beta']), topk,
                               search['noise_sigma'])
    margins = record['alpha_margin']
    return (f'{len(record["uncertain"])} of {len(margins) + 1} choices within '
            f'the noise of {search["arch_steps"]} arch steps (mean top-two '
            f'margin of softmax(alpha) {sum(margins) / len(margins):.3f}); '
            'tools/derive_arch.py prints the table')


#: The synthetic demo at seed 0 on another machine (issue 19), derived the
#: same twice there; README quotes it beside ours.
OTHER_MACHINE = ('mv2(3,1,6,4,4,5,3,3,4,6,2,6,4,3,2,5,2) '
                 'AttSet1(10,12,13)+AttSet2(4), 27.14G, 48.82 mIoU')


def seed_note(seed: int) -> str:
    """What the seed fixes, for the report beside the derived network."""
    return (f'{seed}: the same seed derives the same network on the same '
            'machine, not on every machine: choices within noise (see '
            'confidence) follow CPU kernels that differ between machines '
            f'(the synthetic demo at seed 0 gave {OTHER_MACHINE} on another '
            'machine; README)')


def demo_root_options(data_root: str, retrain: bool = False) -> List[str]:
    """--cfg-options pointing every dataloader of a demo config at
    ``data_root``."""
    root = osp.abspath(osp.join(REPO, data_root))
    keys = (['train_dataloader.dataset', 'val_dataloader.dataset',
             'test_dataloader.dataset'] if retrain else
            ['train_dataloader.dataset.dataset',
             'arch_dataloader.dataset.dataset'])
    return [f'{k}.data_root={root}' for k in keys]


if __name__ == '__main__':
    main()
