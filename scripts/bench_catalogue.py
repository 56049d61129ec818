"""Benchmark: import of a 10,000-row catalogue template (and the re-import that changes nothing).

Prints seconds for validate+plan (dry run), the real import, and a re-import, against a fresh
SQLite database (and PostgreSQL with --postgres URL). The baseline is pandas reading the same
CSV in the same process, so the ratio says what the validation and writing cost on top.
Usage: .venv/bin/python scripts/bench_catalogue.py [--rows 10000] [--postgres URL] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from storage.catalogue_io import TEMPLATE_HEADER, import_catalogue  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.migrate import upgrade_to_head  # noqa: E402
from storage.settings import database_url  # noqa: E402


def make_file(rows: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    types = [("Diagnostics", "Imaging"), ("Diagnostics", "Pathology"), ("Automation and service efficiency", ""), ("Remote monitoring", ""), ("Therapeutic", "")]
    areas = ["Radiology", "Pathology", "Cardiology", "General practice", "Oncology", "Mental health"]
    groups = ["Medic, Radiology", "Nurse, District nursing", "Non-clinical, Administration", "Pharmacist, Pharmacy"]
    records = []
    for index in range(rows):
        kind, subtype = rng.choice(types)
        records.append({
            "catalogue_id": f"B-{index:06d}", "name": f"Benchmark technology {index}", "company": f"Vendor {index % 300}",
            "short_description": "Synthetic benchmark row", "type": kind, "subtype": subtype,
            "clinical_areas": "; ".join(rng.sample(areas, 2)), "workforce_groups": "; ".join(rng.sample(groups, 2)),
            "points_of_care": rng.choice(["Secondary care", "Primary care; Community care"]),
            "time_to_deployment": rng.choice(["Within 1 year", "1–3 years", "More than 3 years"]),
            "impact_workforce": rng.choice(["Low", "Medium", "High"]), "last_reviewed": "2025-01-31",
        })
    frame = pd.DataFrame(records, columns=TEMPLATE_HEADER).astype(object).fillna("")
    return frame.to_csv(index=False).encode()


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def run(url: str, data: bytes) -> dict:
    engine = make_engine(url)
    upgrade_to_head(engine)
    baseline, _ = timed(lambda: pd.read_csv(io.BytesIO(data)))
    dry, report = timed(lambda: import_catalogue(engine, data, dry_run=True))
    real, _ = timed(lambda: import_catalogue(engine, data))
    again, second = timed(lambda: import_catalogue(engine, data))
    assert second.count("unchanged") == len(report.rows)
    engine.dispose()
    return {"backend": engine.dialect.name, "rows": len(report.rows), "pandas_read_s": round(baseline, 3), "dry_run_s": round(dry, 2),
            "import_s": round(real, 2), "reimport_unchanged_s": round(again, 2), "import_ratio_to_pandas_read": round(real / baseline, 1)}


@contextmanager
def scratch_postgres(server_url: str) -> Iterator[str]:
    """A throw-away database on the given server, so benchmarks never touch real data."""
    name = f"roadmap_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield database_url(server_url).rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--postgres", help="also run on this PostgreSQL server (URL of any database there; a scratch database is created and dropped)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data = make_file(args.rows)
    results = [run(f"sqlite:///{tempfile.mkdtemp()}/bench.db", data)]
    if args.postgres:
        with scratch_postgres(args.postgres) as url:
            results.append(run(url, data))
    print_results(results, as_json=args.json)


def print_results(results: list[dict], *, as_json: bool) -> None:
    """One JSON list for scripts/bench.py, or one ``key=value`` line per run for people."""
    if as_json:
        print(json.dumps(results))
    else:
        for result in results:
            print(", ".join(f"{key}={value}" for key, value in result.items()))


if __name__ == "__main__":
    main()
