"""Benchmark the analysis layer in memory: all estimates and view tables against a plain-pandas baseline.

In memory: the frames are generated, not read from a database (scripts/bench_database.py measures
the same analysis from the database, through the CLI and the browser).

For each size (number of survey responses, with 1,000 technologies) it builds synthetic data,
then times, best of 3:

* load: validating and normalising the six input frames (done once per data version, then cached
  by the app), reported separately;
* analysis: ``estimate_all`` + every view table on the loaded frames;
* baseline: ``answers.groupby(["technology_id", "variable", "value"]).size()``, the plain-pandas
  count of the same answer rows, in the same process, on the answers frame as generated (string
  columns, as the storage layer delivers it).

and prints size, answer rows, seconds, ratio to the baseline and peak memory (process maxrss).

    python scripts/bench_analysis.py            # 10k, 100k and 1M responses
    python scripts/bench_analysis.py --quick    # 10k only, a few seconds
    python scripts/bench_analysis.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis import blending, schemas, synthetic, views  # noqa: E402

FRAMES = ("technologies", "technology_links", "adoption", "responses", "answers", "workshop_results")
N_TECHNOLOGIES = 1000


def load_frames(data: synthetic.SyntheticData) -> dict:
    """Validate and normalise the frames once, as the app does when the data version changes."""
    return {name: schemas.validate_frame(getattr(data, name), name) for name in FRAMES}


def run_analysis(frames: dict) -> int:
    """Everything a full analysis render computes; returns the number of tables built."""
    technologies, links, adoption = frames["technologies"], frames["technology_links"], frames["adoption"]
    estimates = blending.estimate_all(technologies, links, adoption, frames["answers"], frames["workshop_results"],
                                      responses=frames["responses"])
    ids = views.apply_filters(views.Filters(), technologies, links, adoption, estimates)
    tables = [
        estimates,
        views.taxonomy_distribution(technologies, ids),
        views.headline_figures(technologies, links, estimates, ids),
        views.use_case_profile("diagnostics", technologies, links, adoption, estimates, ids),
        views.adoption_by_region(adoption, ids),
        views.adoption_heatmap(adoption, ids),
        views.equity_gaps(adoption, ids),
        views.overview_matrix("clinical_area", technologies, links, estimates, ids, across="type_code"),
        views.overview_matrix("workforce_group", technologies, links, estimates, ids, across="type_code"),
        views.overview_matrix("point_of_care", technologies, links, estimates, ids, across="time_to_deployment"),
        views.roadmap_timeline(technologies, estimates, ids),
        views.workforce_impact(links, estimates, ids),
        views.training_needs(frames["answers"], frames["responses"]),
        views.evidence_gaps(technologies, estimates, ids),
        views.estimates_table(technologies, estimates, ids),
    ]
    return len(tables)


def run_baseline(data: synthetic.SyntheticData) -> int:
    counts = data.answers.groupby(["technology_id", "variable", "value"], observed=True).size()
    return len(counts)


def best_of(function: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def peak_memory_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000],
                        help="numbers of survey responses to benchmark")
    parser.add_argument("--quick", action="store_true", help="10k responses only")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sizes = [10_000] if args.quick else args.sizes
    if any(size <= 0 for size in sizes):
        parser.error("sizes must be positive")

    print("in memory (synthetic frames, no database read; from the database: bench_database.py)")
    print(f"{'responses':>10} {'answer rows':>12} {'load s':>7} {'analysis s':>11} {'baseline s':>11} "
          f"{'ratio':>6} {'peak MB':>8}")
    for size in sizes:
        data = synthetic.generate(N_TECHNOLOGIES, size, seed=args.seed)
        load_seconds = best_of(lambda: load_frames(data))
        frames = load_frames(data)
        analysis_seconds = best_of(lambda: run_analysis(frames))
        baseline_seconds = best_of(lambda: run_baseline(data))
        print(f"{size:>10,} {len(data.answers):>12,} {load_seconds:>7.3f} {analysis_seconds:>11.3f} "
              f"{baseline_seconds:>11.3f} {analysis_seconds / baseline_seconds:>6.2f} {peak_memory_mb():>8.0f}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
