"""Run every benchmark in the repository and write docs/benchmarks.md (`make bench`).

Benchmarks are found, not listed: every ``scripts/bench_*.py`` and ``scripts/load_*.py``, plus
the concurrent submission load shared with the stress test (``tests/proof/submission_load.py``).
Each runs in its own process, so its peak memory (maximum resident set size, from ``wait4``) is
its own. A script is called with the options it declares (read from its argparse calls):

* ``--json`` when it has it, and its figures become a table; otherwise its printed output is kept;
* ``--postgres URL`` when it has it and a PostgreSQL server answers (a scratch database is made
  and dropped by the script);
* ``--sizes N`` once per size (10k, 100k and 1M responses; ``--quick`` stops at 100k).

The page states the machine (CPU, cores, memory, OS, Python, SQLite, PostgreSQL, library
versions), the date, the commit and the load average, because the development machine is shared.

    .venv/bin/python scripts/bench.py                 # everything, writes docs/benchmarks.md
    .venv/bin/python scripts/bench.py --quick         # skip the runs at 1,000,000 responses
    .venv/bin/python scripts/bench.py --only catalogue submission --output /tmp/bench.md
    .venv/bin/python scripts/bench.py --only bench_database --merge   # re-run some, keep the rest of the page
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
# Benchmarks that live outside scripts/ because tests share their code: (module, source file).
SHARED_BENCHMARKS = (("tests.proof.submission_load", ROOT / "tests" / "proof" / "submission_load.py"),)
SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
# Extra variants for scripts whose default run leaves out figures the issue asks for.
VARIANTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "bench_pages.py": (("--synthetic", "10000", "100000"),),
    # The default run is the worst case (all 40 press Save in the same instant); a room
    # saving over 20 seconds is the usual case.
    "load_workshop.py": (("--save-spread", "20"),),
}
TIMEOUT_SECONDS = 3600
LIBRARIES = ("streamlit", "pandas", "numpy", "SQLAlchemy", "psycopg", "pydantic", "plotly")


@dataclass(frozen=True)
class Run:
    """One benchmark invocation."""

    label: str
    command: tuple[str, ...]
    wants_json: bool


@dataclass(frozen=True)
class Outcome:
    run: Run
    exit_code: int
    seconds: float
    peak_mb: float
    stdout: str
    stderr: str

    @property
    def figures(self) -> object | None:
        """The JSON the script printed (the whole output, else its last line), or None."""
        if not self.run.wants_json:
            return None
        text = self.stdout.strip()
        for candidate in (text, text.splitlines()[-1] if text else ""):
            try:
                return json.loads(candidate)
            except ValueError:
                continue
        return None


# ----------------------------------------------------------------------------- discovery


def declared_options(source: Path) -> set[str]:
    """The long options a script's argparse parser declares."""
    return set(re.findall(r"""add_argument\(\s*["'](--[a-z][a-z0-9-]*)["']""", source.read_text(encoding="utf-8")))


def benchmark_sources() -> list[tuple[str, tuple[str, ...], Path]]:
    """(name, command prefix, source file) of every benchmark, scripts first, in name order."""
    found = sorted(path for pattern in ("bench_*.py", "load_*.py") for path in SCRIPTS.glob(pattern)
                   if path.resolve() != Path(__file__).resolve())
    sources = [(path.name, (sys.executable, str(path.relative_to(ROOT))), path) for path in found]
    sources += [(module, (sys.executable, "-m", module), path) for module, path in SHARED_BENCHMARKS if path.exists()]
    return sources


def plan(*, quick: bool, postgres_url: str | None, only: list[str]) -> list[Run]:
    runs = []
    for name, prefix, source in benchmark_sources():
        if only and not any(word in name for word in only):
            continue
        options = declared_options(source)
        common: list[str] = []
        wants_json = "--json" in options
        if wants_json:
            common.append("--json")
        if postgres_url and "--postgres" in options:
            common += ["--postgres", postgres_url]
        if "--sizes" in options:
            variants: tuple[tuple[str, ...], ...] = tuple(("--sizes", str(size)) for size in (QUICK_SIZES if quick else SIZES))
        else:
            variants = ((),) + VARIANTS.get(name, ())
        for variant in variants:
            label = " ".join((name, *variant)).replace(postgres_url or "\0", "URL")
            runs.append(Run(label, (*prefix, *variant, *common), wants_json))
    return runs


# ----------------------------------------------------------------------------- running


def execute(run: Run, timeout: float = TIMEOUT_SECONDS) -> Outcome:
    """Run one benchmark in its own process; peak memory is that process's maximum RSS (which
    includes any child it waited for, such as a server it started)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(run.command, cwd=ROOT, stdout=out, stderr=err, text=True, start_new_session=True)
        # A watchdog ends a run that hangs, with its whole process group (servers it started included).
        watchdog = threading.Timer(timeout, lambda: os.killpg(process.pid, signal.SIGKILL))
        watchdog.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return Outcome(run, process.returncode, seconds, usage.ru_maxrss / 1024, out.read(), err.read())


def postgres_reachable(url: str) -> str | None:
    """The server's version if ``url`` answers within a few seconds, else None."""
    from sqlalchemy import create_engine, text

    from storage.settings import database_url

    engine = create_engine(database_url(url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SHOW server_version")).scalar())
    except Exception:  # noqa: BLE001 - any failure means "not available"; the page says so
        return None
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------- the machine


def _first_match(path: str, pattern: str) -> str | None:
    try:
        match = re.search(pattern, Path(path).read_text(encoding="utf-8"), re.MULTILINE)
    except OSError:
        return None
    return match.group(1).strip() if match else None


def _commit() -> str:
    completed = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return completed.stdout.strip() or "unknown"


def machine_description(postgres_version: str | None) -> list[tuple[str, str]]:
    memory_kb = _first_match("/proc/meminfo", r"^MemTotal:\s+(\d+)")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = []
    for library in LIBRARIES:
        try:
            versions.append(f"{library} {importlib.metadata.version(library)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    system = _first_match("/etc/os-release", r'^PRETTY_NAME="?([^"\n]+)') or platform.system()
    return [
        ("CPU", _first_match("/proc/cpuinfo", r"^model name\s*:\s*(.+)$") or platform.processor() or "unknown"),
        ("Cores", f"{os.cpu_count()} logical, {usable} usable by this process"),
        ("Memory", f"{int(memory_kb) / 1024 / 1024:.1f} GiB" if memory_kb else "unknown"),
        ("OS", f"{system}, kernel {platform.release()}"),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("PostgreSQL", postgres_version or "not available (PostgreSQL figures skipped)"),
        ("Libraries", ", ".join(versions)),
        ("Commit", _commit()),
    ]


# ----------------------------------------------------------------------------- the page


def _cell(value: object) -> str:
    if isinstance(value, float):
        text = f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(_cell(item) for item in value)
    elif value is None:
        text = "—"
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _flatten(value: dict, prefix: str = "") -> tuple[dict[str, object], list[tuple[str, list[dict]]]]:
    """Scalars of a nested dict under dotted keys, and its lists of records (rendered as tables)."""
    scalars: dict[str, object] = {}
    tables: list[tuple[str, list[dict]]] = []
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            nested_scalars, nested_tables = _flatten(item, f"{name}.")
            scalars.update(nested_scalars)
            tables += nested_tables
        elif isinstance(item, list) and item and all(isinstance(row, dict) for row in item):
            tables.append((name, item))
        else:
            scalars[name] = item
    return scalars, tables


def markdown_table(rows: list[dict]) -> list[str]:
    flat = [_flatten(row)[0] for row in rows]
    columns: list[str] = []
    for row in flat:
        columns += [key for key in row if key not in columns]
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    lines += ["| " + " | ".join(_cell(row.get(column)) for column in columns) + " |" for row in flat]
    return lines


def figures_markdown(figures: object) -> list[str]:
    if isinstance(figures, list) and figures and all(isinstance(row, dict) for row in figures):
        return markdown_table(figures)
    if isinstance(figures, dict):
        scalars, tables = _flatten(figures)
        lines = ["| figure | value |", "| --- | --- |"] + [f"| {_cell(k)} | {_cell(v)} |" for k, v in scalars.items()]
        for name, rows in tables:
            lines += ["", f"{name}:", "", *markdown_table(rows)]
        return lines
    return ["```", json.dumps(figures, indent=2), "```"]


DATABASE_BENCHMARK = "bench_database.py"
GROWTH_FIGURES = (("export_s", "export"), ("baseline_s", "plain pandas"), ("read_adbc_s", "read (ADBC)"))


def database_growth(outcomes: list[Outcome]) -> list[str]:
    """The from-the-database figures of every size side by side, and how each grows with N."""
    rows = [row for outcome in outcomes if outcome.run.label.startswith(DATABASE_BENCHMARK)
            and isinstance(outcome.figures, list) for row in outcome.figures if isinstance(row, dict)]
    if not rows:
        return []
    rows.sort(key=lambda row: (row.get("database", ""), row.get("responses", 0)))
    columns = ["database", "responses", "answer_rows", "export_s", "export_peak_mb", "baseline_s", "ratio",
               "page_cold_s", "page_after_new_response_s", "read_adbc_s"]
    lines = ["", "## From the database: how the cost grows with N", "",
             "Data built through the CLI (`roadmap catalogue import`, `roadmap responses import`; see each run below for "
             "how its database was made). The in-memory figures of `bench_analysis.py` above read no database.", "",
             *markdown_table([{column: row.get(column) for column in columns} for row in rows]), ""]
    for database in sorted({row.get("database") for row in rows}):
        own = [row for row in rows if row.get("database") == database]
        for (small, large) in zip(own, own[1:]):
            factor = large["responses"] / small["responses"]
            parts = [f"{name} ×{large[key] / small[key]:.1f}" for key, name in GROWTH_FIGURES
                     if small.get(key) and large.get(key)]
            lines.append(f"- {database}, {small['responses']:,} → {large['responses']:,} responses (×{factor:g}): "
                         + ", ".join(parts) + f" (linear growth would be ×{factor:g}).")
    return lines


def render(outcomes: list[Outcome], machine: list[tuple[str, str]], started: dt.datetime, load: tuple[float, float],
           quick: bool) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`scripts/bench.py`), which runs every benchmark script in the repository, each "
        "in its own process. Do not edit by hand: run it again. Figures are wall-clock times on the machine below; "
        "peak memory is the largest resident set size of the benchmark's process (including any server it started "
        "and waited for).",
        "",
        f"Run: {started:%Y-%m-%d %H:%M} UTC{' (quick: the runs at 1,000,000 responses were skipped)' if quick else ''}.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *[f"| {name} | {_cell(value)} |" for name, value in machine],
        f"| Load average (1 min) | {load[0]:.1f} at the start, {load[1]:.1f} at the end: the machine is shared, so "
        "other work competed for the same cores |",
        "",
        "## Summary",
        "",
        "| benchmark | wall time (s) | peak memory (MB) | result |",
        "| --- | --- | --- | --- |",
    ]
    for outcome in outcomes:
        result = "ok" if outcome.exit_code == 0 else f"exit status {outcome.exit_code}"
        lines.append(f"| {_cell(outcome.run.label)} | {outcome.seconds:.1f} | {outcome.peak_mb:,.0f} | {result} |")
    lines += database_growth(outcomes)
    for outcome in outcomes:
        lines += ["", f"## {outcome.run.label}", "",
                  f"Wall time {outcome.seconds:.1f} s, peak memory {outcome.peak_mb:,.0f} MB, exit status {outcome.exit_code}.", ""]
        figures = outcome.figures
        if figures is not None:
            lines += figures_markdown(figures)
        elif outcome.stdout.strip():
            lines += ["```", outcome.stdout.rstrip(), "```"]
        if outcome.exit_code != 0:
            lines += ["", "Error output (last lines):", "", "```", *outcome.stderr.rstrip().splitlines()[-15:], "```"]
    return "\n".join(lines) + "\n"


def _sections(page: str) -> list[tuple[str, list[str]]]:
    """(heading, lines) of each "## " section of a page; the part before the first one has heading ""."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in page.splitlines():
        if line.startswith("## "):
            sections.append((line[3:], []))
        sections[-1][1].append(line)
    return sections


def merge_pages(old: str, new: str, note: str) -> str:
    """``old`` with what ``new`` (a run of some of the benchmarks) measured again: each section and
    each summary row of ``new`` replaces the one with the same name (sections ``old`` lacks come at
    the end), and ``note`` (when and on which commit) follows the run line, so the page says which
    figures are newer than the rest."""
    fresh = dict(_sections(new))
    summary_rows = {line.split(" | ")[0]: line for line in fresh.get("Summary", []) if line.startswith("| ")}
    merged = []
    for heading, lines in _sections(old):
        if heading == "Summary":
            lines = [summary_rows.pop(line.split(" | ")[0], line) if line.startswith("| ") else line for line in lines]
            while lines and not lines[-1]:
                lines.pop()
            lines += [*summary_rows.values(), ""]
        elif heading and heading in fresh:
            lines = _ending_blank(fresh.pop(heading))
        elif not heading:
            lines = [*lines[:-1], note, ""] if lines and not lines[-1] else [*lines, note]
        merged.append("\n".join(lines))
    merged += ["\n".join(_ending_blank(lines)) for heading, lines in fresh.items() if heading and heading not in ("Machine", "Summary")]
    return "\n".join(merged).rstrip("\n") + "\n"


def _ending_blank(lines: list[str]) -> list[str]:
    """A section's lines ending in one blank line (the last section of a page has none)."""
    while lines and not lines[-1]:
        lines = lines[:-1]
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the runs at 1,000,000 responses")
    parser.add_argument("--postgres", default=os.environ.get("ROADMAP_TEST_POSTGRES_URL"),
                        help="PostgreSQL server for the benchmarks that support it (default: ROADMAP_TEST_POSTGRES_URL)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--only", nargs="+", default=[], metavar="WORD", help="only benchmarks whose name contains a word")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_SECONDS, help="seconds allowed per benchmark run")
    parser.add_argument("--merge", action="store_true",
                        help="put what this run measures into the existing --output page instead of replacing it")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    postgres_url = None if args.no_postgres else args.postgres
    postgres_version = postgres_reachable(postgres_url) if postgres_url else None
    if postgres_url and postgres_version is None:
        print(f"PostgreSQL at {postgres_url} does not answer: SQLite only", file=sys.stderr)
        postgres_url = None

    runs = plan(quick=args.quick, postgres_url=postgres_url, only=args.only)
    if not runs:
        parser.error("no benchmark matches")
    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()[0]
    outcomes = []
    for number, run in enumerate(runs, start=1):
        print(f"[{number}/{len(runs)}] {run.label} …", flush=True)
        outcome = execute(run, args.timeout)
        print(f"    {outcome.seconds:.1f} s, peak {outcome.peak_mb:,.0f} MB, exit status {outcome.exit_code}", flush=True)
        outcomes.append(outcome)
    page = render(outcomes, machine_description(postgres_version), started, (load_before, os.getloadavg()[0]), args.quick)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.merge and args.output.exists():
        labels = ", ".join(f"`{outcome.run.label}`" for outcome in outcomes)
        note = (f"Measured again on {started:%Y-%m-%d %H:%M} UTC (commit {_commit()}, load average {load_before:.1f} at the "
                f"start): {labels}; the other figures are from the run above.")
        page = merge_pages(args.output.read_text(encoding="utf-8"), page, note)
    args.output.write_text(page, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0 if all(outcome.exit_code == 0 for outcome in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
