"""Case study storage on SQLite and PostgreSQL: create, read back with names, edit, delete, links
that must exist, the one-target rule, what happens when a linked record goes, permissions, demo."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storage.audit import Actor
from storage.case_studies import (
    CASE_STUDY_COLUMNS,
    CaseStudyError,
    CaseStudyInput,
    case_studies_frame,
    create_case_study,
    delete_case_study,
    link_options,
    list_case_studies,
    load_demo_case_studies,
    update_case_study,
)
from storage.catalogue import delete_technology
from storage.db import read_session, write_session
from storage.demo import load_demo_catalogue
from storage.models.case_study import CaseStudy, CaseStudyEvidence, CaseStudySite
from storage.models.catalogue import AdoptionRecord, Site, Technology
from storage.models.survey import SurveyCampaign
from storage.permissions import PermissionDenied
from storage.surveys import ensure_builtin_instruments

LEAD = Actor("user:7", "lead")


@pytest.fixture
def world(engine) -> dict:
    """Six demo technologies with their sites, and one survey campaign."""
    load_demo_catalogue(engine, count=6)
    instrument_ids = ensure_builtin_instruments(engine)
    with write_session(engine) as session:
        campaign = SurveyCampaign(instrument_id=instrument_ids["clinician_experience"], title="Spring staff survey",
                                  opens_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC), closes_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
                                  anonymous=True, access="open", created_by="test")
        session.add(campaign)
        session.flush()
        campaign_id = campaign.id
    with read_session(engine) as session:
        technologies = list(session.execute(select(Technology.id, Technology.name).order_by(Technology.id)).all())
        sites = list(session.execute(select(Site.id, Site.name, Site.region).order_by(Site.id)).all())
    return {"technologies": technologies, "sites": sites, "campaign_id": campaign_id}


def write_up(world: dict, **changes) -> CaseStudyInput:
    (first_id, _name), (second_id, _second) = world["technologies"][:2]
    values = {"title": "Triage at two sites", "technology_id": first_id, "site_ids": [world["sites"][1].id, world["sites"][0].id],
              "method": "Before and after,\nfour weeks each.", "findings": "Time saved.", "campaign_ids": [world["campaign_id"]],
              "catalogue_ids": [second_id]}
    return CaseStudyInput(**{**values, **changes})


def test_a_case_study_is_read_back_with_every_link_named(engine, world: dict) -> None:
    case_id = create_case_study(engine, write_up(world), actor=LEAD)
    [record] = list_case_studies(engine, actor=LEAD)
    (first_id, first_name), (second_id, second_name) = world["technologies"][:2]
    first_site, second_site = world["sites"][0], world["sites"][1]
    assert record.case_study_id == case_id
    assert (record.title, record.technology_id, record.technology_name) == ("Triage at two sites", first_id, first_name)
    assert record.method == "Before and after,\nfour weeks each."  # kept as typed
    # Sites in id order, labelled "name (region)".
    assert record.sites == (f"{first_site.name} ({first_site.region})", f"{second_site.name} ({second_site.region})")
    assert [(link.kind, link.target_id, link.label) for link in record.evidence] == [
        ("survey_campaign", world["campaign_id"], "Spring staff survey"), ("catalogue_entry", second_id, second_name)]
    assert record.evidence[0].description == f"Survey campaign {world['campaign_id']}: Spring staff survey"
    assert record.author_user_id == "user:7" and not record.is_demo
    assert record.as_input() == write_up(world).model_copy(update={"site_ids": [first_site.id, second_site.id]})


def test_an_unknown_link_is_refused_by_field_and_nothing_is_written(engine, world: dict) -> None:
    with pytest.raises(CaseStudyError, match=r"field 'site_ids': no site with id 9999"):
        create_case_study(engine, write_up(world, site_ids=[world["sites"][0].id, 9999]), actor=LEAD)
    with pytest.raises(CaseStudyError, match=r"field 'workshop_ids': no workshop with id 5"):
        create_case_study(engine, write_up(world, workshop_ids=[5]), actor=LEAD)
    with pytest.raises(CaseStudyError, match=r"field 'technology_id': no technology with id 424242"):
        create_case_study(engine, write_up(world, technology_id=424242), actor=LEAD)
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(CaseStudy)) == 0


def test_input_rules() -> None:
    with pytest.raises(ValidationError, match="title"):
        CaseStudyInput(title="   ")
    with pytest.raises(ValidationError, match="at most 200"):
        CaseStudyInput(title="x" * 201)
    with pytest.raises(ValidationError, match="Extra inputs"):
        CaseStudyInput(title="ok", author="someone")
    assert CaseStudyInput(title=" ok ", site_ids=[3, 1, 3]).model_dump()["site_ids"] == [3, 1]
    assert CaseStudyInput(title=" ok ").title == "ok"


def test_editing_replaces_text_and_links(engine, world: dict) -> None:
    case_id = create_case_study(engine, write_up(world), actor=LEAD)
    kept_site = world["sites"][0].id
    update_case_study(engine, case_id, write_up(world, title="Triage, revisited", site_ids=[kept_site], campaign_ids=[],
                                                 catalogue_ids=[], technology_id=None), actor=LEAD)
    [record] = list_case_studies(engine, actor=LEAD)
    assert (record.title, record.technology_id, record.site_ids, record.evidence) == ("Triage, revisited", None, (kept_site,), ())
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(CaseStudySite)) == 1
        assert session.scalar(select(func.count()).select_from(CaseStudyEvidence)) == 0
    with pytest.raises(CaseStudyError, match="no case study with id 999"):
        update_case_study(engine, 999, write_up(world), actor=LEAD)


def test_deleting_a_case_study_deletes_its_links(engine, world: dict) -> None:
    case_id = create_case_study(engine, write_up(world), actor=LEAD)
    delete_case_study(engine, case_id, actor=LEAD)
    assert list_case_studies(engine, actor=LEAD) == []
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(CaseStudySite)) == 0
        assert session.scalar(select(func.count()).select_from(CaseStudyEvidence)) == 0
    with pytest.raises(CaseStudyError, match="no case study"):
        delete_case_study(engine, case_id, actor=LEAD)


def test_deleting_the_technology_keeps_the_case_study(engine, world: dict) -> None:
    (first_id, _), (second_id, _) = world["technologies"][:2]
    create_case_study(engine, write_up(world), actor=LEAD)
    delete_technology(engine, first_id, actor=LEAD)
    delete_technology(engine, second_id, actor=LEAD)
    [record] = list_case_studies(engine, actor=LEAD)
    assert (record.technology_id, record.technology_name) == (None, None)
    assert [link.kind for link in record.evidence] == ["survey_campaign"]  # the catalogue entry link went with it


def test_an_evidence_link_has_exactly_one_target(engine, world: dict) -> None:
    case_id = create_case_study(engine, write_up(world, campaign_ids=[], catalogue_ids=[]), actor=LEAD)
    technology_id = world["technologies"][0][0]
    with pytest.raises(IntegrityError), write_session(engine) as session:
        session.add(CaseStudyEvidence(case_study_id=case_id, kind="workshop", technology_id=technology_id))
    with pytest.raises(IntegrityError), write_session(engine) as session:
        session.add(CaseStudyEvidence(case_study_id=case_id, kind="catalogue_entry", technology_id=technology_id,
                                      campaign_id=world["campaign_id"]))


def test_only_leads_write_and_read_case_studies(engine, world: dict) -> None:
    for role in ("respondent", "facilitator", "admin"):
        with pytest.raises(PermissionDenied):
            create_case_study(engine, write_up(world), actor=Actor("user:9", role))
        with pytest.raises(PermissionDenied):
            list_case_studies(engine, actor=Actor("user:9", role))


def test_export_frame_and_link_options(engine, world: dict) -> None:
    create_case_study(engine, write_up(world, title="=HYPERLINK(\"x\")"), actor=LEAD)
    frame = case_studies_frame(list_case_studies(engine, actor=LEAD))
    assert frame.columns.tolist() == CASE_STUDY_COLUMNS
    assert frame.loc[0, "title"] == "=HYPERLINK(\"x\")"  # neutralised by storage.exports when written
    assert frame.loc[0, "evidence"].startswith("Survey campaign")
    options = link_options(engine)
    assert set(options.technologies) == {t for t, _ in world["technologies"]}
    assert options.campaigns == {world["campaign_id"]: "Spring staff survey"}
    assert options.workshops == {}


def test_demo_case_study_is_loaded_once_about_the_most_adopted_technology(engine) -> None:
    assert load_demo_case_studies(engine) == {"case_studies": 0}  # no demo catalogue yet
    load_demo_catalogue(engine, count=10)
    with read_session(engine) as session:
        live = session.execute(select(AdoptionRecord.technology_id, func.count()).where(
            AdoptionRecord.status.in_(("live", "scaled")), AdoptionRecord.end_date.is_(None)).group_by(AdoptionRecord.technology_id)).all()
    most = max(live, key=lambda row: (row[1], -row[0]))[0]
    assert load_demo_case_studies(engine) == {"case_studies": 1}
    assert load_demo_case_studies(engine) == {"case_studies": 0}
    [record] = list_case_studies(engine)
    assert record.is_demo and record.title.startswith("Demo: ")
    assert record.technology_id == most
    assert 1 <= len(record.sites) <= 3


def test_case_study_changes_are_audited_without_their_text(engine) -> None:
    from sqlalchemy import select

    from storage.audit import Actor
    from storage.case_studies import CaseStudyInput, create_case_study, delete_case_study, update_case_study
    from storage.db import read_session
    from storage.models.accounts import AuditEvent

    lead = Actor("user:7", "lead")
    data = CaseStudyInput(title="Pilot in <b>Leeds</b>", method="Interviews with named staff", findings="Saved time")
    case_id = create_case_study(engine, data, actor=lead)
    update_case_study(engine, case_id, data.model_copy(update={"findings": "Saved a lot of time"}), actor=lead)
    delete_case_study(engine, case_id, actor=lead)
    with read_session(engine) as session:
        events = session.execute(select(AuditEvent.action, AuditEvent.target, AuditEvent.actor, AuditEvent.details)
                                 .where(AuditEvent.action.like("case_study_%")).order_by(AuditEvent.id)).all()
    assert [(e.action, e.target, e.actor) for e in events] == [
        ("case_study_create", f"case_study:{case_id}", "user:7"),
        ("case_study_update", f"case_study:{case_id}", "user:7"),
        ("case_study_delete", f"case_study:{case_id}", "user:7"),
    ]
    assert all("Leeds" not in str(e.details) and "Interviews" not in str(e.details) for e in events)
