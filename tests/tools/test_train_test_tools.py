"""tools/train.py then tools/test.py on the AttNAS-S alias config, end to end.

The real config (configs/attnas_s_cityscapes.py) runs in subprocesses with
command-line overrides only: tiny synthetic Cityscapes, 64x128 crops, one
epoch of batch 2, no workers, BN instead of SyncBN (one CPU process).
Without data, or with a head that does not fit the dataset, both tools stop
before the Runner with one line naming the culprit.
"""
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
CONFIG = 'configs/attnas_s_cityscapes.py'
TINY_SCALE, TINY_CROP = '(128,64)', '(64,128)'  # (w, h) for Resize, (h, w)


def step_index(pipeline: list, type_name: str) -> int:
    return next(i for i, step in enumerate(pipeline)
                if step['type'] == type_name)


def tiny_options(data_root: Path) -> List[str]:
    cfg = Config.fromfile(REPO / CONFIG)
    train = cfg.train_dataloader.dataset.pipeline
    resize = step_index(train, 'RandomResize')
    crop = step_index(train, 'RandomCrop')
    options = [
        'train_dataloader.batch_size=2',
        f'train_dataloader.dataset.data_root={data_root}',
        f'train_dataloader.dataset.pipeline.{resize}.scale={TINY_SCALE}',
        f'train_dataloader.dataset.pipeline.{crop}.crop_size={TINY_CROP}',
        f'model.data_preprocessor.size={TINY_CROP}',
        'model.backbone.norm_cfg.type=BN',
        'model.decode_head.norm_cfg.type=BN',
        'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1',
        'default_hooks.logger.interval=1',
    ]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
    for loader in ('val_dataloader', 'test_dataloader'):
        pipeline = cfg[loader].dataset.pipeline
        options += [
            f'{loader}.dataset.data_root={data_root}',
            f'{loader}.dataset.pipeline.{step_index(pipeline, "Resize")}'
            f'.scale={TINY_SCALE}'
        ]
    return options


def miou(output: str, mode: str) -> float:
    """The mIoU mmengine logs at the end of a val / test loop."""
    found = re.findall(rf'Epoch\({mode}\).*mIoU: ([0-9.]+)', output)
    assert found, f'no {mode} mIoU in the output'
    return float(found[-1])


def run(args: List[str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    # one thread: on a shared machine OpenMP barriers stall tiny convs
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_train_then_test(tiny_cityscapes: Path, tmp_path: Path):
    options = tiny_options(tiny_cityscapes)
    work_dir = tmp_path / 'train'
    train = run(['tools/train.py', CONFIG, '--work-dir', str(work_dir),
                 '--cfg-options', *options])
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]
    checkpoint = (work_dir / 'last_checkpoint').read_text().strip()
    assert Path(checkpoint).name == 'epoch_1.pth'
    assert Path(checkpoint).is_file()
    val_miou = miou(train.stdout + train.stderr, 'val')

    test = run(['tools/test.py', CONFIG, checkpoint, '--work-dir',
                str(tmp_path / 'test'), '--cfg-options', *options])
    output = test.stdout + test.stderr
    assert test.returncode == 0, output[-3000:]
    assert 'mIoU' in output
    # the test split is the val split here: the saved and reloaded weights
    # must score what the same weights scored at the end of training
    assert miou(output, 'test') == val_miou


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The tool failed with one line on stderr and no traceback."""
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert 'Traceback' not in proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_without_data_one_line_says_what_to_do(tool: str, tmp_path: Path):
    """The README's first command, run where there is no data/cityscapes."""
    args = [str(REPO / f'tools/{tool}.py'), str(REPO / CONFIG)]
    if tool == 'test':
        args.append(str(tmp_path / 'epoch_200.pth'))
    line = one_line_error(run(args, cwd=tmp_path))
    loader = 'train_dataloader' if tool == 'train' else 'test_dataloader'
    assert line.startswith(f'{tool}.py: error: dataset CityscapesDataset '
                           f'({loader}.dataset): no folder')
    for part in (str(tmp_path / 'data/cityscapes'),  # the path looked at
                 'leftImg8bit/{train,val}/<city>/*_leftImg8bit.png',  # layout
                 'dataset_converters/cityscapes.py',  # how to prepare it
                 '`bash scripts/demo.sh` runs the whole pipeline without it'):
        assert part in line


def test_num_classes_mismatch_is_one_line_before_the_runner(tmp_path: Path):
    line = one_line_error(run(
        [str(REPO / 'tools/train.py'), str(REPO / CONFIG), '--cfg-options',
         'model.decode_head.num_classes=11'], cwd=tmp_path))
    assert 'model.decode_head.num_classes=11 but CityscapesDataset ' \
        '(train_dataloader.dataset) has 19 classes' in line
    assert not (tmp_path / 'work_dirs').exists()  # the Runner never started
