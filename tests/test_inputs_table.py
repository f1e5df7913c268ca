"""docs/inputs.md stays true: each checked row is run against the code."""
import io
import re
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import torch
from mmseg.registry import MODELS, TRANSFORMS
from PIL import Image

from attnas_mmseg.search import ArchSpec
from attnas_mmseg.export import (arch_params_from_checkpoint,
                                        export_derived)

from .search.test_derive import search_run  # noqa: F401  (fixture)

TABLE = Path(__file__).resolve().parents[1] / 'docs' / 'inputs.md'
COLUMNS = ['#', 'Input', 'Now', 'Message / result', 'Checked']
OUTCOMES = {'returns': None, 'ValueError': ValueError,
            'TypeError': TypeError}


def code(cell: str) -> str:
    """The text of a cell that is one code span."""
    match = re.fullmatch(r'`(.*)`', cell)
    assert match, f'expected a `code` cell, got {cell!r}'
    return match.group(1)


def read_rows() -> List[Dict[str, str]]:
    rows = []
    for line in TABLE.read_text(encoding='utf-8').splitlines():
        if not line.startswith('| ') or line.startswith(('| #', '|---')):
            continue
        cells = [c.strip() for c in line.strip().strip('|').split(' | ')]
        assert len(cells) == len(COLUMNS), line
        rows.append(dict(zip(COLUMNS, cells)))
    return rows


ROWS = read_rows()
CHECKED = [row for row in ROWS if row['Checked'] == 'yes']


def test_table_is_well_formed():
    assert [int(row['#']) for row in ROWS] == list(range(1, len(ROWS) + 1))
    assert len(CHECKED) >= 30
    for row in ROWS:
        assert row['Checked'] == 'yes' or row['Checked'].startswith('no ('), row
    for row in CHECKED:
        assert row['Now'] in OUTCOMES, row


class Foreign:
    """A class torch's weights_only loader does not know."""


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    rgb = np.random.RandomState(0).randint(0, 256, (24, 32, 3), np.uint8)
    Image.fromarray(rgb).save(buffer, format='PNG')
    return buffer.getvalue()


@pytest.fixture
def names(tmp_path, search_run, monkeypatch):  # noqa: F811
    """What the table's expressions may use (docs/inputs.md, top)."""
    from ._builders import NORM
    cfg, ckpt = search_run
    monkeypatch.chdir(tmp_path)  # relative paths in the table: nothing here

    def head(arch, **kwargs):
        return MODELS.build(dict(dict(
            type='AttNASHead', arch=arch, in_channels=16, channels=16,
            num_classes=3, norm_cfg=NORM), **kwargs))

    def backbone(arch, **kwargs):
        return MODELS.build(dict(type='SearchableMobileNetV2', arch=arch,
                                 **kwargs))

    def checkpoint(content):
        path = tmp_path / 'search.pth'
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            torch.save(content, path)
        return arch_params_from_checkpoint(str(path))

    def derive(topk):
        return export_derived(str(cfg), str(ckpt), str(tmp_path / 'out'),
                              topk=topk)

    def user_file_after_derive(name, text):
        out = tmp_path / 'derived'
        out.mkdir()
        (out / name).write_text(text)
        export_derived(str(cfg), str(ckpt), str(out))
        return (out / name).read_text()

    def load(kind, content):
        path = tmp_path / 'frame.png'
        path.write_bytes(content)
        return TRANSFORMS.build(dict(type=kind))(dict(
            img_path=str(path), seg_map_path=str(path), seg_fields=[],
            reduce_zero_label=False))

    good = ckpt.read_bytes()
    return dict(
        ArchSpec=ArchSpec, torch=torch, head=head, backbone=backbone,
        checkpoint=checkpoint, derive=derive,
        arch_params_from_checkpoint=arch_params_from_checkpoint,
        user_file_after_derive=user_file_after_derive,
        load_image=lambda c: load('LoadImageFromFile', c),
        load_labels=lambda c: load('LoadAnnotations', c),
        TRUNCATED_PNG=png_bytes()[:len(png_bytes()) // 2],
        TRUNCATED_CHECKPOINT=good[:len(good) // 2], Foreign=Foreign)


@pytest.mark.parametrize('row', CHECKED, ids=[r['#'] for r in CHECKED])
def test_row_matches_the_code(row, names):
    expression = code(row['Input'])
    expected = code(row['Message / result'])
    if row['Now'] == 'returns':
        assert str(eval(expression, names)) == expected
        return
    with pytest.raises(OUTCOMES[row['Now']]) as err:
        eval(expression, names)
    assert type(err.value) is OUTCOMES[row['Now']]
    assert expected in str(err.value)
