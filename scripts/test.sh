#!/usr/bin/env bash
# One command: set everything up, then run the whole test suite (lint, import contracts, tests).
# Usage: bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
export WORKBENCH_RECOVERY_DIR="${WORKBENCH_RECOVERY_DIR:-$(mktemp -d)}"
echo "==> ruff"
.venv/bin/ruff check .
echo "==> import contracts"
.venv/bin/lint-imports
echo "==> mypy (engines and the headless workbench)"
.venv/bin/mypy
echo "==> pytest"
set +e
if command -v xvfb-run >/dev/null 2>&1; then
  xvfb-run -a .venv/bin/python -m pytest "$@"
else
  .venv/bin/python -m pytest "$@"
fi
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
