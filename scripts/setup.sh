#!/usr/bin/env bash
# Create .venv and install Reel into it. Usage: scripts/setup.sh [--test]
#   (no flag)  the SDK, the host and the shipped plugins: what `reel up` needs
#   --test     also the test tooling and the test plugin under tests/fixtures
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${REEL_VENV:-.venv}
PY=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip setuptools wheel
# torch first, pinned: 2.13.0 is the CPU build on this machine's disk; any other
# request would download a multi-GB CUDA build. A GPU machine may preinstall its own.
if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
  "${PIP[@]}" install torch==2.13.0
fi
"${PIP[@]}" install -e ./sdk -e ./host
for plugin in plugins/*/; do
  [ -f "$plugin/pyproject.toml" ] && "${PIP[@]}" install -e "$plugin"
done
if [ "${1:-}" = "--test" ]; then
  "${PIP[@]}" install -r requirements-test.txt
  for fixture in tests/fixtures/plugins/*/; do
    [ -f "$fixture/pyproject.toml" ] && "${PIP[@]}" install "$fixture"
  done
fi
# The web console: built from its committed lockfile into the reel-host package (served at /).
if command -v npm >/dev/null 2>&1; then
  (
    cd host/console
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      npm ci --no-audit --no-fund --loglevel=error
    fi
    npm run build --silent
  )
else
  echo "warning: npm not found; the console is not built (the API works; / says how to build it)" >&2
fi
if [ "${1:-}" = "--test" ] && [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  # the console's end-to-end tests drive Debian's Chromium (never a downloaded browser build)
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "reel installed in $VENV"
