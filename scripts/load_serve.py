"""Load test of a served deployment (issue 12): scripts/serve.sh with several app processes behind
nginx on PostgreSQL, driven by scripts/load_workshop.py's websocket participants through the proxy.

For each room size (default 40 and 150 participants, 10 items each) a fresh scratch database is
made on the PostgreSQL server, serve.sh is started on it, every participant joins and then all
press Save at once; afterwards every rating is read back (stored once, with the values sent), and
serve.sh is stopped with SIGTERM. Reported per room: save and join latency (p50/p95/max), the peak
resident memory of each app process, CPU used, whether the target was met (40 at once: save
p95 < 1 s; 150 at once: save and join p95 < 2 s), and what the static files of a browser's first
visit (the participants here open no scripts) cost the app processes through nginx and straight
from one of them.

Usage: .venv/bin/python scripts/load_serve.py --postgres URL [--workers 2] [--participants 40 150]
       [--items 10] [--json]
Needs nginx (Debian package `nginx`) and a PostgreSQL server; without either it says so and
measures nothing (exit status 0). Exit status 1 when a rating was lost or duplicated, or a
participant's journey failed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.load_workshop import process_table, run_load  # noqa: E402
from tests.proof.serving import drop_database, nginx_path, scratch_database, serve  # noqa: E402


STATIC_FILE = re.compile(r'(?:src|href)="\./(static/[^"]+)"')


def static_files_cpu_ms(base_url: str, app_pids: Sequence[int], repeats: int = 3) -> float:
    """The app processes' CPU (ms) for the static files of one first visit from ``base_url``: a
    browser with an empty cache fetches every script, style sheet and font the page names."""
    with urllib.request.urlopen(f"{base_url}/join", timeout=30) as response:
        files = sorted(set(STATIC_FILE.findall(response.read().decode())))

    def app_cpu() -> float:
        table = process_table()
        return sum(table[pid][1] for pid in app_pids if pid in table)

    before = app_cpu()
    for _ in range(repeats):
        for name in files:
            request = urllib.request.Request(f"{base_url}/{name}", headers={"Accept-Encoding": "gzip"})
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
    return round((app_cpu() - before) / repeats * 1000, 1)


def measure(postgres_url: str, workers: int, participants: int, items: int, workdir: Path) -> dict[str, object]:
    admin_url, database_url = scratch_database(postgres_url)
    try:
        with serve(database_url, workdir / f"run-{participants}", workers=workers) as deployment:
            report = run_load(participants=participants, items=items, driver="websocket", saves=1, save_spread=0,
                              database_url=database_url, timeout=600, workdir=workdir, url=deployment.url,
                              server_pids=deployment.worker_pids())
            # A first visit's static files, through nginx (which serves them) and straight from an
            # app process (as without the proxy): what each costs the app processes.
            static_ms = static_files_cpu_ms(deployment.url, deployment.worker_pids())
            static_direct_ms = static_files_cpu_ms(deployment.worker_url(0), deployment.worker_pids())
    finally:
        drop_database(admin_url, database_url)
    return {
        "participants": participants, "items": items, "workers": workers, "database": report.database,
        "save_p50_s": report.save_latency_seconds["p50"], "save_p95_s": report.save_latency_seconds["p95"],
        "save_max_s": report.save_latency_seconds["max"],
        "join_p50_s": report.join_latency_seconds["p50"], "join_p95_s": report.join_latency_seconds["p95"],
        "peak_mb_per_worker": report.server_rss_mb["per_process_peak"],
        "server_cpu_s": report.cpu_seconds["server"], "client_cpu_s": report.cpu_seconds["client"],
        "first_visit_static_app_cpu_ms": static_ms, "same_from_an_app_process_ms": static_direct_ms,
        "machine_busy_cores": report.cpu_seconds["machine_busy_cores"],
        "stored": f"{report.verification['ratings_stored']} of {report.verification['ratings_expected']}",
        "duplicates": report.verification["duplicates"], "ok": report.ok,
        "target": (f"save p95 < {report.target['p95_seconds']} s"
                   + (f", join p95 < {report.target['join_p95_seconds']} s" if report.target.get("join_p95_seconds") else "")),
        "target_met": report.target["met"], "errors": report.errors[:5],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", help="PostgreSQL server URL (a scratch database is made there and dropped)")
    parser.add_argument("--workers", type=int, default=2, help="app processes behind nginx (default 2)")
    parser.add_argument("--participants", type=int, nargs="+", default=[40, 150], help="room sizes (default 40 150)")
    parser.add_argument("--items", type=int, default=10, help="items each participant rates (default 10)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.workers <= 8 or any(not 1 <= n <= 200 for n in args.participants):
        parser.error("keep the load bounded: 1-8 workers, 1-200 participants")
    missing = ("nginx is not installed (Debian package 'nginx')" if nginx_path() is None
               else None if args.postgres else "no PostgreSQL server given (--postgres URL)")
    if missing:
        print(json.dumps({"skipped": missing}) if args.json else f"load_serve.py: skipped: {missing}")
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="load-serve-") as directory:
        for participants in args.participants:
            rows.append(measure(args.postgres, args.workers, participants, args.items, Path(directory)))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['participants']} participants x {row['items']} items, {row['workers']} workers through nginx, "
                  f"{row['database']}: save p50 {row['save_p50_s']} s, p95 {row['save_p95_s']} s; join p95 "
                  f"{row['join_p95_s']} s; peak MB per worker {row['peak_mb_per_worker']}; stored {row['stored']}, "
                  f"{row['duplicates']} duplicates; target ({row['target']}) {'met' if row['target_met'] else 'NOT met'}")
            for error in row["errors"]:
                print(f"  error: {error}")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
