"""Benchmark: summarising a full workshop (60 participants x 200 items x 3 rounds) by each rule.

Usage: .venv/bin/python scripts/bench_consensus.py [--repeats 5] [--json]

Prints the median time of ``summarise_items`` over the repeats, per rule, against the time of a
plain pandas ``groupby(["item", "round"])["rating"].quantile([0.3, 0.5, 0.7])`` of the same ratings measured in
the same process (the ratio is what to compare between machines). Target: well under a second.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.consensus import COMET_EVERY_GROUP_RULE, RAM_RULE, summarise_items  # noqa: E402
from analysis.synthetic import workshop_ratings  # noqa: E402

TARGET_SECONDS = 1.0


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON rows")
    args = parser.parse_args()
    ratings = workshop_ratings()
    baseline = median_seconds(lambda: ratings.groupby(["item", "round"])["rating"].quantile([0.3, 0.5, 0.7]), args.repeats)
    rows = []
    for name, rule in (("COMET, in every group", COMET_EVERY_GROUP_RULE), ("RAND/UCLA", RAM_RULE)):
        seconds = median_seconds(lambda rule=rule: summarise_items(ratings, rule), args.repeats)
        rows.append({"rule": name, "ratings": len(ratings), "seconds": round(seconds, 3),
                     "pandas_quantiles_seconds": round(baseline, 3), "ratio": round(seconds / baseline, 2),
                     "target_met": seconds < TARGET_SECONDS})
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            print(f"{row['rule']}: {row['seconds']:.3f} s for {row['ratings']} ratings "
                  f"({row['ratio']:.1f}x pandas quantiles by item and round, target < {TARGET_SECONDS:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
