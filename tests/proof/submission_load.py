"""Concurrent survey submissions through the real submission function.

Shared by the stress test (tests/proof/test_stress.py), the SIGKILL fault test's child process
and the benchmark umbrella (scripts/bench.py runs this module with ``--json``), so the figures
in docs/benchmarks.md come from exactly the load the tests prove correct.

Each writer thread submits its responses one after another, as one respondent's browser
session would, then re-sends its first submission (a double click or a reconnect) while the
other writers are still busy: that repeat must come back as the original response.

    python -m tests.proof.submission_load [--writers 50] [--per-writer 100] [--postgres URL] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from storage.db import make_engine, write_session
from storage.migrate import upgrade_to_head
from storage.models.catalogue import Technology
from storage.survey_submit import Submission, submit_response
from storage.surveys import CampaignInput, create_campaign, ensure_builtin_instruments

PROFILE_ANSWERS = {"consent": "yes", "staff_group": "nurse", "region": "london", "years_in_role": "7",
                   "archetypes": ["user", "driver"]}
TECHNOLOGY_ANSWERS = {"tech_use_frequency": "weekly", "tech_time_effect": "saved", "tech_minutes_per_case": "4.5"}
TECHNOLOGIES = 2
# consent, staff_group, region, years_in_role and two archetype codes, then three answers per technology.
ANSWER_ROWS_PER_RESPONSE = 6 + TECHNOLOGIES * len(TECHNOLOGY_ANSWERS)


@dataclass(frozen=True)
class LoadTarget:
    """An open clinician-survey campaign and the answers every load submission gives."""

    campaign_id: int
    technology_answers: dict[int, dict[str, str]]


def prepare_target(engine: Engine) -> LoadTarget:
    """Open a new clinician-experience campaign (opened yesterday, no limit) about two load-test
    technologies, added on first use."""
    names = [f"Load test tool {number}" for number in range(TECHNOLOGIES)]
    with write_session(engine) as session:
        existing = {tool.name: tool for tool in session.scalars(select(Technology).where(Technology.name.in_(names)))}
        tools = [existing.get(name) or Technology(name=name, company="Load Test Ltd") for name in names]
        session.add_all(tools)
        session.flush()
        technology_ids = [tool.id for tool in tools]
    instrument_id = ensure_builtin_instruments(engine)["clinician_experience"]
    campaign = CampaignInput(instrument_id=instrument_id, title="Load test campaign",
                             opens_at=datetime.now(UTC) - timedelta(days=1))
    created = create_campaign(engine, campaign, created_by="load-test")
    return LoadTarget(created.campaign_id, {tool: dict(TECHNOLOGY_ANSWERS) for tool in technology_ids})


def submission_key(prefix: str, writer: int, index: int) -> str:
    return f"{prefix}-w{writer:02d}-{index:04d}"


def submit_one(engine: Engine, target: LoadTarget, key: str) -> Submission:
    return submit_response(engine, target.campaign_id, PROFILE_ANSWERS, target.technology_answers, key)


@dataclass
class WriterOutcome:
    stored: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    repeat_returned_original: bool = False


@dataclass
class LoadReport:
    backend: str
    writers: int
    per_writer: int
    elapsed: float
    cpu_seconds: float
    outcomes: list[WriterOutcome]

    @property
    def acknowledged(self) -> list[int]:
        return [response_id for outcome in self.outcomes for response_id in outcome.stored]

    @property
    def errors(self) -> list[BaseException]:
        return [error for outcome in self.outcomes for error in outcome.errors]

    def summary(self) -> dict[str, object]:
        latencies = sorted(latency for outcome in self.outcomes for latency in outcome.latencies)
        percentile = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
        return {
            "backend": self.backend, "writers": self.writers, "submissions": self.writers * self.per_writer,
            "stored": len(self.acknowledged), "errors": len(self.errors), "seconds": round(self.elapsed, 1),
            "per_second": round(len(self.acknowledged) / self.elapsed, 1) if self.elapsed else 0.0,
            "p50_ms": round(percentile[49] * 1000, 1), "p95_ms": round(percentile[94] * 1000, 1),
            "max_ms": round(latencies[-1] * 1000, 1) if latencies else 0.0,
            "process_cpu_s": round(self.cpu_seconds, 1),
        }


def run_load(engine: Engine, target: LoadTarget, *, writers: int, per_writer: int, prefix: str = "load") -> LoadReport:
    """Run ``writers`` threads of ``per_writer`` submissions each, started together; errors are
    collected, not raised, so the caller sees every one that would have reached a user."""
    start_together = threading.Barrier(writers)
    outcomes = [WriterOutcome() for _ in range(writers)]

    def writer(number: int) -> None:
        outcome = outcomes[number]
        start_together.wait()
        for index in range(per_writer):
            started = time.perf_counter()
            try:
                result = submit_one(engine, target, submission_key(prefix, number, index))
            except Exception as error:  # noqa: BLE001 - every error is reported to the caller
                outcome.errors.append(error)
                continue
            outcome.latencies.append(time.perf_counter() - started)
            if not result.duplicate:
                outcome.stored.append(result.response_id)
        try:
            repeat = submit_one(engine, target, submission_key(prefix, number, 0))
        except Exception as error:  # noqa: BLE001
            outcome.errors.append(error)
        else:
            outcome.repeat_returned_original = repeat.duplicate and outcome.stored[:1] == [repeat.response_id]

    threads = [threading.Thread(target=writer, args=(number,), name=f"writer-{number}") for number in range(writers)]
    cpu_before, started = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadReport(engine.dialect.name, writers, per_writer, time.perf_counter() - started,
                      time.process_time() - cpu_before, outcomes)


def submit_until_stopped(engine: Engine, target: LoadTarget, *, writers: int, acknowledge: Callable[[str], None]) -> None:
    """Submit from ``writers`` threads until the process ends, calling ``acknowledge(key)`` only
    after a submission has committed (used by the SIGKILL fault test's child process)."""

    def writer(number: int) -> None:
        index = 0
        while True:
            key = submission_key("kill", number, index)
            submit_one(engine, target, key)
            acknowledge(key)
            index += 1

    threads = [threading.Thread(target=writer, args=(number,), daemon=True) for number in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _measure(url: str, writers: int, per_writer: int) -> dict[str, object]:
    engine = make_engine(url)
    try:
        upgrade_to_head(engine)
        target = prepare_target(engine)
        # The machine may be shared: the 1-minute load average says how busy it was.
        load_average = os.getloadavg()[0]
        report = run_load(engine, target, writers=writers, per_writer=per_writer)
    finally:
        engine.dispose()
    return report.summary() | {"load_average": round(load_average, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Concurrent survey submissions on a fresh SQLite database "
                                                 "(and PostgreSQL with --postgres): throughput and latency.")
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--per-writer", type=int, default=100)
    parser.add_argument("--postgres", help="also run on this PostgreSQL server (a scratch database is created and dropped)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.writers < 1 or args.per_writer < 1:
        parser.error("--writers and --per-writer must be at least 1")
    with tempfile.TemporaryDirectory() as directory:
        results = [_measure(f"sqlite:///{Path(directory) / 'load.db'}", args.writers, args.per_writer)]
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from scripts.bench_catalogue import scratch_postgres

        with scratch_postgres(args.postgres) as url:
            results.append(_measure(url, args.writers, args.per_writer))
    if args.json:
        print(json.dumps(results))
    else:
        for result in results:
            print(", ".join(f"{key}={value}" for key, value in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
