#!/usr/bin/env bash
# One command: set everything up, then open the workbench window on the built-in demo project.
# With no display, it opens under Xvfb when available (or set QT_QPA_PLATFORM=offscreen).
# Usage: bash scripts/run.sh [extra workbench arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ] \
   && command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a .venv/bin/workbench --demo "$@"
fi
exec .venv/bin/workbench --demo "$@"
