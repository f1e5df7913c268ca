"""Shared fixtures: tiny synthetic sets in every layout and the real CamVid copy."""
from pathlib import Path

import pytest

from attnas_mmseg.datasets.synthetic import generate

REAL_CAMVID = Path(__file__).resolve().parents[1].parent / 'shared/data/camvid'
TINY = dict(num_train=8, num_val=4, height=64, width=128, seed=0)


@pytest.fixture(scope='session', autouse=True)
def mmseg_scope() -> None:
    """Build config ``type`` names from MMSeg's registries, as its tools do."""
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)


@pytest.fixture(autouse=True)
def torch_threads():
    """torch's intra-op thread count as it was before each test: a test that
    sets it (the latency tools do) would otherwise change the kernels, and
    so the trajectories, of every test after it (the planted-noise search
    ranked the noise attention 14th of 28 after such a test, 19th alone)."""
    import torch
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _tiny(layout: str, factory: pytest.TempPathFactory) -> Path:
    return generate(layout, factory.mktemp(f'tiny_{layout}') / layout, **TINY)


@pytest.fixture(scope='session')
def tiny_cityscapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic Cityscapes layout: 8 train / 4 val images of 64x128."""
    return _tiny('cityscapes', tmp_path_factory)


@pytest.fixture(scope='session')
def tiny_camvid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic CamVid (SegNet) layout: 8 train / 4 val images of 64x128."""
    return _tiny('camvid', tmp_path_factory)


@pytest.fixture(scope='session')
def tiny_voc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic VOC2012 layout: 8 train / 4 val images of 64x128."""
    return _tiny('voc', tmp_path_factory)


@pytest.fixture(scope='session')
def real_camvid_root() -> Path:
    """The real CamVid (SegNet layout) shared next to the repository, read in place."""
    if not (REAL_CAMVID / 'trainannot').is_dir():
        pytest.skip(f'real CamVid not found at {REAL_CAMVID} '
                    '(SegNet layout: train/, trainannot/, val/, valannot/)')
    return REAL_CAMVID
