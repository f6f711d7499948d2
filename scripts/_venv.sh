# Sourced by scripts/demo and scripts/test: make .venv (once) and install calibrate into it,
# saying what it does, one line per step (a first install downloads packages for a minute or two).
# Usage: [VENV_EXTRA=test] . scripts/_venv.sh   (VENV_EXTRA: a pip extra to install as well)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
step() { echo "==> $*" >&2; }
if [ ! -x .venv/bin/python ]; then
  step "creating the virtual environment .venv ($("$PY" --version 2>&1))"
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
  step "upgrading pip"
  .venv/bin/python -m pip install --quiet --upgrade pip
  step "installing calibrate${extra:+ with its $extra tools} and its dependencies into .venv" \
    "(the first time: a minute or two)"
  .venv/bin/python -m pip install --progress-bar on -e "$spec"
  touch "$stamp"
  step "installed"
else
  step ".venv is up to date"
fi
