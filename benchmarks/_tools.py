"""The project's tools as the bodies of experiment stages
(benchmarks/_stages.py): a search, its derivation, a retrain with its test,
and what their runs leave behind (wall time, test metrics)."""
import datetime
import glob
import json
import os.path as osp
import re
import sys
from typing import Any, Dict, List, Optional

from _stages import REPO, StageRunner, train


def hook_option(config: str, key: str, value: Any,
                hook_type: str = 'ArchUpdateHook') -> str:
    """The ``--cfg-options`` pair setting ``key`` of ``config``'s
    ``hook_type`` in ``custom_hooks``."""
    from mmengine.config import Config
    hooks = Config.fromfile(osp.join(REPO, config)).get('custom_hooks', [])
    for i, hook in enumerate(hooks):
        if hook.get('type') == hook_type:
            return f'custom_hooks.{i}.{key}={value}'
    raise ValueError(f'search-config: {config} has no {hook_type} in '
                     'custom_hooks')


def mode_options(config: str, mode: str, epochs: Optional[int] = None,
                 warmup: Optional[int] = None) -> List[str]:
    """The ``--cfg-options`` that run search ``config`` in ``mode`` for
    ``epochs`` epochs (None: the config's), ``warmup`` of them weights only
    (None: the config's): a mode with an arch step gets its
    ``search_mode`` and the schedule of ``search_schedule_options``; a mode
    without one (``'uniform'``, which has a config of its own) one plain
    schedule; every mode but darts ``find_unused_parameters`` (the
    candidates a step did not sample get no gradient)."""
    from attnas_mmseg.search.space.search_modes import NO_ARCH_STEP_MODES
    from attnas_mmseg.utils.search_schedule import search_schedule_options
    uniform = mode in NO_ARCH_STEP_MODES
    opts: List[str] = []
    if epochs is not None and uniform:
        opts += [f'train_cfg.max_epochs={epochs}',
                 f'param_scheduler.0.end={epochs}']
    elif epochs is not None:
        opts += search_schedule_options(osp.join(REPO, config), epochs,
                                        warmup)
    if not uniform:
        opts += [f'model.backbone.search_mode={mode}',
                 f'model.decode_head.search_mode={mode}']
    if mode != 'darts':
        opts.append('find_unused_parameters=True')
    return opts


def train_minutes(work_dir: str) -> Optional[float]:
    """Wall time of a ``tools/train.py`` run from its mmengine logs: first
    to last time stamp of each ``<timestamp>/<timestamp>.log``, summed over
    the invocations of a resumed run (the time between them does not count);
    None when there is no log."""
    stamp = re.compile(r'^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) - mmengine')
    total = 0.0
    logs = glob.glob(osp.join(work_dir, '*', '*.log'))
    for path in logs:
        with open(path) as f:
            times = [m.group(1) for m in map(stamp.match, f) if m]
        if len(times) > 1:
            first, last = (datetime.datetime.strptime(t, '%Y/%m/%d %H:%M:%S')
                           for t in (times[0], times[-1]))
            total += (last - first).total_seconds()
    return total / 60 if logs else None


def read_test_metrics(work_dir: str) -> Dict[str, Any]:
    """The metrics a ``tools/test.py`` run in ``work_dir`` dumped as json in
    its timestamped dir (the newest), with their file as ``metrics_file``."""
    paths = sorted(glob.glob(osp.join(work_dir, '*', '*.json')),
                   key=osp.getmtime)
    if not paths:
        raise RuntimeError(f'no metrics json under {work_dir}')
    with open(paths[-1]) as f:
        return dict(json.load(f), metrics_file=paths[-1])


def search(st: StageRunner, config: str, work_dir: str, options: List[str],
           epochs: int) -> Dict[str, Any]:
    """A ``tools/train.py`` search of ``epochs`` epochs (resumed when
    interrupted): its final checkpoint, arch histories (oldest first) and
    wall time in minutes."""
    ckpt = train(st, config, work_dir, options, epochs)
    history = sorted(glob.glob(osp.join(work_dir, '*', 'arch_history.jsonl')),
                     key=osp.getmtime)
    return dict(checkpoint=ckpt, history=history,
                minutes=train_minutes(work_dir))


def derive(st: StageRunner, config: str, checkpoint: str,
           out_dir: str) -> Dict[str, Any]:
    """``tools/derive_arch.py``: the derived network's code, arch file and
    retrain config."""
    from attnas_mmseg.search import ArchSpec
    st.run([sys.executable, 'tools/derive_arch.py', config, checkpoint,
            '--out-dir', out_dir, '--overwrite'])
    arch_file = osp.join(out_dir, 'arch.json')
    return dict(arch=str(ArchSpec.load(arch_file)), arch_file=arch_file,
                retrain_config=osp.join(out_dir, 'retrain.py'))


def evolve(st: StageRunner, config: str, checkpoint: str, out_dir: str,
           options: List[str]) -> Dict[str, Any]:
    """``tools/search_subnet.py`` (evolution on inherited weights; resumes
    when rerun): the pick's code, arch file and retrain config."""
    from attnas_mmseg.search import ArchSpec
    st.run([sys.executable, 'tools/search_subnet.py', config, checkpoint,
            '--work-dir', out_dir, *options])
    arch_file = osp.join(out_dir, 'arch.json')
    return dict(arch=str(ArchSpec.load(arch_file)), arch_file=arch_file,
                retrain_config=osp.join(out_dir, 'retrain.py'))


def retrain_and_test(st: StageRunner, config: str, work_dir: str,
                     options: List[str], epochs: int) -> Dict[str, Any]:
    """``tools/train.py`` (in ``work_dir/train``, resumed when interrupted)
    then ``tools/test.py`` (in ``work_dir/test``), both with ``options``:
    the final checkpoint and the test metrics."""
    ckpt = train(st, config, osp.join(work_dir, 'train'), options, epochs)
    test_dir = osp.join(work_dir, 'test')
    st.run([sys.executable, 'tools/test.py', config, ckpt, '--work-dir',
            test_dir, '--cfg-options', *options])
    return dict(checkpoint=ckpt, metrics=read_test_metrics(test_dir))
