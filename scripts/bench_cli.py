"""Benchmark: start-up of the `roadmap` command line, whole process (target: `roadmap --help` under 0.5 s).

Runs each command line several times as a new process (the installed console script,
``.venv/bin/roadmap``) and reports the median wall time, with the interpreter starting and
exiting (``python -c pass``) as the baseline measured in the same run, and the ratio to it.
``db status`` on a fresh SQLite file shows what a command that opens the database costs.

    .venv/bin/python scripts/bench_cli.py [--runs 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 0.5


def roadmap_executable() -> str:
    installed = Path(sys.executable).with_name("roadmap")
    return str(installed) if installed.exists() else "roadmap"


def median_seconds(command: list[str], runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (the median is reported)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    roadmap = roadmap_executable()
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{folder}/bench.db"
        subprocess.run([roadmap, "db", "upgrade", "--database-url", database], check=True, capture_output=True)
        commands = {
            "python -c pass (baseline)": [sys.executable, "-c", "pass"],
            "roadmap --help": [roadmap, "--help"],
            "roadmap responses import --help": [roadmap, "responses", "import", "--help"],
            "roadmap db status": [roadmap, "db", "status", "--database-url", database],
        }
        seconds = {label: median_seconds(command, args.runs) for label, command in commands.items()}
    baseline = seconds["python -c pass (baseline)"]
    rows = [{"command": label, "median_s": round(value, 3), "ratio_to_baseline": round(value / baseline, 1)}
            for label, value in seconds.items()]
    help_seconds = seconds["roadmap --help"]
    result = {"runs_per_command": args.runs, "target_help_s": TARGET_SECONDS, "help_meets_target": help_seconds < TARGET_SECONDS,
              "commands": rows}
    if args.json:
        print(json.dumps(result))
    else:
        for row in rows:
            print(f"{row['command']:<36} {row['median_s']:.3f} s  ({row['ratio_to_baseline']}x python start-up)")
        print(f"roadmap --help: {help_seconds:.3f} s (target under {TARGET_SECONDS} s): {'met' if help_seconds < TARGET_SECONDS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
