"""The planted-signal tasks' data (issue 16)."""
import json

import numpy as np
import pytest

from attnas_mmseg.datasets.planted import (CUE_COLOURS, MAJORITY_MARGIN,
                                           NEEDED_LABELS, draw_needed,
                                           generate_planted)
from attnas_mmseg.datasets.synthetic import IGNORE, generate


@pytest.mark.parametrize('index', range(12))
def test_needed_labels_follow_the_majority_colour(index):
    rng = np.random.default_rng([7, 0, index])
    img, label, majority = draw_needed(rng, 64, 128)
    size = round(64 / 16)
    counts = {c: int(np.all(img == rgb, axis=-1).sum()) // size**2
              for c, rgb in CUE_COLOURS.items()}
    minority = 'blue' if majority == 'red' else 'red'
    assert counts[majority] - counts[minority] == MAJORITY_MARGIN
    ids = set(np.unique(label).tolist()) - {IGNORE}
    assert ids and ids <= set(NEEDED_LABELS[majority])
    # the squares' pixels are ignored
    square = np.any([np.all(img == rgb, axis=-1)
                     for rgb in CUE_COLOURS.values()], axis=0)
    assert (label[square] == IGNORE).all()


def test_both_majorities_occur_and_label_sets_are_disjoint():
    majorities = {draw_needed(np.random.default_rng([0, 0, i]), 64, 128)[2]
                  for i in range(20)}
    assert majorities == {'red', 'blue'}
    assert not set(NEEDED_LABELS['red']) & set(NEEDED_LABELS['blue'])


def test_generation_is_seeded_and_in_the_cityscapes_layout(tmp_path):
    a = generate_planted('needed', tmp_path / 'a', 4, 2, seed=3)
    b = generate_planted('needed', tmp_path / 'b', 4, 2, seed=3)
    files = sorted(p.relative_to(a) for p in a.rglob('*.png'))
    assert len(files) == 12   # 6 images + 6 label maps
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert any('leftImg8bit/val/' in str(f) for f in files)
    manifest = json.loads((a / 'manifest.json').read_text())
    assert manifest['task'] == 'needed' and manifest['needed_attention'] == 13
    with pytest.raises(FileExistsError, match='seed'):
        generate_planted('needed', a, 4, 2, seed=4)


def test_harmful_is_the_demo_data(tmp_path):
    ours = generate_planted('harmful', tmp_path / 'h', 3, 1, seed=5)
    demo = generate('cityscapes', tmp_path / 'd', 3, 1, 64, 128, 5)
    assert sorted(p.read_bytes() for p in ours.rglob('*.png')) == \
        sorted(p.read_bytes() for p in demo.rglob('*.png'))


def test_bad_task():
    with pytest.raises(ValueError, match='task must be one of'):
        generate_planted('easy', '/nonexistent')


@pytest.mark.parametrize('index', range(6))
def test_needed_scene_is_plain_from_each_pixel(index):
    # the cue is the task's only difficulty: a pixel's grey level alone
    # tells shape from ground (version 2 of the task, module doc)
    img, label, majority = draw_needed(np.random.default_rng([3, 1, index]),
                                       64, 128)
    ground, shape = NEEDED_LABELS[majority]
    grey = img.mean(-1)
    assert (label == shape).any() and (label == ground).any()
    assert grey[label == shape].min() > grey[label == ground].max()
