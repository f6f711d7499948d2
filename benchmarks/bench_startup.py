"""Start-up time of the ``calibrate`` command against Python's own start-up, in the same run.

Times (best wall time of ``--repeat`` runs, each a fresh process):

- ``calibrate --help``;
- ``calibrate agreement FOUR_ROWS.csv --json`` (a 4-row ratings file: the time is the imports,
  not the statistics);
- their peers: ``python -c pass`` (the interpreter alone), ``python -c "import numpy"`` (the
  one library every command needs) and ``python -c "import numpy, pandas"`` (what reading a
  ratings file needs: :mod:`calibrate.ratings` checks the rows with pandas and Arrow);
- with ``--before SRC``, the two commands again on another source tree (``PYTHONPATH=SRC``, e.g.
  ``git archive HEAD src | tar -x -C /tmp/before`` for ``/tmp/before/src``), measured in the same
  run, interleaved with the others, so that "before" and "now" share the machine's load;

and, with ``--imports``, the slowest imports of the agreement command by ``python -X importtime``
(cumulative microseconds), to show where the time goes.

Run: ``python benchmarks/bench_startup.py [--repeat 7] [--imports] [--before SRC]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FOUR_ROWS = "submission,assessor,criterion,score\ns1,a,c,1\ns1,b,c,2\ns2,a,c,3\ns2,b,c,3\n"


Case = tuple[list[str], dict[str, str] | None]  # command, environment (None: this one)


def walls(cases: dict[str, Case], cwd: Path, repeat: int) -> dict[str, float]:
    """Best wall time (s) of ``repeat`` runs of each case as a fresh process, the cases taking
    turns (one run of each per round) so that a change of load touches them all alike."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, (cmd, env) in cases.items():
            start = time.perf_counter()
            subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def slowest_imports(cmd: list[str], cwd: Path, n: int = 12) -> list[tuple[int, str]]:
    """The ``n`` top-level imports of ``cmd`` with the largest cumulative time (us)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", *cmd[1:]], cwd=cwd, capture_output=True, text=True
    )
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        if name.startswith(" ") and not name.startswith("  "):  # imported by __main__ itself
            continue
        rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--imports", action="store_true", help="show the slowest imports")
    parser.add_argument(
        "--before", type=Path, metavar="SRC", help="also time the commands with PYTHONPATH=SRC"
    )
    args = parser.parse_args()
    python = sys.executable
    calibrate = [python, "-m", "calibrate"]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        (cwd / "four.csv").write_text(FOUR_ROWS)
        commands = {
            "calibrate --help": [*calibrate, "--help"],
            "calibrate agreement four.csv --json": [*calibrate, "agreement", "four.csv", "--json"],
        }
        cases: dict[str, Case] = {
            "python -c pass": ([python, "-c", "pass"], None),
            'python -c "import numpy"': ([python, "-c", "import numpy"], None),
            'python -c "import numpy, pandas"': ([python, "-c", "import numpy, pandas"], None),
            **{name: (cmd, None) for name, cmd in commands.items()},
        }
        if args.before is not None:
            env = {**os.environ, "PYTHONPATH": str(args.before.resolve())}
            cases.update({f"{name} (before)": (cmd, env) for name, cmd in commands.items()})
        times = walls(cases, cwd, args.repeat)
        base = times["python -c pass"]
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, best of {args.repeat}")
        print(f"load average {os.getloadavg()[0]:.1f}\n")
        print("| command | wall time (s) | x python -c pass | x import numpy |")
        print("| --- | ---: | ---: | ---: |")
        for name, t in times.items():
            numpy = times['python -c "import numpy"']
            print(f"| `{name}` | {t:.2f} | {t / base:.1f} | {t / numpy:.1f} |")
        if args.imports:
            print("\nslowest imports of `calibrate agreement four.csv --json` (cumulative ms):")
            for us, name in slowest_imports(commands["calibrate agreement four.csv --json"], cwd):
                print(f"  {us / 1000:8.0f}  {name}")


if __name__ == "__main__":
    main()
