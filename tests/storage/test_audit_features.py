"""Surveys, workshops and vocabularies in the audit trail, their retention hooks, and a respondent
deleting their own response with its receipt code. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from analysis.consensus_rules import RAM_RULE
from storage.accounts import create_user
from storage.audit import Actor, cli_actor
from storage.catalogue import data_version
from storage.db import read_session, write_session
from storage.exports import table_bytes
from storage.models.accounts import AuditEvent
from storage.models.base import utcnow
from storage.models.survey import SurveyAnswer, SurveyDraft, SurveyInvitation, SurveyResponse
from storage.models.workshop import Participant, Rating
from storage.permissions import PermissionDenied
from storage.retention import erase_person, purge_expired
from storage.security import PseudonymKeyRing, pseudonymise
from storage.survey_codes import code_digest
from storage.survey_io import export_instrument_dictionary, export_responses, export_responses_file, import_responses
from storage.survey_submit import submit_response
from storage.surveys import (
    CampaignInput,
    DeletedResponse,
    add_invitations,
    close_campaign,
    create_campaign,
    delete_response_by_receipt,
    ensure_builtin_instruments,
    instrument_by_id,
    open_by_invitation,
    resume_draft,
    save_draft,
    save_instrument,
    submission_by_receipt,
)
from storage.vocabularies import save_crosswalk, save_vocabulary, terms
from storage.workshops import (
    close_round,
    close_workshop,
    create_workshop,
    delete_workshop,
    drop_item,
    export_workshop_table,
    get_workshop,
    list_all_workshops,
    list_workshops,
    open_round,
    set_invited,
    update_workshop,
)
from survey.workshop_rules import WorkshopError, parse_workshop_input
from survey.instrument import builtin_instruments
from tests.storage.test_survey_repository import NOW, PROFILE, add_technologies, campaign, count, tech_block
from tests.storage.test_workshops import ALICE, BOB, START, join, rate_all, setup_values

LEAD = Actor("user:7", "lead")
FACILITATOR = Actor("user:8", "facilitator")
KEYRING = PseudonymKeyRing("v1", {"v1": "k" * 40})
FREE_TEXT = "Ask Dr Jane Roe on 07700 900123"
EMAIL = "jane.roe@nhs.net"


def events(engine, *actions: str) -> list[AuditEvent]:
    with read_session(engine) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action.in_(actions)).order_by(AuditEvent.id)))


def assert_no_personal_data(event: AuditEvent, *personal: str) -> None:
    """The event holds identifiers and codes only: none of the given values, no e-mail, no free text."""
    text = json.dumps({"actor": event.actor, "target": event.target, "details": event.details})
    for value in (*personal, FREE_TEXT, EMAIL, "Jane"):
        assert value not in text
    assert "@" not in text


def instrument_id(engine, name: str = "clinician_experience") -> int:
    return ensure_builtin_instruments(engine)[name]


# --------------------------------------------------------------------------- surveys: audited actions


def test_instrument_create_and_import_are_audited(engine) -> None:
    ids = ensure_builtin_instruments(engine)
    created = events(engine, "instrument_create")
    assert sorted(e.target for e in created) == sorted(f"instrument:{i}" for i in ids.values())
    assert {(e.actor, e.role, e.outcome) for e in created} == {("system", "system", "success")}
    imported = builtin_instruments()["clinician_experience"].model_copy(update={"name": "imported_survey", "version": 3})
    new_id = save_instrument(engine, imported, "redcap", ["row 4: calc field skipped"], actor=LEAD)
    [event] = events(engine, "instrument_import")
    assert (event.actor, event.role, event.target, event.outcome) == ("user:7", "lead", f"instrument:{new_id}", "success")
    assert event.details == {"source": "redcap", "version": 3, "questions": sum(1 for _ in imported.answer_slots()), "warnings": 1}
    # Publishing the identical definition again changes nothing and records nothing.
    assert save_instrument(engine, imported, "redcap", actor=LEAD) == new_id
    assert len(events(engine, "instrument_import")) == 1
    with pytest.raises(PermissionDenied):
        save_instrument(engine, imported, "redcap", actor=FACILITATOR)


def test_campaign_create_update_and_close_are_audited(engine) -> None:
    data = CampaignInput(instrument_id=instrument_id(engine), title="Staff survey (Jane Roe's team)", opens_at=NOW,
                         access="invitation", invitations=3)
    created = create_campaign(engine, data, actor=LEAD)
    add_invitations(engine, created.campaign_id, 2, actor=LEAD)
    close_campaign(engine, created.campaign_id, actor=LEAD)
    close_campaign(engine, created.campaign_id, actor=LEAD)  # already closed: nothing changes, nothing recorded
    recorded = events(engine, "campaign_create", "campaign_update", "campaign_close")
    target = f"campaign:{created.campaign_id}"
    assert [(e.action, e.actor, e.target) for e in recorded] == [
        ("campaign_create", "user:7", target), ("campaign_update", "user:7", target), ("campaign_close", "user:7", target)]
    assert recorded[0].details == {"instrument_id": data.instrument_id, "access": "invitation", "anonymous": True,
                                   "invitations": 3, "is_demo": False}
    assert recorded[1].details == {"invitations_added": 2}
    for event in recorded:
        assert_no_personal_data(event, "Staff survey", *created.invitation_tokens)
    with pytest.raises(PermissionDenied):
        create_campaign(engine, data, actor=Actor("user:8", "respondent"))
    assert len(events(engine, "campaign_create")) == 1


def test_response_submit_is_audited_as_anonymous_or_the_pseudonym(engine) -> None:
    anonymous = campaign(engine)
    identified = campaign(engine, anonymous=False)
    first = submit_response(engine, anonymous.campaign_id, PROFILE | {"comments": FREE_TEXT}, {}, "k1",
                            respondent_id="user:9", keyring=KEYRING, now=NOW)
    second = submit_response(engine, identified.campaign_id, PROFILE, {}, "k2", respondent_id="user:9", keyring=KEYRING, now=NOW)
    again = submit_response(engine, identified.campaign_id, PROFILE, {}, "k2", respondent_id="user:9", keyring=KEYRING, now=NOW)
    assert again.duplicate
    submitted = events(engine, "response_submit")
    assert [(e.actor, e.role, e.target, e.outcome) for e in submitted] == [
        ("anonymous", "anonymous", f"response:{first.response_id}", "success"),
        (pseudonymise("user:9", KEYRING), "respondent", f"response:{second.response_id}", "success"),
    ]
    assert submitted[0].details == {"campaign_id": anonymous.campaign_id, "instrument_id": instrument_id(engine),
                                    "source": "app", "technologies": 0, "invitation": False}
    for event in submitted:
        assert_no_personal_data(event, "user:9", first.receipt_code, second.receipt_code)


def test_response_import_is_audited_with_counts(engine) -> None:
    [tool] = add_technologies(engine, 1)
    created = campaign(engine)
    submit_response(engine, created.campaign_id, PROFILE | {"comments": FREE_TEXT}, {tool: tech_block()}, "k1", now=NOW)
    submit_response(engine, created.campaign_id, PROFILE, {}, "k2", now=NOW)
    flat = table_bytes(export_responses(engine, "clinician_experience"), "csv")
    import_responses(engine, "clinician_experience", flat, actor=LEAD)
    import_responses(engine, "clinician_experience", flat, actor=LEAD)  # the same file again adds nothing
    first, second = events(engine, "response_import")
    assert (first.actor, first.target) == ("user:7", f"instrument:{instrument_id(engine)}")
    assert first.details == {"records": 2, "imported": 2, "already_imported": 0}
    assert second.details == {"records": 2, "imported": 0, "already_imported": 2}
    assert_no_personal_data(first)
    with pytest.raises(PermissionDenied):
        import_responses(engine, "clinician_experience", flat, actor=FACILITATOR)


def test_response_and_instrument_exports_are_audited(engine) -> None:
    created = campaign(engine)
    submit_response(engine, created.campaign_id, PROFILE | {"comments": "=HYPERLINK(\"http://x\")"}, {}, "k1", now=NOW)
    frame = export_responses(engine, "clinician_experience")
    exported = export_responses_file(engine, "clinician_experience", "csv", actor=cli_actor())
    assert "'=HYPERLINK" in exported.content.decode("utf-8-sig")  # written through the formula-safe export
    assert (exported.records, exported.rows) == (1, len(frame))
    deidentified = export_responses_file(engine, "clinician_experience", "xlsx", deidentified=True, keyring=KEYRING, actor=LEAD)
    assert deidentified.content[:2] == b"PK"
    stored, text = export_instrument_dictionary(engine, "clinician_experience", actor=LEAD)
    assert stored.id == instrument_id(engine) and text.startswith("Variable / Field Name")
    first, second, third = events(engine, "export")
    target = f"responses:instrument:{instrument_id(engine)}"
    assert (first.actor, first.role, first.target) == (cli_actor().user_id, "admin", target)
    assert first.details == {"format": "csv", "records": 1, "rows": len(frame), "deidentified": False, "labels": False,
                             "campaign_id": None}
    assert (second.actor, second.details["format"], second.details["deidentified"]) == ("user:7", "xlsx", True)
    assert (third.target, third.details["format"]) == (f"instrument:{instrument_id(engine)}", "redcap_dictionary")
    with pytest.raises(PermissionDenied):
        export_responses_file(engine, "clinician_experience", "csv", actor=FACILITATOR)
    assert len(events(engine, "export")) == 3


def test_vocabulary_and_crosswalk_saves_are_audited_in_their_transaction(engine) -> None:
    with read_session(engine) as session:
        current = [{"code": t.code, "label": t.label, "active": t.active} for t in terms(session, "clinical_area", include_inactive=True)]
    save_vocabulary(engine, "clinical_area", [*current, {"code": "test_area", "label": "Test area"}], actor=LEAD)
    save_crosswalk(engine, [{"panel": "Radiology", "clinical_area": current[0]["code"]}], actor=LEAD)
    vocabulary, crosswalk = events(engine, "vocabulary_update")
    assert (vocabulary.actor, vocabulary.target, vocabulary.details) == (
        "user:7", "vocabulary:clinical_area", {"terms": len(current) + 1, "added": 1, "removed": 0})
    assert (crosswalk.target, crosswalk.details) == ("vocabulary:fda_panel_crosswalk", {"terms": 1})
    with pytest.raises(PermissionDenied):
        save_crosswalk(engine, [], actor=FACILITATOR)
    assert len(events(engine, "vocabulary_update")) == 2


# --------------------------------------------------------------------------- surveys: deleting one's own response


def answers_of(engine, response_id: int) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(SurveyAnswer).where(SurveyAnswer.response_id == response_id))


def test_a_respondent_deletes_their_response_with_the_receipt_code(engine) -> None:
    [tool] = add_technologies(engine, 1)
    invited = campaign(engine, access="invitation", invitations=1)
    access = open_by_invitation(engine, invited.invitation_tokens[0], now=NOW)
    save_draft(engine, access, {"answers": {"comments": FREE_TEXT}}, now=NOW)  # a draft of the same invitation
    mine = submit_response(engine, access, PROFILE | {"comments": FREE_TEXT}, {tool: tech_block()}, "k1", now=NOW)
    other = submit_response(engine, campaign(engine).campaign_id, PROFILE, {}, "k2", now=NOW)
    mine_answers, other_answers = answers_of(engine, mine.response_id), answers_of(engine, other.response_id)
    assert mine_answers == 6 + 1 + 3  # profile (two archetypes: two rows), comments, three per technology
    version = data_version(engine)

    # Case, spaces and dashes do not matter, as for the lookup.
    deleted = delete_response_by_receipt(engine, mine.receipt_code.lower().replace("-", " "))

    title = instrument_by_id(engine, instrument_id(engine)).title
    assert deleted == DeletedResponse(mine.response_id, title, mine_answers)
    assert submission_by_receipt(engine, mine.receipt_code) is None
    assert count(engine, SurveyResponse) == 1 and answers_of(engine, mine.response_id) == 0
    assert answers_of(engine, other.response_id) == other_answers
    assert count(engine, SurveyDraft) == 0
    with read_session(engine) as session:
        invitation = session.scalar(select(SurveyInvitation))
    assert invitation.used_at is not None and invitation.response_id is None  # the link stays used
    assert data_version(engine) == version + 1
    [event] = events(engine, "response_delete")
    assert (event.actor, event.role, event.target, event.outcome) == ("anonymous", "anonymous", f"response:{mine.response_id}", "success")
    assert event.details == {"campaign_id": invited.campaign_id, "answers": mine_answers, "by": "receipt_code"}
    assert_no_personal_data(event, mine.receipt_code)
    # A used, unknown or malformed code deletes nothing.
    assert delete_response_by_receipt(engine, mine.receipt_code) is None
    assert delete_response_by_receipt(engine, "ZZZZ-ZZZZ-ZZZZ-ZZZZ") is None
    assert delete_response_by_receipt(engine, "not a code") is None
    assert count(engine, SurveyResponse) == 1 and len(events(engine, "response_delete")) == 1


def test_deleting_an_identified_response_is_recorded_under_the_pseudonym(engine) -> None:
    identified = campaign(engine, anonymous=False)
    mine = submit_response(engine, identified.campaign_id, PROFILE, {}, "k1", respondent_id="user:9", keyring=KEYRING, now=NOW)
    delete_response_by_receipt(engine, mine.receipt_code)
    [event] = events(engine, "response_delete")
    assert (event.actor, event.role) == (pseudonymise("user:9", KEYRING), "respondent")


# --------------------------------------------------------------------------- surveys: retention and erasure


def test_survey_purge_removes_old_drafts_and_old_free_text_only(engine) -> None:
    now = utcnow()
    old, recent = now - timedelta(days=400), now - timedelta(days=10)
    [tool] = add_technologies(engine, 1)
    created = campaign(engine, opens_at=now - timedelta(days=500))
    with_text = PROFILE | {"comments": FREE_TEXT, "follow_up": "yes", "contact_email": EMAIL}
    old_text = submit_response(engine, created.campaign_id, with_text, {tool: tech_block()}, "k1", now=old)
    old_plain = submit_response(engine, created.campaign_id, PROFILE, {}, "k2", now=old)
    new_text = submit_response(engine, created.campaign_id, with_text, {}, "k3", now=recent)
    access = open_by_invitation(engine, campaign(engine, opens_at=now - timedelta(days=500), access="invitation",
                                                 invitations=2).invitation_tokens[0])
    stale = save_draft(engine, access, {"answers": {"comments": FREE_TEXT}})
    save_draft(engine, access, {"answers": {"comments": "kept"}})
    with write_session(engine) as session:
        session.execute(update(SurveyDraft).where(SurveyDraft.resume_hash == code_digest(stale)).values(updated_at=old))
    before = {r: answers_of(engine, r.response_id) for r in (old_text, old_plain, new_text)}

    counts = purge_expired(engine, 365, now=now)

    assert counts["surveys"] == 2  # one old draft + one old response that held free text
    assert resume_draft(engine, stale) is None and count(engine, SurveyDraft) == 1
    with read_session(engine) as session:
        documents = dict(session.execute(select(SurveyResponse.id, SurveyResponse.document)).all())
        variables = {r: set(session.scalars(select(SurveyAnswer.variable).where(SurveyAnswer.response_id == r))) for r in documents}
    purged = documents[old_text.response_id]
    assert {"comments", "contact_email"}.isdisjoint(purged["answers"]) and purged["answers"]["follow_up"] == "yes"
    assert purged["technologies"] == {str(tool): tech_block() | {"tech_minutes_per_case": 4.5}}
    assert {"comments", "contact_email"}.isdisjoint(variables[old_text.response_id])
    assert answers_of(engine, old_text.response_id) == before[old_text] - 2
    assert answers_of(engine, old_plain.response_id) == before[old_plain]
    assert documents[new_text.response_id]["answers"]["comments"] == FREE_TEXT  # inside the retention period
    assert {"comments", "contact_email"} <= variables[new_text.response_id]
    [event] = events(engine, "retention_purge")
    assert event.details["rows"]["surveys"] == 2
    assert_no_personal_data(event)
    assert purge_expired(engine, 365, now=now)["surveys"] == 0  # nothing left to purge


def test_erasure_deletes_a_persons_responses_under_every_key_version(engine) -> None:
    account = create_user(engine, "carol", "respondent", password="plum orchard lantern 42", email="carol@nhs.net")
    old_ring = PseudonymKeyRing("v1", {"v1": "o" * 40})
    rotated = PseudonymKeyRing("v2", {"v1": "o" * 40, "v2": "n" * 40})
    identified = campaign(engine, anonymous=False)
    invited = campaign(engine, anonymous=False, access="invitation", invitations=1)
    me = f"user:{account.id}"
    before_rotation = submit_response(engine, identified.campaign_id, PROFILE, {}, "k1", respondent_id=me, keyring=old_ring, now=NOW)
    access = open_by_invitation(engine, invited.invitation_tokens[0], now=NOW)
    save_draft(engine, access, {"answers": {}}, now=NOW)
    after_rotation = submit_response(engine, access, PROFILE, {}, "k2", respondent_id=me, keyring=rotated, now=NOW)
    someone_else = submit_response(engine, identified.campaign_id, PROFILE, {}, "k3", respondent_id="user:999", keyring=rotated, now=NOW)
    anonymous = submit_response(engine, campaign(engine).campaign_id, PROFILE, {}, "k4", respondent_id=me, keyring=rotated, now=NOW)
    with read_session(engine) as session:
        stored = dict(session.execute(select(SurveyResponse.id, SurveyResponse.respondent)).all())
    assert stored[before_rotation.response_id].startswith("v1:") and stored[after_rotation.response_id].startswith("v2:")

    counts = erase_person(engine, "carol@nhs.net", keyring=rotated)

    assert counts["surveys"] == 3  # two responses and the draft of the invitation one used
    with read_session(engine) as session:
        left = set(session.scalars(select(SurveyResponse.id)))
    assert left == {someone_else.response_id, anonymous.response_id}
    assert count(engine, SurveyDraft) == 0
    assert answers_of(engine, before_rotation.response_id) == answers_of(engine, after_rotation.response_id) == 0
    [event] = events(engine, "response_erase")
    assert event.target == f"user:{account.id}" and event.details["rows"]["surveys"] == 3
    assert_no_personal_data(event, "carol")


# --------------------------------------------------------------------------- workshops


def workshop_events(engine) -> list[tuple[str, str, dict]]:
    actions = ("workshop_create", "workshop_update", "workshop_delete", "round_open", "round_close", "export")
    return [(e.action, e.actor, e.details) for e in events(engine, *actions)]


def test_a_workshops_life_is_audited(engine) -> None:
    technologies = add_technologies(engine, 2)
    workshop = create_workshop(engine, parse_workshop_input(setup_values(technologies)), now=START, actor=ALICE)
    view = get_workshop(engine, workshop, actor=ALICE)
    update_workshop(engine, workshop, parse_workshop_input({**view.as_input_values(), "title": "Renamed"}), actor=ALICE)
    view = get_workshop(engine, workshop, actor=ALICE)  # a draft's items are stored anew on every save
    open_round(engine, workshop, now=START, actor=ALICE)
    rate_all(engine, workshop, join(engine, workshop), 1, [7, 8], reason=FREE_TEXT)
    with pytest.raises(WorkshopError, match="frozen"):  # refused: its event is rolled back with it
        update_workshop(engine, workshop, parse_workshop_input({**view.as_input_values(), "rule": RAM_RULE}), actor=ALICE)
    close_round(engine, workshop, now=START, actor=ALICE)
    drop_item(engine, workshop, view.items[0].id, "Consensus in after round 1", actor=ALICE)
    set_invited(engine, workshop, {view.groups[0].id: 5}, actor=ALICE)
    open_round(engine, workshop, now=START, actor=ALICE)
    close_workshop(engine, workshop, now=START, actor=ALICE)
    content, rows = export_workshop_table(engine, workshop, "ratings", "csv", actor=LEAD)
    delete_workshop(engine, workshop, actor=LEAD)

    assert rows == 2 and FREE_TEXT in content.decode("utf-8-sig")
    assert workshop_events(engine) == [
        ("workshop_create", "alice", {"items": 2, "groups": 2, "rounds": 2, "rule": "comet", "every_group": False, "is_demo": False}),
        ("workshop_update", "alice", {"change": "setup", "frozen": False}),
        ("round_open", "alice", {"round": 1, "rule_frozen": True}),
        ("round_close", "alice", {"round": 1, "ratings": 2}),
        ("workshop_update", "alice", {"change": "drop_item", "item_id": view.items[0].id, "after_round": 1}),
        ("workshop_update", "alice", {"change": "invited", "groups": 1}),
        ("round_open", "alice", {"round": 2, "rule_frozen": False}),
        ("round_close", "alice", {"round": 2, "ratings": 0}),
        ("workshop_update", "alice", {"change": "close", "rounds": 2}),
        ("export", "user:7", {"table": "ratings", "format": "csv", "rows": 2}),
        ("workshop_delete", "user:7", {"status": "closed", "rounds": 2, "is_demo": False}),
    ]
    assert {e.target for e in events(engine, "workshop_create", "round_open", "workshop_delete")} == {f"workshop:{workshop}"}
    for event in events(engine, "workshop_update", "round_close", "export"):
        assert_no_personal_data(event, "Renamed", "Consensus in")


def test_workshop_guards_keep_ownership_and_every_workshop_needs_a_lead(engine) -> None:
    technologies = add_technologies(engine, 1)
    mine = create_workshop(engine, parse_workshop_input(setup_values(technologies)), now=START, actor=ALICE)
    assert list_workshops(engine, actor=BOB).empty
    assert list_all_workshops(engine, actor=LEAD)["workshop_id"].tolist() == [mine]
    assert list_all_workshops(engine, actor=cli_actor())["owner_user_id"].tolist() == ["alice"]
    with pytest.raises(PermissionDenied):
        list_all_workshops(engine, actor=ALICE)
    with pytest.raises(PermissionDenied):
        open_round(engine, mine, actor=Actor("user:3", "respondent"))
    with pytest.raises(WorkshopError, match="not its facilitator"):
        delete_workshop(engine, mine, actor=BOB)
    assert [e.target for e in events(engine, "access_refused")] == [
        "function:storage.workshops.list_all_workshops", "function:storage.workshops.open_round"]
    assert events(engine, "workshop_delete") == []


def test_workshop_purge_blanks_old_reasons_and_keeps_the_ratings(engine) -> None:
    now = utcnow()
    technologies = add_technologies(engine, 2)
    workshop = create_workshop(engine, parse_workshop_input(setup_values(technologies)), now=START, actor=ALICE)
    open_round(engine, workshop, now=START, actor=ALICE)
    rate_all(engine, workshop, join(engine, workshop), 1, [7, 8], reason=FREE_TEXT)
    rate_all(engine, workshop, join(engine, workshop), 1, [2, 3])  # no reasons: nothing to blank
    rate_all(engine, workshop, join(engine, workshop), 1, [5, 5], reason="recent reason")
    old = now - timedelta(days=400)
    with write_session(engine) as session:
        first, second, third = session.scalars(select(Participant.id).order_by(Participant.id)).all()
        session.execute(update(Rating).where(Rating.participant_id.in_([first, second])).values(updated_at=old))

    counts = purge_expired(engine, 365, now=now)

    assert counts["workshops"] == 2
    with read_session(engine) as session:
        rows = session.execute(select(Rating.participant_id, Rating.value, Rating.reason, Rating.updated_at).order_by(Rating.id)).all()
    assert [(p, v, r) for p, v, r, _ in rows] == [(first, 7, ""), (first, 8, ""), (second, 2, ""), (second, 3, ""),
                                                  (third, 5, "recent reason"), (third, 5, "recent reason")]
    # The purge keeps each rating's time of change (it is not the participant's change).
    assert all(abs((u.replace(tzinfo=old.tzinfo) if u.tzinfo is None else u) - old) < timedelta(seconds=1)
               for p, _, _, u in rows if p != third)
    [event] = events(engine, "retention_purge")
    assert event.details["rows"]["workshops"] == 2
    create_user(engine, "dave", "facilitator", password="plum orchard lantern 42")
    assert erase_person(engine, "dave", keyring=KEYRING)["workshops"] == 0
    assert count(engine, Rating) == 6
