"""The two built-in instruments: content the analysis depends on, and full submissions."""

from pathlib import Path

import pytest
import yaml

from survey.instrument import FieldType, builtin_instruments
from survey.validation import REQUIRED_MESSAGE, answer_rows, validate_submission

VOCABULARIES = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "storage" / "seed" / "vocabularies.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def clinician():
    return builtin_instruments()["clinician_experience"]


@pytest.fixture(scope="module")
def organisation():
    return builtin_instruments()["organisation_adoption"]


def codes(instrument, variable):
    return [choice.code for choice in instrument.slot(variable)[1].field.effective_choices()]


def vocabulary(name):
    return [entry["code"] for entry in VOCABULARIES[name]]


def test_both_builtins_load_with_their_names_and_versions():
    found = builtin_instruments()
    assert {name: instrument.version for name, instrument in found.items()} == {
        "clinician_experience": 1, "organisation_adoption": 1}


def test_clinician_profile_uses_the_shared_vocabularies(clinician):
    assert codes(clinician, "staff_group") == vocabulary("staff_groups")
    assert codes(clinician, "specialty") == vocabulary("clinical_areas")
    assert codes(clinician, "region") == vocabulary("regions")
    assert codes(clinician, "site_type") == vocabulary("site_types")
    assert codes(clinician, "archetypes") == vocabulary("archetypes")
    assert clinician.slot("specialty")[1].type is FieldType.DROPDOWN
    assert clinician.slot("ai_familiarity")[1].type is FieldType.RATING_5
    years = clinician.slot("years_in_role")[1].field
    assert (years.type, years.bounds()) == (FieldType.INTEGER, (0, 50))


def test_clinician_technology_section_has_exactly_the_agreed_variables(clinician):
    section = clinician.section("technology")
    assert section.repeat_per_technology
    assert [slot.variable for slot in section.answer_slots()] == [
        "tech_use_frequency", "tech_stage", "tech_time_effect", "tech_minutes_per_case", "tech_tasks_share",
        "tech_role_change", "tech_impact_workforce", "tech_impact_pathway", "tech_impact_system",
        "tech_time_to_scale", "tech_accuracy", "tech_safety", "tech_patient_benefit",
        "conf_gov_regulation", "conf_gov_evaluation", "conf_gov_guidelines", "conf_gov_liability",
        "conf_impl_strategy", "conf_impl_technical", "conf_impl_systems",
        "conf_clin_attitudes", "conf_clin_design", "conf_clin_bias", "conf_clin_context",
        "tech_training_received", "tech_training_needed", "tech_barriers"]
    assert codes(clinician, "tech_use_frequency") == ["daily", "weekly", "monthly", "rarely", "not_used"]
    assert codes(clinician, "tech_stage") == ["exploring", "piloting", "live", "scaled", "discontinued", "dont_know"]
    assert codes(clinician, "tech_time_effect") == ["saved", "added", "no_change", "dont_know"]
    for variable in ("tech_impact_workforce", "tech_impact_pathway", "tech_impact_system"):
        assert codes(clinician, variable) == ["low", "medium", "high", "dont_know"]
    assert codes(clinician, "tech_time_to_scale") == ["at_scale", "within_1y", "1_3y", "over_3y", "dont_know"]
    for variable in ("tech_training_received", "tech_training_needed"):
        assert codes(clinician, variable) == ["foundational", "archetype", "product", "none"]
    minutes = clinician.slot("tech_minutes_per_case")[1].field
    assert (minutes.type, minutes.unit, minutes.bounds()) == (FieldType.DECIMAL, "minutes", (0, 240))


def test_only_contact_email_is_an_identifier(clinician, organisation):
    identifiers = [slot.variable for inst in (clinician, organisation) for _, slot in inst.answer_slots()
                   if slot.field.identifier]
    assert identifiers == ["contact_email"]
    comments = clinician.slot("comments")[1].field
    assert (comments.type, comments.max_length()) == (FieldType.LONG_TEXT, 2000)


def full_clinician_answers():
    answers = {"consent": "yes", "staff_group": "nurse", "specialty": "district_nursing", "region": "north_west",
               "site_type": "community_provider", "years_in_role": "8", "archetypes": ["user", "embedder"],
               "ai_familiarity": "3", "comments": "Helpful overall.", "follow_up": "yes",
               "contact_email": "sam.jones@nhs.net"}
    technology = {"tech_use_frequency": "weekly", "tech_stage": "live", "tech_time_effect": "saved",
                  "tech_minutes_per_case": "6.5", "tech_tasks_share": "20", "tech_role_change": ["more_oversight"],
                  "tech_impact_workforce": "medium", "tech_impact_pathway": "high", "tech_impact_system": "low",
                  "tech_time_to_scale": "1_3y", "tech_accuracy": 4, "tech_safety": "4", "tech_patient_benefit": "3",
                  "conf_gov_regulation": "3", "conf_clin_bias": "dont_know",
                  "tech_training_received": ["product"], "tech_training_needed": ["foundational", "archetype"],
                  "tech_barriers": ["staff_time", "infrastructure"]}
    return answers, {"tech-rad-001": technology, "tech-scribe-002": {"tech_use_frequency": "not_used"}}


def test_full_clinician_submission_is_valid(clinician):
    answers, technologies = full_clinician_answers()
    result = validate_submission(clinician, answers, technologies)
    assert result.errors == []
    assert result.document["answers"]["years_in_role"] == 8
    assert result.document["technologies"]["tech-rad-001"]["tech_minutes_per_case"] == 6.5
    assert result.document["technologies"]["tech-scribe-002"] == {"tech_use_frequency": "not_used"}
    rows = answer_rows(result.document)
    assert ("tech-rad-001", "tech_barriers", "infrastructure") in rows
    assert (None, "archetypes", "embedder") in rows


def test_declining_consent_ends_the_survey(clinician):
    answers, technologies = full_clinician_answers()
    result = validate_submission(clinician, {**answers, "consent": "no"}, technologies)
    assert result.ok
    assert result.document == {"answers": {"consent": "no"},
                               "technologies": {"tech-rad-001": {}, "tech-scribe-002": {}}}


@pytest.mark.parametrize(
    ("where", "variable", "value", "message"),
    [
        (None, "consent", None, REQUIRED_MESSAGE),
        (None, "staff_group", "surgeon", "not one of the options"),
        (None, "years_in_role", "51", "at most 50"),
        (None, "years_in_role", "2.5", "whole number"),
        (None, "archetypes", ["user", "wizard"], "not among the options"),
        (None, "ai_familiarity", "6", "at most 5"),
        (None, "comments", "x" * 2001, "at most 2000 characters"),
        (None, "contact_email", "sam at nhs", "e-mail address"),
        ("tech-rad-001", "tech_use_frequency", None, REQUIRED_MESSAGE),
        ("tech-rad-001", "tech_minutes_per_case", "300", "at most 240"),
        ("tech-rad-001", "tech_tasks_share", "101", "at most 100"),
        ("tech-rad-001", "tech_role_change", ["no_change", "new_tasks"], "cannot be combined"),
        ("tech-rad-001", "conf_gov_liability", "7", "not one of the options"),
        ("tech-rad-001", "tech_training_needed", ["none", "product"], "cannot be combined"),
    ],
)
def test_each_kind_of_error_lands_on_its_variable(clinician, where, variable, value, message):
    answers, technologies = full_clinician_answers()
    target = answers if where is None else technologies[where]
    target[variable] = value
    result = validate_submission(clinician, answers, technologies)
    assert [(e.technology_id, e.variable) for e in result.errors] == [(where, variable)]
    assert message in result.errors[0].message


def test_minutes_are_asked_only_when_time_changes(clinician):
    answers, technologies = full_clinician_answers()
    technologies["tech-rad-001"]["tech_time_effect"] = "no_change"
    result = validate_submission(clinician, answers, technologies)
    assert result.ok
    assert "tech_minutes_per_case" not in result.document["technologies"]["tech-rad-001"]


def full_return():
    answers = {"organisation_name": "Northshire Hospitals NHS Foundation Trust", "ods_code": "RX1",
               "site_type": "acute_trust", "region": "midlands"}
    technologies = {
        "tech-a": {"adoption_status": "live", "go_live_date": "2023-04-01", "scale_users": "120", "scale_sites": "3",
                   "scale_monthly_volume": "4500", "evaluation_done": "yes_formal", "nice_esf_tier": "C",
                   "evidence_held": ["dtac", "dcb0129_0160"], "workforce_changes": "Two reporting radiographers trained."},
        "tech-b": {"adoption_status": "discontinued", "discontinued_date": "2024-01-15", "evidence_held": ["none"]},
        "tech-c": {"adoption_status": "exploring"},
    }
    return answers, technologies


def test_full_organisation_return_is_valid(organisation):
    answers, technologies = full_return()
    result = validate_submission(organisation, answers, technologies)
    assert result.errors == []
    assert result.document["technologies"]["tech-a"]["scale_users"] == 120
    assert result.document["technologies"]["tech-b"] == {"adoption_status": "discontinued",
                                                         "discontinued_date": "2024-01-15", "evidence_held": ["none"]}


def test_organisation_dates_follow_the_status(organisation):
    answers, technologies = full_return()
    technologies["tech-c"]["go_live_date"] = "2020-01-01"  # hidden while exploring: dropped
    result = validate_submission(organisation, answers, technologies)
    assert result.ok and "go_live_date" not in result.document["technologies"]["tech-c"]


@pytest.mark.parametrize(
    ("where", "variable", "value", "message"),
    [
        (None, "organisation_name", "", REQUIRED_MESSAGE),
        (None, "ods_code", "rx1", "expected format"),
        (None, "ods_code", "ABCDEFG", "at most 6"),
        (None, "region", "wales", "not one of the options"),
        ("tech-a", "adoption_status", "retired", "not one of the options"),
        ("tech-a", "go_live_date", "01/04/2023", "YYYY-MM-DD"),
        ("tech-a", "scale_users", "-3", "at least 0"),
        ("tech-a", "nice_esf_tier", "D", "not one of the options"),
        ("tech-a", "workforce_changes", "y" * 1001, "at most 1000"),
        ("tech-c", "adoption_status", None, REQUIRED_MESSAGE),
    ],
)
def test_each_return_error_lands_on_its_variable(organisation, where, variable, value, message):
    answers, technologies = full_return()
    (answers if where is None else technologies[where])[variable] = value
    result = validate_submission(organisation, answers, technologies)
    assert [(e.technology_id, e.variable) for e in result.errors] == [(where, variable)]
    assert message in result.errors[0].message


def test_every_question_has_help_or_a_clear_label(clinician, organisation):
    for instrument in (clinician, organisation):
        for section, slot in instrument.answer_slots():
            assert slot.label.strip(), (section.id, slot.variable)
            assert len(slot.field.label) <= 120, slot.variable
