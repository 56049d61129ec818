"""AppTest: sign-in, home, catalogue browser and catalogue management, for every role."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from storage.catalogue import count_technologies
from storage.db import make_engine, read_session
from storage.demo import load_demo_catalogue
from storage.models import Technology, VocabularyTerm
from tests.ui.helpers import APP, open_app, prepare_environment, texts


def problem_list(at) -> list[str]:
    """The rows of the problems table shown by show_problems()."""
    for frame in at.dataframe:
        value = frame.value
        if list(value.columns) == ["problem"]:
            return value["problem"].tolist()
    return []


@pytest.fixture
def demo_url(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    engine = make_engine(sqlite_url)
    load_demo_catalogue(engine, count=40)
    engine.dispose()
    prepare_environment(monkeypatch, sqlite_url)
    return sqlite_url


def test_sign_in_is_refused_without_the_development_setting(sqlite_url: str, monkeypatch) -> None:
    prepare_environment(monkeypatch, sqlite_url, dev_login=False)
    at = open_app(None)
    assert "No sign-in method is configured" in texts(at)
    assert len(at.radio) == 0


def test_development_sign_in_needs_a_loopback_address(sqlite_url: str, monkeypatch) -> None:
    from streamlit import config

    prepare_environment(monkeypatch, sqlite_url)
    config.set_option("server.address", "0.0.0.0")
    try:
        at = open_app("lead")
        assert "No sign-in method is configured" in texts(at)
    finally:
        config.set_option("server.address", "127.0.0.1")


def test_signing_in_as_a_lead_shows_the_lead_pages(demo_url: str) -> None:
    at = open_app(None)
    at.radio[0].set_value("lead")
    at.button[0].click().run()
    assert at.session_state["dev_role"] == "lead"
    assert "Technologies in the catalogue" in [m.label for m in at.metric]
    assert at.metric[0].value == "40"


@pytest.mark.parametrize("role", ["respondent", "facilitator", "lead", "admin"])
def test_home_page_for_every_role(demo_url: str, role: str) -> None:
    at = open_app(role)
    assert at.title[0].value == "AI Workforce Roadmap"
    assert at.info, "each role is told what to do next"


@pytest.mark.parametrize("role", ["facilitator", "lead", "admin"])
def test_catalogue_browser_lists_and_filters(demo_url: str, role: str) -> None:
    at = open_app(role, "catalogue_browser.py")
    assert "demonstration data" in texts(at)
    table = at.dataframe[0].value
    assert len(table) == 40
    at.multiselect(key="cat_types").set_value(["diagnostics"]).run()
    filtered = at.dataframe[0].value
    assert 0 < len(filtered) < 40
    assert set(filtered["type"]) == {"Diagnostics"}
    at.text_input(key="cat_text").set_value("zzz-no-such-thing").run()
    assert len(at.dataframe[0].value) == 0
    assert "0 of 40 technologies match." in texts(at)


def test_opening_a_technology_shows_details_sites_and_provenance(demo_url: str) -> None:
    at = open_app("lead", "catalogue_browser.py")
    first_id = int(at.dataframe[0].value.iloc[0]["technology_id"])
    at.selectbox(key="cat_open").set_value(first_id).run()
    assert not at.exception
    headers = [h.value for h in at.subheader]
    assert headers[-2:] == ["Adoption sites", "Where this record came from"] or "Where this record came from" in headers
    provenance = at.dataframe[-1].value
    assert provenance.set_index("Field").loc["Source", "Value"] == "demo"
    assert at.query_params["technology"] == [str(first_id)] or at.query_params["technology"] == str(first_id)


@pytest.mark.parametrize(("role", "page"), [("respondent", "catalogue_browser.py"), ("respondent", "catalogue_admin.py"),
                                             ("facilitator", "catalogue_admin.py"), ("admin", "catalogue_admin.py"), (None, "catalogue_browser.py")])
def test_pages_outside_a_role_are_not_in_its_navigation(demo_url: str, role: str | None, page: str) -> None:
    at = open_app(role)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(f"views/{page}")


@pytest.mark.parametrize("role", ["respondent", "facilitator", "admin", None])
def test_the_page_itself_checks_the_role_again(demo_url: str, role: str | None) -> None:
    """Second line of defence: even run directly, the lead-only page refuses other roles."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(APP).parent / "views" / "catalogue_admin.py"), default_timeout=30)
    if role:
        at.session_state["dev_role"] = role
    at.run()
    assert [e.value for e in at.error] == ["You do not have access to this page."]
    assert not at.tabs


def test_adding_a_technology_shows_inline_errors_then_saves(demo_url: str) -> None:
    at = open_app("lead", "catalogue_admin.py")
    engine = make_engine(demo_url)
    before = count_technologies(engine)
    at.text_input(key="add_name").set_value("<script>alert(1)</script> Ward flow")
    at.selectbox(key="add_type_code").set_value("automation")
    at.selectbox(key="add_subtype_code").set_value("imaging")
    at.button(key="FormSubmitter:add_form-Add technology").click().run()
    errors = [e.value for e in at.error]
    assert any("need attention" in e for e in errors)
    assert "'imaging' is not a subtype of 'automation'" in errors
    assert count_technologies(engine) == before
    at.selectbox(key="add_subtype_code").set_value(None)
    at.button(key="FormSubmitter:add_form-Add technology").click().run()
    assert count_technologies(engine) == before + 1
    assert any("Saved" in s.value for s in at.success)
    with read_session(engine) as session:
        stored = session.scalar(select(Technology).where(Technology.name.like("%Ward flow")))
    assert stored.name == "<script>alert(1)</script> Ward flow" and stored.type_code == "automation"


def test_editing_a_technology(demo_url: str) -> None:
    engine = make_engine(demo_url)
    with read_session(engine) as session:
        target = session.scalars(select(Technology).order_by(Technology.id)).first()
    at = open_app("lead", "catalogue_admin.py")
    at.selectbox(key="edit_choice").set_value(target.id).run()
    at.text_input(key=f"edit_{target.id}_company").set_value("Renamed Co")
    at.button(key=f"FormSubmitter:edit_{target.id}_form-Save changes").click().run()
    assert not at.exception
    with read_session(engine) as session:
        assert session.get(Technology, target.id).company == "Renamed Co"


def test_vocabulary_editor_saves_labels_and_refuses_duplicates(demo_url: str) -> None:
    at = open_app("lead", "catalogue_admin.py")
    at.selectbox(key="vocab_choice").set_value("clinical_area").run()
    at.session_state["vocab_editor_clinical_area"] = {"edited_rows": {0: {"label": "General practice (GP)"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="vocab_save").click().run()
    assert "Saved clinical areas." in texts(at)
    with read_session(make_engine(demo_url)) as session:
        label = session.scalar(select(VocabularyTerm.label).where(VocabularyTerm.vocabulary == "clinical_area", VocabularyTerm.code == "general_practice"))
    assert label == "General practice (GP)"
    at.session_state["vocab_editor_clinical_area"] = {"edited_rows": {}, "added_rows": [{"code": "radiology", "label": "Radiology again", "active": True}], "deleted_rows": []}
    at.run()
    at.button(key="vocab_save").click().run()
    assert any("Not saved" in e.value for e in at.error)
    assert any("code 'radiology' appears twice" in p for p in problem_list(at))


def test_vocabulary_rules(engine) -> None:
    from storage.vocabularies import VocabularyError, save_vocabulary

    load_demo_catalogue(engine, count=10)
    with pytest.raises(VocabularyError) as error:
        save_vocabulary(engine, "clinical_area", [{"code": "radiology", "label": "Radiology"}, {"code": "radiology", "label": "Again"}, {"code": "Bad Code", "label": ""}])
    assert "row 2: code 'radiology' appears twice" in error.value.problems
    assert "row 3: label is empty" in error.value.problems
    with pytest.raises(VocabularyError) as error:
        save_vocabulary(engine, "region", [{"code": "london", "label": "London"}])
    assert any("codes of this vocabulary are fixed" in p for p in error.value.problems)
    save_vocabulary(engine, "site_type", [{"code": "acute_trust", "label": "Acute hospital trust", "active": True}, {"code": "mental_health_trust", "label": "Mental health trust"},
                                          {"code": "community_provider", "label": "Community"}, {"code": "ambulance_trust", "label": "Ambulance"},
                                          {"code": "primary_care", "label": "Primary care"}, {"code": "icb", "label": "ICB"}, {"code": "other", "label": "Other"},
                                          {"code": "hospice", "label": "Hospice"}])
    with read_session(engine) as session:
        labels = dict(session.execute(select(VocabularyTerm.code, VocabularyTerm.label).where(VocabularyTerm.vocabulary == "site_type")).all())
    assert labels["acute_trust"] == "Acute hospital trust" and labels["hospice"] == "Hospice"


def test_import_preview_then_confirm(demo_url: str) -> None:
    engine = make_engine(demo_url)
    before = count_technologies(engine)
    at = open_app("lead", "catalogue_admin.py")
    content = b"name,company,type\nNew triage tool,New Co,Diagnostics\nAnother tool,New Co,Other\n"
    at.file_uploader(key="import_file").set_value(("new.csv", content, "text/csv")).run()
    assert "1 to create" not in texts(at) and "2 to create, 0 to update, 0 unchanged." in texts(at)
    assert count_technologies(engine) == before, "the preview writes nothing"
    confirm = [b for b in at.button if b.label == "Confirm import"][0]
    confirm.click().run()
    assert count_technologies(engine) == before + 2
    assert "Imported new\\.csv: 2 created, 0 updated, 0 unchanged." in texts(at)


def test_import_of_a_bad_file_lists_the_problems(demo_url: str) -> None:
    at = open_app("lead", "catalogue_admin.py")
    at.file_uploader(key="import_file").set_value(("bad.csv", b"name,type\nThing,Astrology\n", "text/csv")).run()
    assert any("cannot be imported; nothing was changed" in e.value for e in at.error)
    assert problem_list(at) == ["row 2, column type: 'Astrology' is not a known technology type (use a code or label from the vocabulary)"]


def test_export_tab_offers_formula_safe_downloads(demo_url: str) -> None:
    at = open_app("lead", "catalogue_admin.py")
    assert "40 technologies." in texts(at)
