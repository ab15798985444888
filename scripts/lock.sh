#!/usr/bin/env bash
# Regenerate the hash-checked locks scripts/setup.sh installs from:
#   requirements/lock.txt       every third-party dependency of the SDK, the host and the shipped plugins
#   requirements/lock-test.txt  the test tooling (requirements-test.txt), within lock.txt
# Usage: scripts/lock.sh [--upgrade | --upgrade-package NAME ...]   (pip-tools' options)
# Without --upgrade the versions already locked are kept and only what changed is resolved.
# torch is left out on purpose: setup.sh installs the build the machine has (CPU 2.13.0 on
# this disk, or a CUDA build a GPU image preinstalls); its own dependencies are locked.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -m pip show pip-tools >/dev/null 2>&1 || "$PY" -m pip install -q "pip-tools>=7.4"
COMMON=(--quiet --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links
        --unsafe-package torch --unsafe-package pip --unsafe-package setuptools "$@")
"$PY" -m piptools compile "${COMMON[@]}" -o requirements/lock.txt requirements/lock.in
# the Reel distributions come from this checkout (editable installs), not from the lock
"$PY" - requirements/lock.txt <<'PYEOF'
import re, sys
path = sys.argv[1]
out, skip = [], False
for line in open(path).read().splitlines():
    if re.match(r"^reel-[a-z]+ @ file:", line):
        skip = True
        continue
    if skip and line.startswith("    #"):
        continue
    skip = False
    if line.startswith(("# WARNING: pip install will require", "# Consider using a hashable URL")):
        continue
    out.append(line)
open(path, "w").write("\n".join(out) + "\n")
PYEOF
"$PY" -m piptools compile "${COMMON[@]}" -o requirements/lock-test.txt requirements/lock-test.in
echo "locked: requirements/lock.txt requirements/lock-test.txt"
