"""The workshop load script (scripts/load_workshop.py): its measuring helpers, and small real runs
through the Streamlit server whose every rating is read back from the database."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from storage.db import make_engine
from storage.workshops import get_workshop, ratings_export
from tests.browser.conftest import CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "load_workshop.py"
RUN_LIMIT_SECONDS = 240


def load_script_module():
    spec = importlib.util.spec_from_file_location("load_workshop", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["load_workshop"] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


load_workshop = load_script_module()


# ---------------------------------------------------------------------------------------------
# Helpers (no server)
# ---------------------------------------------------------------------------------------------


def test_percentile_is_the_nearest_rank():
    values = [0.5, 0.1, 0.4, 0.2, 0.3]  # sorted: 0.1 0.2 0.3 0.4 0.5
    assert load_workshop.percentile(values, 0.50) == 0.3  # ceil(2.5) = 3rd
    assert load_workshop.percentile(values, 0.95) == 0.5  # ceil(4.75) = 5th
    assert load_workshop.percentile(values, 0.20) == 0.1  # ceil(1.0) = 1st
    assert load_workshop.percentile([7.0], 0.95) == 7.0
    twenty = [float(n) for n in range(1, 21)]
    assert load_workshop.percentile(twenty, 0.95) == 19.0  # ceil(19.0) = 19th, not the maximum
    with pytest.raises(ValueError, match="no values"):
        load_workshop.percentile([], 0.5)


def test_latency_summary_rounds_and_handles_no_values():
    summary = load_workshop.latency_summary([0.2, 0.4, 1.2346])
    assert summary == {"count": 3, "p50": 0.4, "p95": 1.235, "max": 1.235, "mean": 0.612}
    assert load_workshop.latency_summary([]) == {"count": 0, "p50": None, "p95": None, "max": None, "mean": None}


def test_server_options_become_streamlit_environment_variables():
    env = load_workshop.server_option_env(["runner.postScriptGC=false", "server.maxMessageSize = 20"])
    assert env == {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "false", "STREAMLIT_SERVER_MAX_MESSAGE_SIZE": "20"}
    for bad in ("postScriptGC=false", "runner.postScriptGC", "=1"):
        with pytest.raises(ValueError, match="section.name=value"):
            load_workshop.server_option_env([bad])


def test_bottleneck_names_the_side_that_limited_the_run():
    assert load_workshop.bottleneck(0.3, 0.9, 1.3, 2).startswith("client")
    assert load_workshop.bottleneck(0.95, 0.05, 1.0, 2).startswith("server")
    # 1.9 of 2 cores busy, 1.1 of them neither the server's nor the client's.
    assert load_workshop.bottleneck(0.7, 0.1, 1.9, 2) == (
        "shared machine (other processes used 1.1 of 2 cores; the server got 0.70)"
    )
    assert load_workshop.bottleneck(0.3, 0.05, 0.5, 2).startswith("neither")


def test_a_room_is_held_to_the_target_of_its_size():
    assert load_workshop.target_for(40) == {"participants": 40, "p95_seconds": 1.0}
    assert load_workshop.target_for(3) == {"participants": 40, "p95_seconds": 1.0}
    large = load_workshop.target_for(150)
    assert large == {"participants": 150, "p95_seconds": 2.0, "join_p95_seconds": 2.0}
    assert load_workshop.target_met(large, 150, 1.9, 1.9, [])
    assert not load_workshop.target_met(large, 150, 1.9, 2.5, []), "joins count for a room of 150"
    assert not load_workshop.target_met(large, 150, 1.9, 1.9, ["participant 3: lost"])
    assert not load_workshop.target_met(load_workshop.target_for(3), 3, 0.1, 0.1, []), "3 cannot meet a 40 target"
    assert load_workshop.bottleneck(1.7, 0.2, 1.95, 2, processes=2).startswith("server (near 2 busy cores")


def test_plans_rotate_groups_and_spread_values_over_the_scale():
    target = load_workshop.WorkshopTarget(workshop_id=1, join_code="ABCDEF", round_number=1, item_ids=(11, 12))
    plans = load_workshop.plan_participants(target, participants=5, saves=2, save_spread=0)
    assert [plan.group for plan in plans] == ["Nurses", "Doctors", "Managers", "Patients", "Nurses"]
    assert all(plan.save_delay == 0 for plan in plans)
    # value = scale value at (participant + 3 * position + save) mod 9, on the 1-9 scale
    assert plans[0].saves[0] == {11: (1, "load p0 s0 i0"), 12: (4, "load p0 s0 i1")}
    assert plans[4].saves[1] == {11: (6, "load p4 s1 i0"), 12: (9, "load p4 s1 i1")}
    spread = load_workshop.plan_participants(target, participants=50, saves=1, save_spread=10)
    assert all(0 <= plan.save_delay <= 10 for plan in spread)
    assert len({plan.save_delay for plan in spread}) == 50


def test_arguments_are_bounded_and_checked(capsys):
    args = load_workshop.parse_args([])
    assert (args.participants, args.items, args.driver, args.saves, args.timeout) == (40, 10, "websocket", 1, 300.0)
    for bad in (["--participants", "0"], ["--participants", "500"], ["--save-spread", "-1"],
                ["--server-option", "gc"], ["--driver", "curl"], ["--url", "http://127.0.0.1:8501"],
                ["--url", "ftp://x", "--database-url", "sqlite:///x.db"], ["--server-pid", "12"],
                ["--url", "http://127.0.0.1:8501", "--database-url", "sqlite:///x.db", "--server-option", "a.b=c"]):
        with pytest.raises(SystemExit):
            load_workshop.parse_args(bad)
    errors = capsys.readouterr().err
    assert "section.name=value" in errors and "--url needs --database-url" in errors
    running = load_workshop.parse_args(["--url", "http://127.0.0.1:8501/", "--database-url", "postgresql://db/x",
                                        "--server-pid", "12", "--server-pid", "13"])
    assert (running.url, running.server_pid) == ("http://127.0.0.1:8501/", [12, 13])


# ---------------------------------------------------------------------------------------------
# Real runs through the server
# ---------------------------------------------------------------------------------------------


def run_script(database_url: str, *arguments: str) -> dict:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--participants", "3", "--items", "2", "--saves", "2", "--json",
         "--timeout", str(RUN_LIMIT_SECONDS), "--database-url", database_url, *arguments],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=RUN_LIMIT_SECONDS + 60,
    )
    assert completed.returncode == 0, f"exit {completed.returncode}\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return json.loads(completed.stdout)


def check_report_and_storage(report: dict, database_url: str, driver: str) -> None:
    assert report["driver"] == driver
    assert (report["participants"], report["items"], report["saves_per_participant"]) == (3, 2, 2)
    assert report["errors"] == []
    save = report["save_latency_seconds"]
    assert save["count"] == 3 * 2
    assert 0 < save["p50"] <= save["p95"] <= save["max"] < RUN_LIMIT_SECONDS
    assert report["join_latency_seconds"]["count"] == 3
    memory = report["server_rss_mb"]
    assert 20 < memory["start"] <= memory["peak"] and memory["samples"] > 1
    assert report["cpu_seconds"]["server"] > 0 and report["cpu_seconds"]["wall"] > 0
    assert report["machine"]["cpus"] >= 1 and "share" in report["machine"]["note"]
    assert report["verification"] == {"participants_with_ratings": 3, "ratings_expected": 6, "ratings_stored": 6,
                                      "duplicates": 0, "mismatches": [], "ok": True}
    assert report["target"]["met"] is False  # 3 participants cannot meet a 40-participant target

    # Read back independently: one row per participant and item, each with the second save's
    # value. Participant p rates item position i (p + 3i + 1) mod 9 + 1 in save 2, so item 1 gets
    # 2, 3, 4 and item 2 gets 5, 6, 7, whatever order the three joined in.
    engine = make_engine(database_url)
    try:
        workshop = get_workshop(engine, report["workshop_id"])
        stored = ratings_export(engine, report["workshop_id"])
    finally:
        engine.dispose()
    assert len(stored) == 6
    assert not stored.duplicated(["round", "item", "participant"]).any()
    assert set(stored["round"]) == {1}
    assert stored["participant"].nunique() == 3
    first, second = (item.key for item in workshop.items)
    assert sorted(stored.loc[stored["item"] == first, "rating"]) == [2, 3, 4]
    assert sorted(stored.loc[stored["item"] == second, "rating"]) == [5, 6, 7]
    assert sorted(stored["reason"]) == sorted(f"load p{p} s1 i{i}" for p in range(3) for i in range(2))


@pytest.fixture
def needs_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("system Chromium not found at /usr/bin/chromium (install the Debian package 'chromium'; .ci/run does)")


@pytest.mark.browser
def test_websocket_driver_stores_every_rating_once(needs_chromium, database_url):
    report = run_script(database_url)
    check_report_and_storage(report, database_url, "websocket")
    assert report["bottleneck"]
    # Like the browser, a click on Save reruns only the rating form's fragment, not the page.
    assert report["saves_rerunning_page"] == 0


@pytest.mark.browser
def test_browser_driver_stores_every_rating_once(needs_chromium, sqlite_url):
    pytest.importorskip("playwright")
    report = run_script(sqlite_url, "--driver", "browser")
    check_report_and_storage(report, sqlite_url, "browser")
