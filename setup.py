"""Install ``attnas_mmseg``.

``install_requires`` is ``requirements/runtime.txt`` without torch and mmcv: both come in
CPU and CUDA builds that must match each other (mmcv compiles its ops against the installed
torch), so ``pip install -e .`` must never pull a default torch or rebuild mmcv. Install them
first (``scripts/install.sh``, or ``docs/install.md`` for CUDA), then this package with
``pip install --no-build-isolation -e .``.
"""
import os.path as osp
import re
from typing import List

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))
# Built against a specific torch; installed separately (see the module docstring).
HEAVY_REQUIREMENTS = ('torch', 'mmcv')


def read_version() -> str:
    """``__version__`` from ``attnas_mmseg/__init__.py`` without importing the package."""
    with open(osp.join(HERE, 'attnas_mmseg', '__init__.py'), encoding='utf-8') as f:
        match = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", f.read(), re.MULTILINE)
    if match is None:
        raise RuntimeError('attnas_mmseg/__init__.py defines no __version__')
    return match.group(1)


def read_requirements(name: str, exclude: tuple = ()) -> List[str]:
    """Requirement lines of ``requirements/<name>.txt``, minus comments and ``exclude``."""
    requirements = []
    with open(osp.join(HERE, 'requirements', f'{name}.txt'), encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            package = re.split(r'[<>=!~\[; ]', line, maxsplit=1)[0]
            if package not in exclude:
                requirements.append(line)
    return requirements


setup(
    name='attnas_mmseg',
    version=read_version(),
    description='AttNAS: attention-aware neural architecture search for semantic '
    'segmentation, as an MMSegmentation 1.x extension',
    packages=find_packages(include=('attnas_mmseg', 'attnas_mmseg.*')),
    python_requires='>=3.8',
    install_requires=read_requirements('runtime', exclude=HEAVY_REQUIREMENTS),
    extras_require={
        'tests': read_requirements('tests'),
        'optional': read_requirements('optional'),
        'all': read_requirements('tests') + read_requirements('optional'),
    },
    license='Apache License 2.0',
    zip_safe=False,
)
