"""The audit trail: fixed vocabulary, no personal data, append-only (ORM and database triggers),
written in the same transaction as the change, and an event for each catalogue action."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DatabaseError

from storage.audit import (
    ACTIONS,
    AUDIT_COLUMNS,
    Actor,
    AuditAppendOnly,
    AuditError,
    AuditFilter,
    audit_frame,
    cli_actor,
    record_audit,
)
from storage.catalogue import (
    TechnologyInput,
    create_technology,
    delete_technology,
    update_technology,
)
from storage.catalogue_io import export_catalogue, import_catalogue
from storage.db import read_session, write_session
from storage.models.accounts import AuditEvent
from storage.models.base import utcnow
from storage.permissions import PermissionDenied

LEAD = Actor("user:7", "lead")


def all_events(engine) -> list[AuditEvent]:
    with read_session(engine) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_an_event_has_every_field(engine) -> None:
    before = utcnow()
    with write_session(engine) as session:
        record_audit(session, LEAD, None, "export", "catalogue", "success", {"format": "csv", "rows": 12})
    [event] = all_events(engine)
    occurred = event.occurred_at if event.occurred_at.tzinfo else event.occurred_at.replace(tzinfo=before.tzinfo)
    assert before - timedelta(seconds=1) <= occurred <= utcnow()
    assert (event.actor, event.role, event.action, event.target, event.outcome) == ("user:7", "lead", "export", "catalogue", "success")
    assert event.details == {"format": "csv", "rows": 12}


def test_role_argument_overrides_and_plain_actor_strings(engine) -> None:
    with write_session(engine) as session:
        record_audit(session, "anonymous", None, "access_refused", "page:admin_users", "refused")
        record_audit(session, None, None, "retention_purge", "retention")
        record_audit(session, LEAD, "admin", "role_change", "user:3")
    assert [(e.actor, e.role) for e in all_events(engine)] == [("anonymous", "anonymous"), ("system", "system"), ("user:7", "admin")]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"action": "catalogue_rename"}, "unknown audit action 'catalogue_rename'"),
    ({"outcome": "maybe"}, "unknown audit outcome 'maybe'"),
    ({"target": "Jane Smith"}, "target 'Jane Smith' must be an identifier"),
    ({"details": {"email": "jane.smith@nhs.net"}}, "detail 'email' 'jane.smith@nhs.net' must be an identifier"),
    ({"details": {"comment": "I think the tool is great"}}, "must be an identifier"),
    ({"details": {"Bad Key": 1}}, "detail key 'Bad Key'"),
    ({"details": {"nested": {"deeper": {"x": 1}}}}, "must be a number, flag, code"),
    ({"details": {"names": ["ok", "Jane Smith"]}}, "must be an identifier"),
])
def test_events_refuse_unknown_actions_and_anything_like_personal_data(engine, kwargs: dict, message: str) -> None:
    values = {"action": "export", "target": "catalogue", "outcome": "success", "details": None} | kwargs
    with pytest.raises(AuditError, match=message), write_session(engine) as session:
        record_audit(session, LEAD, None, values["action"], values["target"], values["outcome"], values["details"])
    assert all_events(engine) == []


def test_the_vocabulary_covers_the_issue_list() -> None:
    required = {"sign_in_success", "sign_in_failure", "access_refused", "catalogue_create", "catalogue_update", "catalogue_delete",
                "catalogue_import", "vocabulary_update", "instrument_import", "campaign_create", "campaign_close", "response_submit",
                "response_delete", "response_erase", "workshop_create", "workshop_update", "round_open", "round_close", "export",
                "download", "role_change", "user_create", "user_disable", "retention_purge"}
    assert required <= set(ACTIONS)


def test_orm_refuses_to_change_or_delete_events(engine) -> None:
    with write_session(engine) as session:
        record_audit(session, LEAD, None, "export", "catalogue")
    with pytest.raises(AuditAppendOnly, match="cannot be changed"), write_session(engine) as session:
        session.scalar(select(AuditEvent)).outcome = "failure"
    with pytest.raises(AuditAppendOnly, match="cannot be deleted"), write_session(engine) as session:
        session.delete(session.scalar(select(AuditEvent)))
    assert [e.outcome for e in all_events(engine)] == ["success"]


@pytest.mark.parametrize("statement", [
    update(AuditEvent).values(outcome="failure"),
    delete(AuditEvent),
    text("UPDATE audit_event SET actor = 'someone-else'"),
    text("DELETE FROM audit_event"),
])
def test_database_triggers_refuse_update_and_delete(engine, statement) -> None:
    with write_session(engine) as session:
        record_audit(session, LEAD, None, "export", "catalogue")
    with pytest.raises(DatabaseError, match="append-only"), write_session(engine) as session:
        session.execute(statement)
    [event] = all_events(engine)
    assert (event.actor, event.outcome) == ("user:7", "success")


def test_audit_code_paths_never_update_or_delete() -> None:
    """No module writes UPDATE/DELETE against the audit table (the triggers would refuse anyway)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in list((root / "storage").rglob("*.py")) + list((root / "streamlit_app").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        source = path.read_text(encoding="utf-8")
        for pattern in ("update(AuditEvent)", "delete(AuditEvent)", "UPDATE audit_event", "DELETE FROM audit_event"):
            if pattern in source:
                offenders.append(f"{path.relative_to(root)}: {pattern}")
    assert offenders == []


def _input(name: str, **extra) -> TechnologyInput:
    return TechnologyInput(name=name, company="Acme", **extra)


def test_catalogue_create_update_delete_are_audited_with_field_names_only(engine) -> None:
    technology_id = create_technology(engine, _input("Ward triage"), actor=LEAD)
    update_technology(engine, technology_id, _input("Ward triage", short_description="Now with <b>secret</b> text"), actor=LEAD)
    delete_technology(engine, technology_id, actor=LEAD)
    events = all_events(engine)
    assert [(e.action, e.target, e.actor, e.role) for e in events] == [
        ("catalogue_create", f"technology:{technology_id}", "user:7", "lead"),
        ("catalogue_update", f"technology:{technology_id}", "user:7", "lead"),
        ("catalogue_delete", f"technology:{technology_id}", "user:7", "lead"),
    ]
    assert events[1].details == {"fields": ["short_description"]}
    assert "secret" not in json.dumps([e.details for e in events]) and "Ward" not in json.dumps([e.details for e in events])


def test_the_event_is_in_the_same_transaction_as_the_change(engine) -> None:
    technology_id = create_technology(engine, _input("Ward triage"))
    create_technology(engine, _input("Other tool"))
    # Renaming onto an existing (name, company) violates the unique constraint: the change AND its event roll back.
    with pytest.raises(Exception):  # noqa: B017 - the driver's IntegrityError
        update_technology(engine, technology_id, _input("Other tool"), actor=LEAD)
    assert [e.action for e in all_events(engine)] == ["catalogue_create", "catalogue_create"]


def test_import_and_export_are_audited_with_counts(engine) -> None:
    data = b"name,company\nTool A,Acme\nTool B,Acme\n"
    import_catalogue(engine, data, dry_run=True, actor=LEAD)
    assert all_events(engine) == [], "a preview changes nothing and records nothing"
    import_catalogue(engine, data, actor=LEAD)
    import_catalogue(engine, data, actor=LEAD)
    content = export_catalogue(engine, "csv", actor=LEAD)
    assert content.startswith(b"\xef\xbb\xbfcatalogue_id,name")
    events = all_events(engine)
    assert [(e.action, e.details) for e in events] == [
        ("catalogue_import", {"format": "template", "created": 2, "updated": 0, "unchanged": 0}),
        ("catalogue_import", {"format": "template", "created": 0, "updated": 0, "unchanged": 2}),
        ("export", {"format": "csv", "rows": 2}),
    ]


def test_refused_data_functions_are_audited(engine) -> None:
    respondent = Actor("user:3", "respondent")
    with pytest.raises(PermissionDenied, match="respondent user may not add, change and delete technologies"):
        create_technology(engine, _input("Sneaky"), actor=respondent)
    [event] = all_events(engine)
    assert (event.action, event.outcome, event.actor, event.role) == ("access_refused", "refused", "user:3", "respondent")
    assert event.target == "function:storage.catalogue.create_technology" and event.details == {"permission": "catalogue.edit"}


def test_cli_actor_is_a_trusted_administrator() -> None:
    actor = cli_actor()
    assert actor.user_id.startswith("cli:") and actor.role == "admin" and actor.trusted


def test_audit_frame_filters_newest_first(engine) -> None:
    with write_session(engine) as session:
        record_audit(session, LEAD, None, "catalogue_create", "technology:1")
        record_audit(session, "anonymous", None, "access_refused", "page:admin_audit", "refused")
        record_audit(session, Actor("user:8", "admin"), None, "role_change", "user:7", "success", {"from_role": "lead", "to_role": "admin"})
    frame = audit_frame(engine)
    assert list(frame.columns) == AUDIT_COLUMNS
    assert frame["action"].tolist() == ["role_change", "access_refused", "catalogue_create"]
    assert json.loads(frame["details"].iloc[0]) == {"from_role": "lead", "to_role": "admin"}
    assert str(frame["occurred_at"].dt.tz) == "UTC"
    assert audit_frame(engine, AuditFilter(outcomes=("refused",)))["target"].tolist() == ["page:admin_audit"]
    assert audit_frame(engine, AuditFilter(actor="user:7"))["action"].tolist() == ["catalogue_create"]
    assert audit_frame(engine, AuditFilter(actions=("role_change", "catalogue_create")))["event_id"].is_monotonic_decreasing
    assert audit_frame(engine, AuditFilter(target_prefix="technology:"))["target"].tolist() == ["technology:1"]
    assert audit_frame(engine, AuditFilter(target_prefix="technology%"))["target"].tolist() == []
    assert len(audit_frame(engine, AuditFilter(since=utcnow() + timedelta(minutes=1)))) == 0
    assert len(audit_frame(engine, AuditFilter(until=utcnow() + timedelta(minutes=1)))) == 3


def test_only_admins_read_the_audit_trail(engine) -> None:
    with pytest.raises(PermissionDenied):
        audit_frame(engine, actor=LEAD)
    assert len(audit_frame(engine, actor=Actor("user:1", "admin"))) == 1  # the refusal just recorded
