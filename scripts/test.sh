#!/usr/bin/env bash
# Install (idempotent; ATTNAS_SKIP_INSTALL=1 skips it) and run the test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k checkpoint -x`.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

bash scripts/install.sh
python -m pytest tests -q "$@"
