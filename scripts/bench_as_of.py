"""Benchmark the roadmap as of a past day and the comparison of two days against today's figures.

Issue 14's target: at 100,000 responses an as-of view or a compare costs no more than 1.5x today's.
On the national evidence databases of scripts/bench_database.py (1,000 technologies, N responses
imported through the CLI, submitted every 3 minutes from 1 January 2025), on SQLite and (with
--postgres) PostgreSQL, each figure is a whole `roadmap` process, what an analyst waits for:

* today: `roadmap estimates export PATH`;
* as of: `roadmap estimates export PATH --as-of DAY` (a day in the middle of the evidence);
* compare: `roadmap estimates compare --from FIRST --to LAST PATH`;
* report as of: `roadmap report PATH --as-of DAY` beside `roadmap report PATH`.

Ratios are against today's figure measured in the same run; each figure is the best of --repeats.

    .venv/bin/python scripts/bench_as_of.py --sizes 100000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from bench_database import DATA_DIR, PAGE_LIMIT, best, postgres_url, timed_process  # noqa: E402
from national_evidence import ROADMAP, build  # noqa: E402

AS_OF = "2025-03-15"
COMPARE_FROM, COMPARE_TO = "2025-02-15", "2025-04-15"


def measure(label: str, url: str, responses: int, repeats: int) -> dict:
    # As bench_database.py does: a million responses are imported by the function behind the CLI.
    build(url, responses, in_process=responses > PAGE_LIMIT)
    folder = Path(tempfile.mkdtemp(prefix="bench-as-of-"))

    def roadmap(*arguments: str) -> float:
        runs = [timed_process([ROADMAP, *arguments, "--database-url", url]) for _ in range(repeats)]
        return round(best(runs)["seconds"], 2)

    today = roadmap("estimates", "export", str(folder / "today.csv"))
    as_of = roadmap("estimates", "export", str(folder / "as-of.csv"), "--as-of", AS_OF)
    compare = roadmap("estimates", "compare", "--from", COMPARE_FROM, "--to", COMPARE_TO, str(folder / "compare.csv"))
    report_today = roadmap("report", str(folder / "today.html"))
    report_as_of = roadmap("report", str(folder / "as-of.html"), "--as-of", AS_OF)
    return {
        "database": label, "responses": responses,
        "export_today_s": today, "export_as_of_s": as_of, "compare_s": compare,
        "as_of_ratio": round(as_of / today, 2), "compare_ratio": round(compare / today, 2),
        "report_today_s": report_today, "report_as_of_s": report_as_of,
        "report_ratio": round(report_as_of / report_today, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000], help="numbers of survey responses")
    parser.add_argument("--postgres", help="PostgreSQL server URL (benchmark databases roadmap_bench_nN, shared with bench_database.py)")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--repeats", type=int, default=2, help="runs per figure (the best is kept)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="where the SQLite benchmark databases are kept")
    args = parser.parse_args(argv)
    for responses in args.sizes:
        targets = [] if args.no_sqlite else [("sqlite", f"sqlite:///{args.data_dir / f'n{responses}.db'}")]
        if args.postgres:
            targets.append(("postgresql", postgres_url(args.postgres, responses)))
        for label, url in targets:
            args.data_dir.mkdir(parents=True, exist_ok=True)
            print(json.dumps(measure(label, url, responses, args.repeats)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
