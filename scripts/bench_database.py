"""Benchmark the analysis read from the database, through the CLI and the browser, at national scale.

For N responses with 1,000 technologies (scripts/national_evidence.py builds the data through
`roadmap catalogue import` and `roadmap responses import`, or reuses a database it built before),
on SQLite and (with --postgres) PostgreSQL, it measures:

* export: `roadmap estimates export` as a whole process (wall time and peak memory);
* baseline: a whole Python process that runs a plain ``pandas.read_sql`` of the same answer rows
  and ``groupby(["technology_id", "variable", "value"]).size()`` — the ratio export / baseline;
* read: the answer rows read into a typed frame in this process by each way tried (ADBC, the
  driver's rows column-wise, ``pandas.read_sql``, ``DataFrame.from_records`` over ``Row`` objects);
  the ADBC drivers earned their place on both databases. Not tried: DuckDB scanning the database
  (its SQLite and PostgreSQL scanners are extensions downloaded at run time, which an offline
  server cannot do) and aggregation in SQL (the analysis needs every response's answers: filters
  by region, staff group, site type and date, and each respondent's weight);
* page (N <= 100,000, unless --no-page): on a freshly started server (cold cache), the lead's
  home page from the sign-in until it is drawn (it computes today's analysis for its "thinnest
  evidence" list), then the Roadmap analysis page from the click until the views are drawn;
  then one new response is imported by another process (the CLI) and the page's next render (a
  click on another view) is timed; the Estimates page then shows that response (checked).

Each figure is the best of ``--repeats`` runs (the machine is shared: the best run is the one
least disturbed). Prints one JSON object per backend and size with --json, else a table.

    .venv/bin/python scripts/bench_database.py --sizes 10000 100000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_import import run_process  # noqa: E402
from national_evidence import INSTRUMENT, ROADMAP, START, build, response_document  # noqa: E402

DATA_DIR = ROOT / "data" / "bench"
PAGE_LIMIT = 100_000
SLOW_MS = 300_000
BASELINE = """
import sys, pandas as pd
from sqlalchemy import create_engine
engine = create_engine(sys.argv[1])
with engine.connect() as connection:
    answers = pd.read_sql("SELECT response_id, technology_id, variable, value FROM survey_answer", connection)
counts = answers.groupby(["technology_id", "variable", "value"]).size()
print(len(answers), len(counts))
"""


def timed_process(command: list[str]) -> dict:
    """Wall time and peak memory (maximum resident set size) of one whole process, started from a
    small launcher (bench_import.run_process): a child of this process, which grows to gigabytes
    reading the database in-process, would report this process's size as its own peak."""
    seconds, _cpu_seconds, peak_mb, output = run_process(command)
    return {"seconds": seconds, "peak_mb": peak_mb, "output": output.strip()}


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda run: run["seconds"])


def postgres_url(server_url: str, responses: int) -> str:
    """A benchmark database on the server (created when missing; kept for the next run)."""
    from sqlalchemy import create_engine, text

    from storage.settings import database_url

    name = f"roadmap_bench_n{responses}"
    admin = create_engine(database_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).scalar():
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return database_url(server_url).rsplit("/", 1)[0] + "/" + name


def one_response_file(directory: Path, technology_id: int) -> Path:
    """A flat file of one new response about ``technology_id`` (its workforce impact answered)."""
    import random

    from survey.flat_responses import FlatRecord, export_flat
    from survey.instrument import builtin_instruments

    document = response_document(random.Random(time.time_ns()), [technology_id, technology_id + 1, technology_id + 2])
    document["technologies"][str(technology_id)]["tech_impact_workforce"] = "high"
    record = FlatRecord(f"NEW-{time.time_ns()}", document, START)
    path = directory / "one-response.csv"
    export_flat(builtin_instruments()[INSTRUMENT], [record]).to_csv(path, index=False)
    return path


def page_figures(url: str, technologies: int) -> dict:
    """Cold open of the Roadmap analysis page, then the next render after one new response."""
    from playwright.sync_api import expect, sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, sign_in, start_server

    folder = Path(tempfile.mkdtemp(prefix="bench-page-"))
    server = start_server(url, folder / "server.log")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url)
            done = page.locator("[data-test-script-state='notRunning']")
            # The lead's home page lists the thinnest evidence: it computes today's analysis, which
            # the analysis page then shares. Timed from the sign-in until the home page is drawn.
            started = time.perf_counter()
            sign_in(page, "Lead / analyst")
            page.get_by_role("heading", name="The thinnest evidence").wait_for(timeout=SLOW_MS)
            done.wait_for(timeout=SLOW_MS)
            home = time.perf_counter() - started
            analysis_link = page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Roadmap analysis")
            metric = page.locator("[data-testid='stMetric']").filter(has_text="Technologies").locator("[data-testid='stMetricValue']")
            started = time.perf_counter()
            analysis_link.click()
            expect(metric.first).to_have_text(str(technologies), timeout=SLOW_MS)
            page.locator(".st-key-chart_distribution .js-plotly-plot").wait_for(timeout=SLOW_MS)
            done.wait_for(timeout=SLOW_MS)
            cold = time.perf_counter() - started

            technology = 17
            name = f"Benchmark technology {technology - 1}"  # ids follow the generated rows, from 1
            # What the page must show, from the database: a figure read off the page could be the
            # previous selection's, before the rerun for this one has drawn.
            before = _respondents(page, expect, name, survey_respondents(url, technology))
            analysis_link.click()
            done.wait_for(timeout=SLOW_MS)
            import_started = time.perf_counter()
            subprocess.run([ROADMAP, "responses", "import", str(one_response_file(folder, technology)), "--instrument", INSTRUMENT,
                            "--database-url", url], check=True, capture_output=True)
            imported = time.perf_counter() - import_started
            started = time.perf_counter()
            page.get_by_role("tab", name="Evidence base").click()  # the next render
            page.get_by_text("Where to send the next survey or workshop").wait_for(timeout=SLOW_MS)
            page.locator(".st-key-chart_evidence .js-plotly-plot").wait_for(timeout=SLOW_MS)
            done.wait_for(timeout=SLOW_MS)
            next_render = time.perf_counter() - started
            after = _respondents(page, expect, name, before + 1)
            browser.close()
    finally:
        server.stop()
    return {"home_after_sign_in_s": round(home, 2), "page_cold_s": round(cold, 2), "page_after_new_response_s": round(next_render, 2),
            "new_response_import_s": round(imported, 2), "respondents_before": before, "respondents_after": after}


def survey_respondents(url: str, technology_id: int) -> int:
    """Respondents behind a technology's workforce impact, as `roadmap estimates export` counts them."""
    from analysis.blending import BlendSettings
    from storage.analysis_inputs import disclosure_threshold, load_analysis_inputs
    from storage.db import make_engine
    from streamlit_app.report import estimates_on_day

    engine = make_engine(url)
    table = estimates_on_day(load_analysis_inputs(engine), None, BlendSettings(), disclosure_threshold()).table
    engine.dispose()
    row = table[(table["technology_id"] == technology_id) & (table["quantity"] == "impact_workforce")]
    return int(row["n_survey"].iloc[0])


def _respondents(page, expect, technology_name: str, wanted: int) -> int:
    """The Estimates page's "Survey respondents" behind a technology's workforce impact, once it
    shows ``wanted`` (Playwright's retrying expect: the page may still be drawing)."""
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Estimates").click()
    picker = page.get_by_role("combobox", name="Technology", exact=True)
    picker.click()
    picker.press_sequentially(technology_name, delay=10)
    page.get_by_role("option", name=technology_name, exact=True).first.click()
    page.keyboard.press("Escape")
    quantity = page.locator(".st-key-est_evidence_quantity").get_by_role("combobox")
    quantity.click()
    quantity.press_sequentially("Impact on the primary", delay=10)
    page.get_by_role("option", name="Impact on the primary workforce group", exact=True).first.click()
    page.keyboard.press("Escape")
    value = page.locator("[data-testid='stMetric']").filter(has_text="Survey respondents").locator("[data-testid='stMetricValue']")
    expect(value).to_have_text(str(wanted), timeout=SLOW_MS)
    return wanted


def read_methods(url: str, responses: int, repeats: int) -> dict:
    """Seconds to read every answer row into a typed frame, best of ``repeats``, by each way tried:
    ADBC (Arrow columns, the read path), the driver's rows transposed column-wise (SQLAlchemy Core
    ``exec_driver_sql``, the incremental path), ``pandas.read_sql`` over SQLAlchemy, and (up to
    100,000 responses) ``DataFrame.from_records`` over SQLAlchemy ``Row`` objects (the read path
    before this benchmark existed)."""
    import pandas as pd
    from sqlalchemy import select

    from storage.column_reads import arrow_snapshot, driver_columns, snapshot_connection
    from storage.db import make_engine
    from storage.models.survey import SurveyAnswer
    from storage.survey_frames import ANSWERS_SQL, RAW_ANSWER_COLUMNS, raw_answers_frame

    engine = make_engine(url)

    def adbc() -> None:
        with arrow_snapshot(engine) as run:
            raw_answers_frame(run(ANSWERS_SQL))

    def driver_rows() -> None:
        with snapshot_connection(engine) as connection:
            raw_answers_frame(driver_columns(connection, ANSWERS_SQL, RAW_ANSWER_COLUMNS))

    def read_sql() -> None:
        with engine.connect() as connection:
            pd.read_sql(ANSWERS_SQL, connection)

    def from_rows() -> None:
        query = select(SurveyAnswer.response_id, SurveyAnswer.technology_id, SurveyAnswer.variable, SurveyAnswer.value)
        with engine.connect() as connection:
            pd.DataFrame.from_records(connection.execute(query).all(), columns=["response_id", "technology_id", "variable", "value"])

    methods = {"read_adbc_s": adbc, "read_driver_rows_s": driver_rows, "read_pandas_read_sql_s": read_sql}
    if responses <= PAGE_LIMIT:
        methods["read_orm_rows_from_records_s"] = from_rows
    figures = {}
    for name, method in methods.items():
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            method()
            runs.append(time.perf_counter() - started)
        figures[name] = round(min(runs), 2)
    engine.dispose()
    return figures


def measure(label: str, url: str, responses: int, *, repeats: int, page: bool, in_process: bool) -> dict:
    built = build(url, responses, in_process=in_process)
    output = Path(tempfile.mkdtemp(prefix="bench-export-")) / "estimates.csv"
    export = best([timed_process([ROADMAP, "estimates", "export", str(output), "--database-url", url]) for _ in range(repeats)])
    baseline = best([timed_process([sys.executable, "-c", BASELINE, url]) for _ in range(repeats)])
    answer_rows = int(baseline["output"].split()[0])
    figures = {
        "database": label, "responses": responses, "answer_rows": answer_rows,
        "data": "built through the CLI" if built["built"] and not in_process else
                "built through the import function" if built["built"] else "reused (built through the CLI before)",
        "build_s": built["seconds"] or None,
        "export_s": round(export["seconds"], 2), "export_peak_mb": round(export["peak_mb"]),
        "baseline_s": round(baseline["seconds"], 2), "baseline_peak_mb": round(baseline["peak_mb"]),
        "ratio": round(export["seconds"] / baseline["seconds"], 2),
    }
    if page and responses <= PAGE_LIMIT:
        figures.update(page_figures(url, 1000))
    figures.update(read_methods(url, responses, repeats))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="numbers of survey responses")
    parser.add_argument("--postgres", help="PostgreSQL server URL: benchmark databases roadmap_bench_nN are made there and kept")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--no-page", action="store_true", help="skip the browser figures")
    parser.add_argument("--repeats", type=int, default=2, help="runs per process figure (the best is kept)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="where the SQLite benchmark databases are kept")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    rows = []
    for responses in args.sizes:
        # A million responses are imported by the function behind the CLI, in this process (one
        # CLI start per 10,000-record file would add nothing but start-up time).
        in_process = responses > PAGE_LIMIT
        targets = [] if args.no_sqlite else [("sqlite", f"sqlite:///{args.data_dir / f'n{responses}.db'}")]
        if args.postgres:
            targets.append(("postgresql", postgres_url(args.postgres, responses)))
        for label, url in targets:
            args.data_dir.mkdir(parents=True, exist_ok=True)
            row = measure(label, url, responses, repeats=args.repeats, page=not args.no_page, in_process=in_process)
            rows.append(row)
            if not args.json:
                print(json.dumps(row), flush=True)
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
