"""Start-up time of the ``reel`` command against ``python -c pass``, same machine, same run.

    .venv/bin/python bench/cli_startup.py [--n 9]

Each command runs ``--n`` times in a fresh interpreter (wall clock, median). The
baseline rows are bare Python and the old eager start (every command module and the
host runtime imported before the command line is even parsed, what ``reel --help`` did
before the commands were loaded lazily). Then ``python -X importtime`` names what
``reel --help`` still imports, largest first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

PY = sys.executable
EAGER = ("import reel_host.cli.run, reel_host.cli.admin, reel_host.cli.callbacks, reel_host.cli.submit, "
         "reel_host.cli.plugins, reel_host.cli.doctor, reel_host.runtime, reel_host.services.tasks")
CASES = [
    ("python -c pass", [PY, "-c", "pass"]),
    ("old eager start (imports only)", [PY, "-c", EAGER]),
    ("reel --help", [PY, "-m", "reel_host.cli.main", "--help"]),
    ("reel plugins", [PY, "-m", "reel_host.cli.main", "plugins"]),
    ("reel submit --help", [PY, "-m", "reel_host.cli.main", "submit", "--help"]),
    ("reel projects --help", [PY, "-m", "reel_host.cli.main", "projects", "--help"]),
]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def top_imports(env: dict[str, str], count: int = 10) -> list[tuple[int, str]]:
    done = subprocess.run([PY, "-X", "importtime", "-m", "reel_host.cli.main", "--help"], env=env,
                          capture_output=True, text=True, check=True)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
            if not name.startswith(" ") and "." not in name.strip():
                rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=9)
    args = parser.parse_args()
    env = {**os.environ, "REEL_HOME": tempfile.mkdtemp(prefix="reel-bench-cli-")}
    medians = {}
    for label, cmd in CASES:
        timed(cmd, env)  # warm the file cache
        medians[label] = statistics.median(timed(cmd, env) for _ in range(args.n))
    base = medians["python -c pass"]
    print(f"{'command':<34} {'median':>9} {'/ python -c pass':>17}")
    for label, value in medians.items():
        print(f"{label:<34} {value * 1000:>7.0f}ms {value / base:>16.1f}x")
    print("\nreel --help: largest top-level imports (cumulative, python -X importtime)")
    for micros, name in top_imports(env):
        print(f"  {micros / 1000:>7.1f} ms  {name}")


if __name__ == "__main__":
    main()
