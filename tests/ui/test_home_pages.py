"""The home page of each role says what needs attention, each item linked to where it is dealt
with; with an empty database it says there is nothing to do (issue 13, item 3)."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from analysis.consensus_rules import COMET_RULE
from storage.accounts import SignInRefused, create_user, disable_user, sign_in
from storage.audit import Actor
from storage.catalogue import TechnologyInput, create_technology
from storage.db import make_engine, write_session
from storage.models.catalogue import Technology
from storage.permissions import PermissionDenied
from storage.survey_submit import new_idempotency_key, submit_response
from storage.surveys import CampaignInput, create_campaign, ensure_builtin_instruments, open_by_invitation
from storage.workshops import close_round, create_workshop, open_round
from survey.workshop_rules import IMPACT_SCALE, WorkshopScales, parse_workshop_input
from tests.ui.helpers import open_app, prepare_environment, texts

FACILITATOR = Actor("dev-facilitator", "facilitator")


@pytest.fixture
def engine(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    prepare_environment(monkeypatch, sqlite_url)
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def plain(at) -> str:
    """The visible text with markdown escapes removed (titles are escaped user text)."""
    return texts(at).replace("\\", "")


def links(at) -> list[tuple[str, str, str]]:
    """Every page link: (label, page url path, query string)."""
    return [(link.proto.label, link.proto.page, link.proto.query_string) for link in at.get("page_link")]


def tables(at) -> list:
    return [frame.value for frame in at.dataframe]


def workshop(engine: Engine, title: str, technology_ids: list[int]) -> int:
    data = parse_workshop_input({
        "title": title, "scales": WorkshopScales(default=IMPACT_SCALE), "rule": COMET_RULE, "n_rounds": 2,
        "expires_at": datetime.now(UTC) + timedelta(days=1),
        "items": [{"technology_id": i, "question": "impact_workforce"} for i in technology_ids],
        "groups": [{"name": "Nurses"}, {"name": "Managers"}],
    })  # fmt: skip
    return create_workshop(engine, data, actor=FACILITATOR)


def test_with_an_empty_database_each_home_page_says_nothing_needs_attention(engine: Engine) -> None:
    lead = texts(open_app("lead"))
    for line in ("No campaign is open.", "No workshop is running.", "Every technology has a type.",
                 "Every entry was reviewed in the last 365 days.", "No technology in the catalogue yet."):
        assert line in lead
    facilitator = open_app("facilitator")
    assert "You have no workshop yet." in texts(facilitator)
    assert ("Create or edit workshops", "workshops", "") in links(facilitator)
    admin = open_app("admin")
    assert "No account is locked out or disabled." in texts(admin)
    assert "Nothing has been refused." in texts(admin)
    assert any(s.value.startswith("Schema up to date (revision ") for s in admin.success)
    assert {label: value for label, value in ((m.label, m.value) for m in admin.metric)}["Technologies"] == "0"
    respondent = open_app("respondent")
    assert "Needs attention" not in texts(respondent) and not respondent.get("page_link")


def test_the_lead_sees_campaigns_workshops_entries_to_classify_stale_and_thin(engine: Engine) -> None:
    classified = create_technology(engine, TechnologyInput(name="Reviewed reader", type_code="diagnostics",
                                                           last_reviewed=dt.date.today() - dt.timedelta(days=10)))
    unclassified = create_technology(engine, TechnologyInput(name="Unsorted scribe", last_reviewed=dt.date.today()))
    stale = create_technology(engine, TechnologyInput(name="Old triage", type_code="automation",
                                                      last_reviewed=dt.date.today() - dt.timedelta(days=400)))
    instrument = ensure_builtin_instruments(engine)["clinician_experience"]
    opened = datetime.now(UTC) - timedelta(days=1)
    invited = create_campaign(engine, CampaignInput(instrument_id=instrument, title="Ward survey", opens_at=opened,
                                                    closes_at=opened + timedelta(days=11, hours=1), access="invitation",
                                                    invitations=4))
    submit_response(engine, open_by_invitation(engine, invited.invitation_tokens[0]), {"consent": "no"}, None, new_idempotency_key())
    create_campaign(engine, CampaignInput(instrument_id=instrument, title="Open survey", opens_at=opened))
    running = workshop(engine, "Ward AI workshop", [classified, stale])
    open_round(engine, running, actor=FACILITATOR)
    workshop(engine, "Planned workshop", [classified])

    at = open_app("lead")
    shown = plain(at)
    campaigns = [t for t in tables(at) if "Campaign" in t.columns][0].set_index("Campaign")
    assert campaigns.loc["Ward survey", "Responses"] == 1
    assert campaigns.loc["Ward survey", "Days left"] == "10 days"
    assert campaigns.loc["Ward survey", "Response rate"] == "25% of 4 invited"
    assert campaigns.loc["Open survey", "Days left"] == "no end date"
    assert campaigns.loc["Open survey", "Response rate"] == "not known (open link)"
    assert "Ward AI workshop" in shown and "round 1 of 2 open for ratings (0 joined)" in shown
    assert "Planned workshop" not in shown  # not running
    assert "1 technologies have no type yet" in shown
    assert "1 entries were never reviewed or not in the last 365 days." in shown
    found = links(at)
    assert ("Manage campaigns", "campaigns", "") in found
    assert ("Run it", "run-workshop", f"workshop={running}") in found
    assert ("Unsorted scribe — set its type", "manage-catalogue", f"technology={unclassified}") in found
    assert any(label.startswith("Old triage — last reviewed ") and query == f"technology={stale}"
               for label, _page, query in found)
    thin = [t for t in tables(at) if "Missing evidence (of 3)" in t.columns][0]
    assert thin["Technology"].iloc[0] == "Old triage"  # no survey, no workshop result, stale
    assert set(thin["Type"]) == {"Diagnostics", "Automation and service efficiency", "To classify"}

    # The link opens the entry for editing.
    at.query_params["technology"] = str(unclassified)
    at.switch_page("views/catalogue_admin.py")
    at.run()
    assert not at.exception
    assert at.selectbox(key="edit_choice").value == unclassified


def test_the_facilitator_sees_each_workshop_and_what_to_do_next(engine: Engine) -> None:
    with write_session(engine) as session:
        tools = [Technology(name=f"Triage tool {i}", company="Co") for i in range(2)]
        session.add_all(tools)
        session.flush()
        ids = [tool.id for tool in tools]
    draft = workshop(engine, "Draft workshop", ids)
    between = workshop(engine, "Between rounds", ids)
    open_round(engine, between, actor=FACILITATOR)
    close_round(engine, between, actor=FACILITATOR)
    other = create_workshop(engine, parse_workshop_input({
        "title": "Someone else's", "scales": WorkshopScales(default=IMPACT_SCALE), "rule": COMET_RULE,
        "expires_at": datetime.now(UTC) + timedelta(days=1), "items": [{"technology_id": ids[0], "question": "impact_workforce"}],
        "groups": [{"name": "Nurses"}]}), actor=Actor("another-facilitator", "facilitator"))
    at = open_app("facilitator")
    shown = plain(at)
    assert "Draft workshop" in shown and "not started (2 items, 2 groups)" in shown
    assert "Between rounds" in shown and "round 1 of 2 closed; next round to open" in shown
    assert "Someone else" not in shown
    found = links(at)
    assert ("Start it", "run-workshop", f"workshop={draft}") in found
    assert ("Run it", "run-workshop", f"workshop={between}") in found
    assert not any(query == f"workshop={other}" for _label, _page, query in found)


def test_the_administrator_sees_locked_accounts_refusals_and_the_database(engine: Engine) -> None:
    create_user(engine, "locked.person", "lead", password="a long enough passphrase 1")
    create_user(engine, "left.person", "facilitator", password="a long enough passphrase 2")
    disable_user(engine, "left.person")
    for _ in range(5):
        with pytest.raises(SignInRefused):
            sign_in(engine, "locked.person", "wrong password")
    with pytest.raises(PermissionDenied):
        disable_user(engine, "left.person", actor=Actor("user:77", "lead"))
    create_technology(engine, TechnologyInput(name="Counted tool", type_code="diagnostics"))
    at = open_app("admin")
    accounts = [t for t in tables(at) if "User name" in t.columns][0].set_index("User name")
    assert accounts.loc["locked.person", "Reason"] == "locked out"
    assert accounts.loc["left.person", "Reason"] == "disabled"
    refusals = [t for t in tables(at) if "Time (UTC)" in t.columns][0]
    assert refusals["Actor"].tolist()[0] == "user:77" and refusals["Action"].tolist()[0] == "access_refused"
    assert {m.label: m.value for m in at.metric}["Technologies"] == "1"
    found = {page for _label, page, _query in links(at)}
    assert {"admin-users", "admin-audit", "admin-settings"} <= found
