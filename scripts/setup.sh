#!/usr/bin/env bash
# Sets up everything Model Workbench needs, idempotently:
#  - the system libraries Qt needs (and Xvfb), when running as root on a Debian/Ubuntu machine
#  - a virtual environment in .venv with the pinned Python packages and the project itself
# Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
APT_PACKAGES="libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 \
libxcb-render-util0 libxcb-image0 xvfb xauth"

need_apt=0
for p in $APT_PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || { need_apt=1; break; }
done
if [ "$need_apt" = 1 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> Installing system libraries for Qt (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $APT_PACKAGES >/dev/null
  else
    echo "==> Note: some Qt system libraries may be missing; install them with:" >&2
    echo "    sudo apt-get install -y $APT_PACKAGES" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> Creating .venv"
  "$PYTHON" -m venv .venv
fi
echo "==> Installing Python packages (torch pinned by constraints.txt)"
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]" 2>&1 \
  | grep -vE "^WARNING: Location .* is ignored" || true
.venv/bin/python -c "import torch, PySide6, pyqtgraph, captum, fairlearn, safetensors" \
  || { echo "setup failed: the Python packages did not install" >&2; exit 1; }
echo "==> Ready: .venv/bin/workbench"
