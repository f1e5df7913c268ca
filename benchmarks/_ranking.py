"""The parts of benchmarks/rank_ground_truth.py that run no training: the
networks' names, the proxy setting as config files, the resized data copy,
the FLOPs window's reference, the pilot's noise statistics, the
ground-truth record and the runs adopted from an earlier one."""
import glob
import json
import math
import os
import os.path as osp
import pprint
import re
import statistics
from itertools import combinations
from typing import Any, Dict, List, Optional, Sequence, Tuple

#: The pilot's goals (issue 17): the seed-vs-seed Kendall tau of the
#: networks' mIoU (the noise ceiling of any ranking measured against this
#: ground truth) and the between-network / within-network std ratio.
TAU_GOAL = 0.6
RATIO_GOAL = 2.0
#: (image folder, label folder) of the SegNet layout's splits.
SEGNET_SPLITS = (('train', 'trainannot'), ('val', 'valannot'))
#: The held-out split ``--val-split blocks`` makes of CamVid's train frames:
#: each sequence in frame order, cut into runs of SCENE_BLOCK frames (about
#: 8 s of driving at CamVid's 1 Hz labelling), and every SCENE_EVERY-th run
#: held out (the runs with index % SCENE_EVERY == SCENE_EVERY // 2).
SCENE_BLOCK = 8
SCENE_EVERY = 4
VAL_SPLITS = ('segnet', 'blocks')
SCHEDULES = ('poly', 'cosine')
#: ``--class-weight``: the loss weights the proxy may train with.
CLASS_WEIGHTS = ('median-freq',)
#: Setting fields an adopted ground truth (``--adopt``) may differ in: where
#: and how fast its runs trained, and its seeds (the common ones are taken).
ADOPT_FREE = ('threads', 'device', 'seeds', 'data_root')
RANDOM_NAME = re.compile(r'^r\d+$')
#: A class row of the table MMSeg's IoUMetric logs: | name | IoU | Acc |
CLASS_ROW = re.compile(r'^\|\s*([^|]*?)\s*\|\s*([0-9.]+|nan)\s*\|'
                       r'\s*([0-9.]+|nan)\s*\|\s*$')
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def network_names(num: int) -> List[str]:
    """``r00, r01, ...`` (zero-padded to the width of the last index, at
    least two digits): the random networks' names, in draw order."""
    if not isinstance(num, int) or num < 1:
        raise ValueError(f'num-archs: must be an int >= 1, got {num!r}')
    width = max(2, len(str(num - 1)))
    return [f'r{i:0{width}d}' for i in range(num)]


def parse_searched(items: Sequence[str]) -> List[Tuple[str, str]]:
    """``NAME=path/to/arch.json`` items -> [(name, path)]. A name is an
    identifier, not a random network's (``r`` + digits), used once."""
    out: List[Tuple[str, str]] = []
    for item in items:
        name, sep, path = item.partition('=')
        if not sep or not path:
            raise ValueError(f'searched: expected NAME=path/to/arch.json, '
                             f'got {item!r}')
        if not name.isidentifier() or RANDOM_NAME.match(name):
            raise ValueError(f'searched: NAME must be an identifier other '
                             f'than r<digits> (the random networks), got '
                             f'{name!r}')
        if name in (n for n, _ in out):
            raise ValueError(f'searched: the name {name!r} is given twice')
        out.append((name, path))
    return out


# --------------------------------------------------------- the setting
def _innermost(dataset: dict) -> Tuple[dict, List[str]]:
    """The dataset a wrapper holds, and the keys leading to it."""
    keys: List[str] = []
    while 'dataset' in dataset:
        dataset, keys = dataset['dataset'], keys + ['dataset']
    return dataset, keys


def _nested(keys: List[str], leaf: dict) -> dict:
    for key in reversed(keys):
        leaf = {key: leaf}
    return leaf


def _resized(pipeline: List[dict], height: int, width: int) -> List[dict]:
    """``pipeline`` with every (Random)Resize at scale (width, height)."""
    return [dict(t, scale=(width, height))
            if t['type'] in ('Resize', 'RandomResize') else dict(t)
            for t in pipeline]


def proxy_config_text(base: str, setting: Dict[str, Any], data_root: str,
                      class_weight: Optional[Sequence[float]] = None) -> str:
    """An mmengine config inheriting ``base`` (a retrain base: a searchable
    model, train and val loaders) that fixes the proxy ``setting``: input
    size (every Resize/RandomResize and the preprocessor's pad size), batch,
    epochs, SGD lr and schedule, ``data_root`` and the optional subsets
    (``num_train``/``num_val``: the first images). ``class_weight``: the
    decode head's cross-entropy weights per class, trained with
    ``ClassWeightedCrossEntropyLoss`` (e.g. from
    :func:`median_frequency_weights`; None: unweighted). The val split is
    evaluated once, after the last epoch: the run's mIoU."""
    from mmengine.config import Config
    cfg = Config.fromfile(base).to_dict()
    h, w, epochs = setting['height'], setting['width'], setting['epochs']
    if setting['schedule'] not in SCHEDULES:
        raise ValueError(f'schedule: must be one of {SCHEDULES}, got '
                         f'{setting["schedule"]!r}')
    loaders = {}
    for key, subset in (('train_dataloader', 'num_train'),
                        ('val_dataloader', 'num_val')):
        leaf, keys = _innermost(cfg[key]['dataset'])
        over = dict(data_root=data_root,
                    pipeline=_resized(leaf['pipeline'], h, w))
        if setting.get(subset):
            over['indices'] = setting[subset]
        loaders[key] = dict(dataset=_nested(keys, over))
    loaders['train_dataloader']['batch_size'] = setting['batch_size']
    if setting['schedule'] == 'poly':
        scheduler = dict(type='PolyLR', eta_min=setting['lr_min'], power=0.9,
                         begin=0, end=epochs, by_epoch=True)
    else:
        scheduler = dict(type='CosineAnnealingLR', T_max=epochs,
                         eta_min=setting['lr_min'], begin=0, end=epochs,
                         by_epoch=True)
    model = dict(data_preprocessor=dict(size=(h, w)))
    if class_weight is not None:
        loss = cfg['model']['decode_head']['loss_decode']
        if not isinstance(loss, dict) or loss.get('type') != \
                'CrossEntropyLoss' or loss.get('use_sigmoid'):
            raise ValueError(f'class_weight: {base}\'s decode head must have '
                             f'one softmax CrossEntropyLoss, got {loss}')
        num = cfg['model']['decode_head']['num_classes']
        if len(class_weight) != num:
            raise ValueError(f'class_weight: {len(class_weight)} weights for '
                             f'the {num} classes of {base}')
        # MMSeg's own loss fails on void pixels with class weights
        # (attnas_mmseg/models/losses/class_weighted_cross_entropy.py)
        model['decode_head'] = dict(loss_decode=dict(
            type='ClassWeightedCrossEntropyLoss',
            class_weight=[round(float(c), 6) for c in class_weight]))
    parts = dict(
        crop_size=(h, w), model=model,
        **loaders,
        optim_wrapper=dict(optimizer=dict(lr=setting['lr'])),
        param_scheduler=[scheduler],
        train_cfg=dict(max_epochs=epochs, val_interval=epochs),
        default_hooks=dict(checkpoint=dict(
            by_epoch=True, interval=1, max_keep_ckpts=1, save_best=None)))
    lines = ['# The proxy setting of benchmarks/rank_ground_truth.py (written '
             'by it).', f'_base_ = [{osp.abspath(base)!r}]']
    lines += [f'{k} = {pprint.pformat(v, width=72)}' for k, v in parts.items()]
    lines.append('test_dataloader = val_dataloader')
    return '\n'.join(lines) + '\n'


def space_config_text(space: str, proxy: str) -> str:
    """A search config = ``space`` whose networks are retrained from
    ``proxy`` (``derive.retrain_base``): what ``write_derived`` needs."""
    return ('# The search space of benchmarks/rank_ground_truth.py, retrained '
            'in its proxy setting (written by it).\n'
            f'_base_ = [{osp.abspath(space)!r}]\n'
            f'derive = dict(retrain_base={osp.abspath(proxy)!r})\n')


def scene_blocks(names: Sequence[str], block: int = SCENE_BLOCK,
                 every: int = SCENE_EVERY) -> Tuple[List[str], List[str]]:
    """CamVid frame files (``SEQUENCE_FRAME.png``) split by scene:
    ``(kept, held_out)``, each sequence's frames in order cut into runs of
    ``block``, the runs with index % ``every`` == ``every`` // 2 held out,
    so every sequence gives held-out scenes and none is held out whole."""
    if block < 1 or every < 2:
        raise ValueError(f'scene blocks: block >= 1 and every >= 2, got '
                         f'{block}, {every}')
    sequences: Dict[str, List[str]] = {}
    for name in sorted(names):
        stem = osp.splitext(name)[0]
        if '_' not in stem:
            raise ValueError(f'{name}: not a CamVid frame '
                             '(SEQUENCE_FRAME.png)')
        sequences.setdefault(stem.rsplit('_', 1)[0], []).append(name)
    kept: List[str] = []
    held: List[str] = []
    for frames in sequences.values():
        for i, name in enumerate(frames):
            (held if (i // block) % every == every // 2 else kept).append(
                name)
    return sorted(kept), sorted(held)


def write_resized_copy(src: str, dst: str, height: int, width: int,
                       val_split: str = 'segnet') -> Dict[str, int]:
    """CamVid's SegNet layout under ``src``, resized to fit (width, height)
    keeping the ratio, under ``dst``: images as MMSeg's
    ``Resize(keep_ratio=True)`` does (mmcv.imrescale, bilinear, cv2), labels
    with nearest, so training on the copy sees the pixels the pipeline would
    have made from ``src``. ``val_split``: ``'segnet'`` copies train/ and
    val/ as they are; ``'blocks'`` makes val/ of held-out scenes of the
    train frames (:func:`scene_blocks`), train/ of the others, and leaves
    SegNet's val out (101 frames of one 7-second clip, 0016E5 frames
    7959-8159). Files per folder written."""
    import mmcv
    if val_split not in VAL_SPLITS:
        raise ValueError(f'val_split must be one of {VAL_SPLITS}, got '
                         f'{val_split!r}')

    def pngs(folder: str) -> List[str]:
        names = sorted(n for n in os.listdir(osp.join(src, folder))
                       if n.endswith('.png'))
        if not names:
            raise ValueError(f'data-root: no .png under '
                             f'{osp.join(src, folder)}')
        return names

    if val_split == 'segnet':
        plan = [(pair, pair, pngs(pair[0])) for pair in SEGNET_SPLITS]
    else:
        kept, held = scene_blocks(pngs('train'))
        if not held:
            raise ValueError(
                f'val_split blocks: the {len(kept)} train frames under '
                f'{src} give no held-out run of {SCENE_BLOCK} (every '
                f'{SCENE_EVERY}th run of a sequence); use val_split segnet')
        plan = [(SEGNET_SPLITS[0], SEGNET_SPLITS[0], kept),
                (SEGNET_SPLITS[0], SEGNET_SPLITS[1], held)]
    counts = {}
    for source, target, names in plan:
        for from_dir, to_dir, interpolation in zip(source, target,
                                                   ('bilinear', 'nearest')):
            os.makedirs(osp.join(dst, to_dir), exist_ok=True)
            for name in names:
                img = mmcv.imread(osp.join(src, from_dir, name),
                                  flag='unchanged')
                mmcv.imwrite(mmcv.imrescale(img, (width, height),
                                            interpolation=interpolation,
                                            backend='cv2'),
                             osp.join(dst, to_dir, name))
            counts[to_dir] = len(names)
    return counts


def median_frequency_weights(ann_dir: str, num_classes: int,
                             void: Optional[int] = None,
                             limit: Optional[int] = None) -> List[float]:
    """Median frequency balancing (Eigen & Fergus, ICCV 2015; SegNet's
    CamVid loss): class c's weight is median(f) / f_c, where f_c is c's
    pixels over the labelled pixels of the label maps c appears in. Read
    from the ``.png`` label maps of ``ann_dir`` (sorted, MMSeg's order;
    ``limit``: only the first that many), labels ``0 .. num_classes - 1``,
    ``void`` (None: CamVid's, ``attnas_mmseg.datasets.camvid.CAMVID_VOID``)
    ignored.
    A class seen nowhere has no frequency: ValueError naming it."""
    import mmcv
    import numpy as np
    if void is None:
        from attnas_mmseg.datasets.camvid import CAMVID_VOID as void
    names = sorted(n for n in os.listdir(ann_dir) if n.endswith('.png'))
    if limit is not None:
        names = names[:limit]
    if not names:
        raise ValueError(f'class weight: no .png label map under {ann_dir}')
    pixels = np.zeros(num_classes, np.int64)
    seen_in = np.zeros(num_classes, np.int64)  # pixels of maps holding c
    for name in names:
        label = mmcv.imread(osp.join(ann_dir, name), flag='unchanged')
        counts = np.bincount(label.ravel(), minlength=max(num_classes,
                                                          void + 1))
        other = np.delete(counts, list(range(num_classes)) + [void])
        if other.any():
            raise ValueError(f'class weight: {osp.join(ann_dir, name)} has '
                             f'labels outside 0-{num_classes - 1} and void '
                             f'{void}')
        counts = counts[:num_classes]  # drops void only (checked above)
        pixels += counts
        seen_in[counts > 0] += counts.sum()
    missing = [c for c in range(num_classes) if not pixels[c]]
    if missing:
        raise ValueError(f'class weight: classes {missing} appear in none of '
                         f'the {len(names)} label maps under {ann_dir}')
    freq = pixels / seen_in
    return (np.median(freq) / freq).tolist()


def reference_cost(config: str, size: Sequence[int]) -> Dict[str, Any]:
    """Paper-convention FLOPs (G; the search's FLOPs table's rules, as every
    network of the space is priced) and params (M) of ``config``'s model at
    ``size``."""
    from attnas_mmseg.models import build_segmentor
    from attnas_mmseg.search.cost.flops import FLOPS_PER_G, build_flops_table
    model = build_segmentor(config, init_weights=False)
    return dict(config=osp.relpath(config, REPO), input_size=list(size),
                flops_G=build_flops_table(model, tuple(size)).fixed /
                FLOPS_PER_G,
                params_M=sum(p.numel() for p in model.parameters()) / 1e6)


# ------------------------------------------------------------ the pilot
def pilot_stats(miou: Dict[str, Dict[str, float]],
                flops: Optional[Dict[str, float]] = None) -> Dict[str, Any]:
    """Noise of the ground truth from ``miou[network][seed]`` (every network
    trained with the same seeds, >= 2 networks, >= 2 seeds):

    * ``within_std``: the seeds' std (ddof 1) pooled over the networks;
    * ``between_std``: the std (ddof 1) of the networks' mean mIoU;
    * ``ratio``: between / within (None when within is 0);
    * ``tau``: Kendall's tau-b of the networks' mIoU under one seed against
      another, per seed pair and their mean: the best agreement any ranking
      can reach with a ground truth this noisy;
    * whether the goals (tau >= TAU_GOAL, ratio >= RATIO_GOAL) are met;
    * with ``flops[network]``, ``flops_tau``: Kendall's tau-b of FLOPs
      against the mean mIoU (how much of the networks' order size alone
      explains; None when undefined).
    """
    from scipy.stats import kendalltau

    from attnas_mmseg.evaluation.rank_stats import noise_components
    names = list(miou)
    if len(names) < 2:
        raise ValueError(f'pilot: needs >= 2 networks, got {names}')
    seeds = sorted(miou[names[0]], key=int)
    if len(seeds) < 2 or any(sorted(miou[n], key=int) != seeds
                             for n in names):
        raise ValueError(f'pilot: every network needs the same >= 2 seeds, '
                         f'got { {n: sorted(miou[n]) for n in names} }')
    rows = [[float(miou[n][s]) for s in seeds] for n in names]
    means = [statistics.mean(r) for r in rows]
    noise = noise_components({s: [r[i] for r in rows]
                              for i, s in enumerate(seeds)})
    within, between = noise['within_std'], noise['between_std']
    taus = {}
    for i, j in combinations(range(len(seeds)), 2):
        tau = float(kendalltau([r[i] for r in rows],
                               [r[j] for r in rows]).statistic)
        taus[f'{seeds[i]}-{seeds[j]}'] = None if math.isnan(tau) else tau
    known = [t for t in taus.values() if t is not None]
    tau = statistics.mean(known) if known else None
    ratio = between / within if within > 0 else None
    size = {}
    if flops is not None:
        tau_f = float(kendalltau([flops[n] for n in names], means).statistic)
        size = dict(flops_G={n: flops[n] for n in names},
                    flops_tau=None if math.isnan(tau_f) else tau_f)
    return dict(
        networks=names, seeds=seeds,
        miou={n: dict(zip(seeds, r)) for n, r in zip(names, rows)},
        mean={n: m for n, m in zip(names, means)},
        within_std=within, between_std=between, ratio=ratio,
        true_between_std=noise['true_between_std'],
        attainable_tau=noise['attainable_tau'],
        tau_per_pair=taus, tau=tau, tau_goal=TAU_GOAL, ratio_goal=RATIO_GOAL,
        tau_goal_met=tau is not None and tau >= TAU_GOAL,
        ratio_goal_met=(between > 0) if ratio is None else ratio >= RATIO_GOAL,
        **size)


def class_iou(run_dir: str) -> Optional[Dict[str, float]]:
    """Per-class IoU of the last ``per class results`` table MMSeg's
    ``IoUMetric`` logged in a run's mmengine logs (``run_dir/*/*/*.log``:
    its training's and test's, newest last); None when there is none."""
    logs = sorted(glob.glob(osp.join(run_dir, '*', '*', '*.log')),
                  key=osp.getmtime)
    for path in reversed(logs):
        with open(path) as f:
            lines = f.read().splitlines()
        starts = [i for i, line in enumerate(lines)
                  if line.endswith('per class results:')]
        if not starts:
            continue
        found: Dict[str, float] = {}
        for line in lines[starts[-1] + 1:]:
            match = CLASS_ROW.match(line.strip())
            if match and match.group(1) != 'Class':
                found[match.group(1)] = float(match.group(2))
            elif found and not line.strip().startswith('+'):
                break
        if found:
            return found
    return None


def class_seed_std(iou: Dict[str, Dict[str, Dict[str, float]]]
                   ) -> Dict[str, float]:
    """Where the pilot's seed noise lies: for each class, the std (ddof 1)
    of its IoU across the seeds, pooled over the networks
    (``iou[network][seed][class]``), largest first. A class's share of the
    mIoU's seed noise is about its std / the number of classes."""
    names = list(iou)
    classes = list(next(iter(iou[names[0]].values())))
    out = {}
    for cls in classes:
        out[cls] = math.sqrt(statistics.mean(
            statistics.variance([per[cls] for per in iou[n].values()])
            for n in names))
    # a class absent from val (nan IoU) goes last
    return dict(sorted(out.items(), key=lambda kv: math.inf
                       if math.isnan(kv[1]) else -kv[1]))


def pilot_lines(stats: Dict[str, Any]) -> List[str]:
    """The pilot's verdict, as printed."""
    ratio = 'inf' if stats['ratio'] is None else f'{stats["ratio"]:.2f}'
    tau = 'n/a' if stats['tau'] is None else f'{stats["tau"]:.3f}'
    mark = {True: 'met', False: 'NOT met'}
    return [
        f'pilot: {len(stats["networks"])} networks x seeds '
        f'{", ".join(stats["seeds"])}: seed std (pooled) '
        f'{stats["within_std"]:.2f}, between-network std '
        f'{stats["between_std"]:.2f} mIoU',
        f'  ratio {ratio} (goal >= {RATIO_GOAL}: '
        f'{mark[stats["ratio_goal_met"]]}); seed-vs-seed Kendall tau {tau} '
        f'(goal >= {TAU_GOAL}: {mark[stats["tau_goal_met"]]})',
        f'  the networks\' own spread {stats["true_between_std"]:.2f} mIoU '
        f'(between std less the seeds\' share): a scorer that knew their '
        f'true order would reach tau ~{stats["attainable_tau"]:.2f} against '
        'the means'] + ([
            f'  Kendall tau of FLOPs against the mean mIoU '
            f'{stats["flops_tau"]:.3f}']
            if stats.get('flops_tau') is not None else []) + ([
            '  seed std of IoU by class (pooled): ' + ', '.join(
                f'{c} {v:.1f}' for c, v in
                list(stats['class_seed_std'].items())[:4])]
            if stats.get('class_seed_std') else [])


# ------------------------------------------------------ the ground truth
def run_name(name: str, seed: int) -> str:
    return f'{name}-s{seed}'


def run_hours(run: Dict[str, Any]) -> Tuple[float, float]:
    """(wall, CPU) hours of one kept run: its training (from the logs, all
    invocations) plus its test; CPU = wall x the run's threads."""
    wall = (run['train_s'] + run['test_s']) / 3600
    return wall, wall * run['threads']


def ground_truth(setting: Dict[str, Any], nets: List[Dict[str, Any]],
                 runs: Dict[str, Dict[str, Any]], seeds: Sequence[int],
                 pilot_names: Sequence[str],
                 stages: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """The record benchmarks/rank_correlation.py reads: the setting, every
    network whose seeds have all finished (spec, FLOPs, params, mIoU per
    seed and mean, source), and the hours per stage (``stages``: the kept
    results of the stages that are not trainings, with ``wall_s`` and
    ``threads``; ``pilot``/``train``: the pilot networks' runs / the
    others'). ``complete``: every network of ``nets`` is in."""
    networks = []
    for net in nets:
        found = {str(s): runs[run_name(net['name'], s)]['miou']
                 for s in seeds if run_name(net['name'], s) in runs}
        if len(found) == len(seeds):
            networks.append(dict(
                name=net['name'], spec=net['spec'], flops_G=net['flops_G'],
                params_M=net['params_M'], miou=found,
                mean=statistics.mean(found.values()), source=net['source']))
    wall = {k: v['wall_s'] / 3600 for k, v in stages.items()}
    cpu = {k: v['wall_s'] * v['threads'] / 3600 for k, v in stages.items()}
    for key in ('pilot', 'train'):
        wall[key] = cpu[key] = 0.0
    for name, run in runs.items():
        key = 'pilot' if name.rsplit('-s', 1)[0] in pilot_names else 'train'
        w, c = run_hours(run)
        wall[key] += w
        cpu[key] += c
    return dict(setting=setting, networks=networks, cpu_hours=cpu,
                wall_hours=wall, complete=len(networks) == len(nets),
                pending=[n['name'] for n in nets
                         if n['name'] not in {x['name'] for x in networks}])


def final_val_metrics(train_dir: str, epoch: int
                      ) -> Optional[Dict[str, Any]]:
    """The val metrics a ``tools/train.py`` run logged after epoch ``epoch``
    (mmengine's ``vis_data/scalars.json``, newest invocation first), with
    their file as ``metrics_file``; None when it logged none."""
    paths = sorted(glob.glob(osp.join(train_dir, '*', 'vis_data',
                                      'scalars.json')), key=osp.getmtime)
    for path in reversed(paths):
        with open(path) as f:
            found = [json.loads(line) for line in f if line.strip()]
        for record in reversed(found):
            if 'mIoU' in record and record.get('step') == epoch:
                return dict(record, metrics_file=path)
    return None


def kept_run(name: str, seed: int, miou: float, train_s: Optional[float],
             test_s: float, threads: int, device: str,
             **extra: Any) -> Dict[str, Any]:
    """What a run's marker keeps."""
    return dict(name=name, seed=seed, miou=float(miou),
                train_s=float(train_s or 0.0), test_s=float(test_s),
                threads=threads, device=device, **extra)


def adopted_runs(path: str, setting: Dict[str, Any],
                 nets: List[Dict[str, Any]], seeds: Sequence[int]
                 ) -> Tuple[Dict[str, Dict[str, Any]], Dict[str, float]]:
    """The runs of an earlier ``ground_truth.json`` (``path``, e.g. the
    committed one, on a machine without the work dir that made it) as kept
    runs of this draw, and the hours its trainings took where they ran
    (``wall``, ``cpu``: its pilot, train and adopted hours).

    Refused (ValueError naming the file and the field): another proxy
    setting (any field of ``setting`` but :data:`ADOPT_FREE`), or a network
    that this draw (``nets``) lacks or holds with another spec. Only the
    seeds in ``seeds`` are taken; an adopted run keeps its mIoU and the file
    it came from, and no hours of its own."""
    try:
        with open(path) as f:
            truth = json.load(f)
    except (OSError, ValueError) as err:
        raise ValueError(f'--adopt {path}: cannot be read ({err})') from None
    old = truth.get('setting') if isinstance(truth, dict) else None
    nets_there = truth.get('networks') if isinstance(truth, dict) else None
    if not isinstance(old, dict) or not isinstance(nets_there, list) or any(
            not isinstance(n, dict) or not {'name', 'spec', 'miou'} <= set(n)
            for n in nets_there):
        raise ValueError(f'--adopt {path}: not a ground_truth.json of '
                         'benchmarks/rank_ground_truth.py (no setting or '
                         'networks)')
    differ = [k for k in setting
              if k not in ADOPT_FREE and old.get(k) != setting[k]]
    if differ:
        raise ValueError(
            f'--adopt {path}: trained in another setting: ' + '; '.join(
                f'{k} {old.get(k)!r} there, {setting[k]!r} here'
                for k in differ))
    mine = {n['name']: n for n in nets}
    runs = {}
    for net in truth['networks']:
        name = net['name']
        if name not in mine:
            raise ValueError(
                f'--adopt {path}: network {name} is not in this draw '
                f'({", ".join(mine)}); draw it with --num-archs/--searched')
        if mine[name]['spec'] != net['spec']:
            raise ValueError(
                f'--adopt {path}: network {name} is {net["spec"]} there, '
                f'{mine[name]["spec"]} in this draw')
        for seed in seeds:
            if str(seed) in net['miou']:
                runs[run_name(name, seed)] = kept_run(
                    name, seed, net['miou'][str(seed)], 0.0, 0.0,
                    old.get('threads', 1), old.get('device', 'cpu'),
                    adopted_from=path)
    keys = ('pilot', 'train', 'adopt')
    hours = {k: sum(truth.get(f'{k}_hours', {}).get(s, 0.0) for s in keys)
             for k in ('wall', 'cpu')}
    return runs, hours


def carried_class_seed_std(path: str, miou: Dict[str, Dict[str, float]]
                           ) -> Optional[Dict[str, float]]:
    """The per-class seed std of the pilot kept at ``path`` (a
    ``pilot.json``) when it holds these very runs (``miou``), else None: the
    pilot's per-class tables are in the logs of its runs, which an adopted
    run does not have."""
    if not osp.exists(path):
        return None
    with open(path) as f:
        kept = json.load(f)
    if kept.get('miou') != miou:
        return None
    return kept.get('class_seed_std')
