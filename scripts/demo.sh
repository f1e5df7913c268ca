#!/usr/bin/env bash
# Install (idempotent; ATTNAS_SKIP_INSTALL=1 skips it) and run the demo; arguments go to
# tools/demo.py. Re-running replaces the previous demo's work_dirs/demo (the quick start is
# meant to be run again); tools/demo.py alone refuses to replace a work dir.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

bash scripts/install.sh
python tools/demo.py --overwrite "$@"
