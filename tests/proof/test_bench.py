"""The benchmark umbrella (scripts/bench.py): it finds every benchmark with the options each
declares, measures each process's own peak memory, and turns figures into markdown tables."""

from __future__ import annotations

import json
import sys

from scripts.bench import ROOT, Run, declared_options, execute, figures_markdown, plan


def test_options_are_read_from_the_scripts_argparse_calls():
    assert {"--rows", "--postgres", "--json"} <= declared_options(ROOT / "scripts" / "bench_catalogue.py")
    assert "--sizes" in declared_options(ROOT / "scripts" / "bench_analysis.py")


def test_the_plan_runs_each_size_and_passes_postgres_only_where_declared():
    runs = {run.label: run for run in plan(quick=True, postgres_url="postgresql://server/db", only=["analysis", "catalogue", "submission"])}
    assert {"bench_analysis.py --sizes 10000", "bench_analysis.py --sizes 100000", "bench_catalogue.py",
            "tests.proof.submission_load"} <= set(runs)
    assert not any("1000000" in label for label in runs)
    assert runs["bench_catalogue.py"].command[-3:] == ("--json", "--postgres", "postgresql://server/db")
    assert runs["bench_catalogue.py"].wants_json and not runs["bench_analysis.py --sizes 10000"].wants_json
    assert "--postgres" not in runs["bench_analysis.py --sizes 10000"].command


def test_a_run_reports_its_own_peak_memory_and_json_figures():
    allocate = "b = bytearray(150 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); print('note'); print('{\"rows\": 3}')"
    outcome = execute(Run("allocate", (sys.executable, "-c", allocate), wants_json=True))
    assert outcome.exit_code == 0
    assert outcome.figures == {"rows": 3}
    assert 150 <= outcome.peak_mb < 400


def test_figures_become_markdown_tables():
    assert figures_markdown([{"backend": "sqlite", "seconds": 1.5}, {"backend": "postgresql", "seconds": 12, "rows": 10_000}]) == [
        "| backend | seconds | rows |", "| --- | --- | --- |",
        "| sqlite | 1.5 | — |", "| postgresql | 12 | 10,000 |",
    ]
    assert figures_markdown({"latency": {"p50_ms": 120.25, "p95_ms": 800}, "ok": True}) == [
        "| figure | value |", "| --- | --- |", "| latency.p50_ms | 120.25 |", "| latency.p95_ms | 800 |", "| ok | True |",
    ]


def test_the_import_and_start_up_benchmarks_are_found_with_their_options():
    runs = {run.label: run for run in plan(quick=True, postgres_url="postgresql://server/db", only=["bench_import", "bench_cli"])}
    assert set(runs) == {"bench_import.py", "bench_cli.py"}
    assert runs["bench_import.py"].command[-3:] == ("--json", "--postgres", "postgresql://server/db")
    assert runs["bench_cli.py"].wants_json and "--postgres" not in runs["bench_cli.py"].command


def test_database_figures_are_put_side_by_side_with_their_growth():
    from scripts.bench import Outcome, database_growth

    def outcome(size: int, export: float, baseline: float) -> Outcome:
        row = {"database": "sqlite", "responses": size, "answer_rows": size * 24, "export_s": export, "baseline_s": baseline,
               "ratio": round(export / baseline, 2)}
        return Outcome(Run(f"bench_database.py --sizes {size}", (), wants_json=True), 0, 1.0, 100.0, json.dumps([row]), "")

    lines = database_growth([outcome(100_000, 4.0, 5.0), outcome(10_000, 1.0, 0.8)])
    table = [line for line in lines if line.startswith("| sqlite")]
    assert [line.split(" | ")[1] for line in table] == ["10,000", "100,000"]  # ordered by size
    assert "- sqlite, 10,000 → 100,000 responses (×10): export ×4.0, plain pandas ×6.2 (linear growth would be ×10)." in lines
    assert database_growth([]) == []


def test_a_partial_run_is_merged_into_the_page_and_says_which_figures_are_newer():
    from scripts.bench import merge_pages

    old = "\n".join([
        "# Benchmarks", "", "Run: 2026-12-06 15:48 UTC.", "",
        "## Summary", "", "| benchmark | wall time (s) |", "| --- | --- |", "| a.py | 1.0 |", "| b.py | 2.0 |", "",
        "## a.py", "", "old a figures", "",
        "## b.py", "", "old b figures", "",
    ]) + "\n"
    new = "\n".join([
        "# Benchmarks", "", "Run: 2026-12-06 16:37 UTC.", "", "## Machine", "", "| CPU | x |", "",
        "## Summary", "", "| benchmark | wall time (s) |", "| --- | --- |", "| b.py | 3.0 |", "| c.py | 4.0 |", "",
        "## b.py", "", "new b figures",
        "## c.py", "", "new c figures",
    ]) + "\n"
    merged = merge_pages(old, new, "Measured again: `b.py`, `c.py`.")
    lines = merged.splitlines()
    assert lines[:4] == ["# Benchmarks", "", "Run: 2026-12-06 15:48 UTC.", "Measured again: `b.py`, `c.py`."]
    summary = [line for line in lines if line.startswith("| ") and "." in line.split(" | ")[0]]
    assert summary == ["| a.py | 1.0 |", "| b.py | 3.0 |", "| c.py | 4.0 |"]
    assert "old a figures" in merged and "old b figures" not in merged
    assert merged.index("new b figures") < merged.index("new c figures")  # b in its place, c at the end
    assert "| CPU | x |" not in merged  # the page's own machine table stays
    assert "new b figures\n\n## c.py" in merged  # a section taken from the end of a page keeps its blank line
