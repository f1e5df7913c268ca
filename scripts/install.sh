#!/usr/bin/env bash
# Install attnas_mmseg and its pinned dependencies into the current Python (CPU build).
#
# Idempotent: every step first checks whether it is already satisfied and is skipped if so,
# so CI (`bash .ci/run`) can call it on every run. Set ATTNAS_SKIP_INSTALL=1 to skip it all.
#
# Order matters:
#   1. torch==2.13.0 (CPU). pip's `torch` on PyPI is the multi-GB CUDA build, so the version is
#      always pinned; set TORCH_INDEX_URL (e.g. https://download.pytorch.org/whl/cpu) on a
#      machine whose pip configuration does not already provide the CPU wheel.
#   2. setuptools<70, wheel, ninja. AFTER torch: torch declares setuptools>=77 and pip would
#      upgrade it again; pip's resulting conflict warning is expected and harmless. mmcv
#      2.1.0's setup.py imports pkg_resources and needs the older setuptools.
#   3. mmengine, mmsegmentation and the other pure-Python requirements (requirements/*.txt
#      without torch and mmcv), so that mmcv's own dependency on mmengine is already met.
#   4. mmcv==2.1.0 built from source with its compiled ops (MMCV_WITH_OPS=1; ~15 min on 2
#      cores), against the torch installed in step 1, without build isolation.
#   5. This repository, editable, without dependencies.
#
# GPU users: install a CUDA torch and a CUDA mmcv instead of steps 1 and 4, then run this
# script, which keeps them (any torch 2.13.0 build and any mmcv 2.1.0 whose ops import
# count as satisfied):
#   pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu<XYZ>
#   pip install "setuptools<70" wheel ninja
#   FORCE_CUDA=1 MMCV_WITH_OPS=1 pip install --no-build-isolation mmcv==2.1.0
# OpenMMLab's prebuilt mmcv wheels (e.g. -f
# https://download.openmmlab.com/mmcv/dist/cu121/torch2.1.0/index.html) exist only for older
# torch releases, not for torch 2.13; with torch 2.13, build mmcv from source as above.
# docs/install.md has the details.
set -euo pipefail

if [[ "${ATTNAS_SKIP_INSTALL:-0}" == "1" ]]; then
    echo "[install] ATTNAS_SKIP_INSTALL=1: skipping installation"
    exit 0
fi

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
PIP=("$PYTHON" -m pip)

TORCH_SPEC="torch==2.13.0"
MMCV_SPEC="mmcv==2.1.0"
BUILD_SPECS=("setuptools<70" "wheel" "ninja")

log() { echo "[install] $*"; }

# True when every requirement given (PEP 508 strings) is installed in a matching version.
# Local version labels are ignored, so torch 2.13.0+cpu and 2.13.0+cu128 both satisfy
# torch==2.13.0.
satisfied() {
    "$PYTHON" - "$@" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

try:
    from packaging.requirements import Requirement
except ImportError:  # a bare Python: pip always vendors packaging
    from pip._vendor.packaging.requirements import Requirement

for spec in sys.argv[1:]:
    req = Requirement(spec)
    try:
        installed = version(req.name)
    except PackageNotFoundError:
        sys.exit(1)
    if not req.specifier.contains(installed, prereleases=True):
        sys.exit(1)
PY
}

mmcv_ops_ok() {
    satisfied "$MMCV_SPEC" && "$PYTHON" -c "import torch, mmcv, mmcv._ext" >/dev/null 2>&1
}

cd "$REPO_ROOT"

# 1. torch
if satisfied "$TORCH_SPEC"; then
    log "$TORCH_SPEC already installed"
else
    log "installing $TORCH_SPEC"
    if [[ -n "${TORCH_INDEX_URL:-}" ]]; then
        "${PIP[@]}" install "$TORCH_SPEC" --index-url "$TORCH_INDEX_URL"
    else
        "${PIP[@]}" install "$TORCH_SPEC"
    fi
fi

# 2. build tools
if satisfied "${BUILD_SPECS[@]}"; then
    log "build tools already installed: ${BUILD_SPECS[*]}"
else
    log "installing build tools: ${BUILD_SPECS[*]} (a conflict warning about torch's setuptools>=77 is expected)"
    "${PIP[@]}" install "${BUILD_SPECS[@]}"
fi

# 3. pure-Python requirements (everything but torch and mmcv)
mapfile -t REST_SPECS < <(grep -hvE '^[[:space:]]*(#|$|torch|mmcv)' \
    requirements/runtime.txt requirements/optional.txt requirements/tests.txt)
if satisfied "${REST_SPECS[@]}"; then
    log "requirements already installed: ${REST_SPECS[*]}"
else
    log "installing requirements: ${REST_SPECS[*]}"
    "${PIP[@]}" install "${REST_SPECS[@]}"
fi

# 4. mmcv with compiled ops
export MAX_JOBS="${MAX_JOBS:-2}" MMCV_WITH_OPS=1
if mmcv_ops_ok; then
    log "$MMCV_SPEC with compiled ops already installed"
else
    log "building $MMCV_SPEC from source with ops (MAX_JOBS=$MAX_JOBS; takes ~15 min on 2 cores)"
    "${PIP[@]}" install --no-build-isolation "$MMCV_SPEC"
    if ! mmcv_ops_ok; then
        # An installed or cached mmcv built against another torch: rebuild it from scratch.
        log "mmcv._ext does not import; rebuilding $MMCV_SPEC without pip's cache"
        "${PIP[@]}" install --no-build-isolation --no-cache-dir --force-reinstall --no-deps "$MMCV_SPEC"
        mmcv_ops_ok || { log "ERROR: mmcv._ext still does not import"; exit 1; }
    fi
fi

# 5. this repository, editable
installed_at="$(cd / && "$PYTHON" -c "import importlib.util as u; s = u.find_spec('attnas_mmseg'); print(s.origin if s else '')")"
if [[ "$installed_at" == "$REPO_ROOT/attnas_mmseg/__init__.py" ]]; then
    log "attnas_mmseg already installed from $REPO_ROOT"
else
    log "installing attnas_mmseg (editable) from $REPO_ROOT"
    "${PIP[@]}" install --no-build-isolation --no-deps -e "$REPO_ROOT"
fi

log "done"
