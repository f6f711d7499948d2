# Sourced by scripts/demo and scripts/test: make .venv (once) and install calibrate into it.
# Usage: [VENV_EXTRA=test] . scripts/_venv.sh   (VENV_EXTRA: a pip extra to install as well)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || {
    echo "error: could not create a virtual environment; on Debian: apt-get install python3-venv" >&2
    exit 1
  }
fi
extra=${VENV_EXTRA:-}
spec="."
[ -n "$extra" ] && spec=".[$extra]"
stamp=".venv/.installed-$(sha256sum < pyproject.toml | cut -c1-16)-${extra:-base}"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e "$spec"
  touch "$stamp"
fi
