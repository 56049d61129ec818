"""Two app processes sharing one database each see the other's new survey responses on their next
render (DESIGN.md section 6: caches are accelerators checked against the data, never the truth).

Each process (tests/ui/app_process.py) runs the Estimates page in AppTest with its own warm
analysis cache; a response stored by one shows in the other's respondent count on its next render,
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from storage.catalogue import TechnologyInput, create_technology
from storage.db import make_engine
from storage.survey_submit import submit_response
from storage.surveys import CampaignInput, create_campaign, ensure_builtin_instruments

ROOT = Path(__file__).resolve().parents[2]


class AppProcess:
    def __init__(self, url: str, campaign_id: int, technology_id: int) -> None:
        env = {**os.environ, "ROADMAP_DATABASE_URL": url, "ROADMAP_DEV_LOGIN": "1"}
        for setting in ("ROADMAP_DEMO_ON_FIRST_START", "ROADMAP_DISCLOSURE_THRESHOLD"):
            env.pop(setting, None)
        self.process = subprocess.Popen([sys.executable, "-m", "tests.ui.app_process", str(campaign_id), str(technology_id)],
                                        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, command: str) -> str:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        assert answer, f"the app process ended (exit status {self.process.poll()})"
        return answer

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def test_two_app_processes_see_each_others_responses_on_their_next_render(database_url: str) -> None:
    engine = make_engine(database_url)
    technology_id = create_technology(engine, TechnologyInput(name="Shared tool", type_code="automation"))
    instrument = ensure_builtin_instruments(engine)["clinician_experience"]
    campaign_id = create_campaign(engine, CampaignInput(instrument_id=instrument, title="Shared campaign",
                                                        opens_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))).campaign_id
    # Enough respondents to pass the disclosure threshold (5), so the count is shown.
    for index in range(5):
        submit_response(engine, campaign_id, {"consent": "yes", "staff_group": "nurse"},
                        {technology_id: {"tech_use_frequency": "weekly", "tech_impact_workforce": "low"}}, f"seed-{index}")
    engine.dispose()
    first, second = AppProcess(database_url, campaign_id, technology_id), AppProcess(database_url, campaign_id, technology_id)
    try:
        assert first.ask("render") == "5" and second.ask("render") == "5"  # both caches warm
        assert first.ask("submit from-first-1") == "ok"
        assert second.ask("render") == "6"  # the other process's write, on the next render
        assert first.ask("render") == "6"
        assert second.ask("submit from-second-1") == "ok"
        assert second.ask("submit from-second-2") == "ok"
        assert first.ask("render") == "8"
        assert second.ask("render") == "8"
    finally:
        first.close()
        second.close()
