"""Benchmark: `roadmap responses import` of one large flat file, whole process (target >= 1,500 responses/s, memory bounded).

Builds everything through the public interface: a 1,000-technology catalogue imported with
`roadmap catalogue import`, then one flat responses file in the documented REDCap-style layout
(``survey.flat_responses.export_flat`` written by the formula-safe CSV writer, exactly what
`roadmap responses export` writes) for the built-in clinician instrument: one main row per
response and one repeat row (``redcap_repeat_instrument = technology``) per technology, about
three technologies and 25 answer rows per response. It then times `roadmap responses import`
as a separate process and reports responses per second, that process's CPU time (on a shared
machine, responses per CPU-second is the steadier figure; PostgreSQL's own work runs in the
server's processes, not counted there) and its peak memory (maximum resident set size), on
SQLite and, with ``--postgres``, on PostgreSQL. The baseline, measured in the same run, is
pandas reading the same file (``pandas.read_csv``, whole process).

    .venv/bin/python scripts/bench_import.py [--responses 100000] [--postgres URL] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_catalogue import make_file, print_results, scratch_postgres  # noqa: E402
from storage.exports import table_bytes  # noqa: E402
from survey.flat_responses import FlatRecord, export_flat  # noqa: E402
from survey.instrument import builtin_instruments  # noqa: E402
from survey.validation import validate_submission  # noqa: E402

TARGET_PER_SECOND = 1500
TECHNOLOGIES = 1000
CHUNK = 5000
_SPECIALTIES = ["general_practice", "radiology", "pathology", "cardiology", "oncology", "emergency_medicine", "mental_health"]
_REGIONS = ["east_of_england", "london", "midlands", "north_east_yorkshire", "north_west", "south_east", "south_west"]
_SITES = ["acute_trust", "mental_health_trust", "community_provider", "primary_care"]
_LEVELS = ["low", "medium", "high", "dont_know"]
_HORIZONS = ["at_scale", "within_1y", "1_3y", "over_3y", "dont_know"]


def _answers(rng: random.Random) -> dict[str, object]:
    return {"consent": "yes", "staff_group": rng.choice(["medic", "nurse", "ahp", "non_clinical"]),
            "specialty": rng.choice(_SPECIALTIES), "region": rng.choice(_REGIONS), "site_type": rng.choice(_SITES),
            "years_in_role": rng.randint(0, 40), "archetypes": ["user"]}


def _technology(rng: random.Random) -> dict[str, object]:
    effect = rng.choice(["saved", "added", "no_change"])
    values: dict[str, object] = {"tech_use_frequency": rng.choice(["daily", "weekly", "monthly"]),
                                 "tech_stage": rng.choice(["piloting", "live", "scaled"]), "tech_time_effect": effect,
                                 "tech_impact_workforce": rng.choice(_LEVELS), "tech_time_to_scale": rng.choice(_HORIZONS),
                                 "tech_accuracy": rng.randint(1, 5)}
    if effect != "no_change":
        values["tech_minutes_per_case"] = round(rng.uniform(0.5, 30), 1)
    return values


def responses(count: int, technology_ids: list[int], seed: int = 11) -> Iterator[FlatRecord]:
    """``count`` valid clinician responses (validated like any submission), three technologies each."""
    rng = random.Random(seed)
    instrument = builtin_instruments()["clinician_experience"]
    start = dt.datetime(2026, 1, 5, 8, 0)
    for index in range(count):
        chosen = rng.sample(technology_ids, 3)
        result = validate_submission(instrument, _answers(rng), {str(t): _technology(rng) for t in chosen})
        assert result.ok, result.errors
        yield FlatRecord(f"R{index + 1:07d}", result.document, start + dt.timedelta(seconds=17 * index))


def write_flat_file(path: Path, count: int, technology_ids: list[int]) -> int:
    """Write the flat file in chunks (same bytes as one export); returns its answer rows."""
    instrument = builtin_instruments()["clinician_experience"]
    records = responses(count, technology_ids)
    answer_rows = 0
    with path.open("wb") as out:
        for start in range(0, count, CHUNK):
            chunk = [next(records) for _ in range(min(CHUNK, count - start))]
            answer_rows += sum(_answer_count(record.document) for record in chunk)
            content = table_bytes(export_flat(instrument, chunk), "csv")
            if start:  # later chunks: no byte-order mark, no header
                content = content.removeprefix(b"\xef\xbb\xbf").split(b"\r\n", 1)[1]
            out.write(content)
    return answer_rows


def _answer_count(document: dict) -> int:
    blocks = [document["answers"], *document["technologies"].values()]
    return sum(len(value) if isinstance(value, list) else 1 for block in blocks for value in block.values())


def roadmap_executable() -> str:
    installed = Path(sys.executable).with_name("roadmap")
    return str(installed) if installed.exists() else "roadmap"


# Runs one command from a small interpreter and reports its peak memory and CPU time: a child forked
# straight from this (large) process would count this process's memory as its own peak.
_LAUNCHER = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime, file=sys.stderr)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run_process(command: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak resident memory (MB) and stdout of one process."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *command], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    *errors, usage = done.stderr.strip().splitlines() or ["0 0"]
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed: {' '.join(errors)}")
    peak_kb, cpu_seconds = usage.split()
    return seconds, float(cpu_seconds), int(peak_kb) / 1024, done.stdout


def technology_ids(url: str) -> list[int]:
    from sqlalchemy import select

    from storage.db import make_engine
    from storage.models.catalogue import Technology

    engine = make_engine(url)
    with engine.connect() as connection:
        ids = list(connection.scalars(select(Technology.id).order_by(Technology.id)))
    engine.dispose()
    return ids


def run(url: str, folder: Path, count: int, files: dict[tuple[int, ...], tuple[Path, int]]) -> dict:
    """Build the catalogue and time the import on one database; ``files`` keeps each flat file made,
    by its technology ids, so both databases import the same file when their ids agree."""
    roadmap = roadmap_executable()
    catalogue = folder / "catalogue.csv"
    catalogue.write_bytes(make_file(TECHNOLOGIES))
    run_process([roadmap, "catalogue", "import", str(catalogue), "--database-url", url])
    ids = tuple(technology_ids(url))
    if ids not in files:
        flat = folder / f"responses-{len(files)}.csv"
        files[ids] = (flat, write_flat_file(flat, count, list(ids)))
    flat, answers = files[ids]
    baseline_s, _, baseline_mb, _ = run_process([sys.executable, "-c", f"import pandas; pandas.read_csv({str(flat)!r}, dtype=str)"])
    seconds, cpu_seconds, peak_mb, out = run_process([roadmap, "responses", "import", str(flat), "--instrument",
                                                      "clinician_experience", "--database-url", url, "--json"])
    result = json.loads(out.strip().splitlines()[-1])
    assert result["imported"] == count, result
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    return {"backend": backend, "responses": count, "answer_rows": answers, "file_mb": round(flat.stat().st_size / 1e6, 1),
            "import_s": round(seconds, 1), "responses_per_s": round(count / seconds), "import_cpu_s": round(cpu_seconds, 1),
            "responses_per_cpu_s": round(count / cpu_seconds), "peak_memory_mb": round(peak_mb),
            "pandas_read_csv_s": round(baseline_s, 1), "pandas_read_csv_peak_mb": round(baseline_mb),
            "ratio_to_pandas_read": round(seconds / baseline_s, 1), "meets_target": count / seconds >= TARGET_PER_SECOND}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=100_000, help="responses in the file (default 100,000)")
    parser.add_argument("--postgres", help="also run on this PostgreSQL server (a scratch database is created and dropped)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    files: dict[tuple[int, ...], tuple[Path, int]] = {}
    with tempfile.TemporaryDirectory() as folder:
        results = [run(f"sqlite:///{folder}/bench.db", Path(folder), args.responses, files)]
        if args.postgres:
            with scratch_postgres(args.postgres) as url:
                results.append(run(url, Path(folder), args.responses, files))
    print_results(results, as_json=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
