"""The analysis inputs (storage.analysis_inputs) and the shared view computation
(streamlit_app.report.compute_analysis): assembly, disclosure control, drill-down; hand-computed."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.blending import BlendSettings
from analysis.views import Filters
from storage.analysis_inputs import (
    UNCLASSIFIED_TYPE,
    DisclosureSettingError,
    assemble_inputs,
    disclosure_threshold,
    load_analysis_inputs,
)
from storage.catalogue import data_version
from storage.demo import load_demo_catalogue
from streamlit_app.report import compute_analysis, compute_estimates, mark_suppressed

# --- a small world, written out by hand --------------------------------------------------------
# Alpha (1): 5 respondents report minutes (+10, +10, +20, +30, +40 -> median +20) and a time to
#   deployment (4 x within_1y, 1 x 1_3y); a sixth says "don't know" for the time to deployment.
# Beta (2): 2 respondents report minutes (+5 saved, -15 added) and a time to deployment: too few to show.
# Gamma (3): no survey evidence at all; never reviewed.
# Every technology affects the nurse group; Alpha also the GP group.


def world() -> dict[str, pd.DataFrame]:
    when = pd.Timestamp("2026-01-10")
    technologies = pd.DataFrame({
        "technology_id": [1, 2, 3],
        "name": ["Alpha", "Beta", "Gamma"],
        "type_code": ["diagnostics", "automation", "diagnostics"],
        "subtype_code": ["imaging", None, None],
        "time_to_deployment": ["within_1y", "1_3y", "over_3y"],
        "impact_workforce": ["high", "low", "medium"],
        "impact_pathway": ["medium", "low", "low"],
        "impact_system": ["low", "low", "low"],
        "last_reviewed": [when, when, pd.NaT],
        "updated_at": [when, when, when],
        "is_demo": [False, False, False],
    })
    links = pd.DataFrame({
        "technology_id": [1, 1, 1, 2, 3, 1],
        "kind": ["workforce_group", "clinical_area", "point_of_care", "workforce_group", "workforce_group", "workforce_group"],
        "code": ["nurse_acute", "radiology", "secondary_care", "nurse_acute", "nurse_acute", "medic_gp"],
        "is_primary": [True, False, False, True, True, False],
    })
    adoption = pd.DataFrame({
        "technology_id": [1, 2], "site_id": [10, 11], "region": ["london", "midlands"],
        "site_type": ["acute_trust", "primary_care"], "status": ["live", "piloting"],
        "start_date": [when, when], "end_date": [pd.NaT, pd.NaT], "updated_at": [when, when],
    })
    responses = pd.DataFrame({
        "response_id": range(1, 9), "instrument": "clinician_experience",
        "submitted_at": pd.date_range("2026-02-01", periods=8, freq="D"),
        "region": "london", "site_type": "acute_trust", "staff_group": "nurse", "is_demo": False,
    })
    rows = []
    for response, minutes, horizon in zip(range(1, 6), (10, 10, 20, 30, 40), ("within_1y",) * 4 + ("1_3y",), strict=True):
        rows += [(response, 1, "tech_use_frequency", "daily"), (response, 1, "tech_time_effect", "saved"),
                 (response, 1, "tech_minutes_per_case", str(minutes)), (response, 1, "tech_time_to_scale", horizon)]
    rows += [(6, 1, "tech_use_frequency", "daily"), (6, 1, "tech_time_to_scale", "dont_know")]
    rows += [(7, 2, "tech_time_effect", "saved"), (7, 2, "tech_minutes_per_case", "5"), (7, 2, "tech_time_to_scale", "1_3y"),
             (8, 2, "tech_time_effect", "added"), (8, 2, "tech_minutes_per_case", "15"), (8, 2, "tech_time_to_scale", "1_3y")]
    # Training: six "user" respondents need product training for Alpha; one "driver" needs foundational for Beta.
    rows += [(response, None, "archetypes", "user") for response in range(1, 7)]
    rows += [(response, 1, "tech_training_needed", "product") for response in range(1, 7)]
    rows += [(7, None, "archetypes", "driver"), (7, 2, "tech_training_needed", "foundational")]
    answers = pd.DataFrame(rows, columns=["response_id", "technology_id", "variable", "value"])
    workshop_results = pd.DataFrame({
        "workshop_id": pd.Series([], dtype="int64"), "round": pd.Series([], dtype="int64"),
        "technology_id": pd.Series([], dtype="int64"), "quantity": pd.Series([], dtype=object),
        "category": pd.Series([], dtype=object), "consensus": pd.Series([], dtype=object),
        "n_participants": pd.Series([], dtype="int64"), "rule": pd.Series([], dtype=object),
        "closed_at": pd.Series([], dtype="datetime64[ns]"),
    })
    return {"technologies": technologies, "technology_links": links, "adoption": adoption, "responses": responses,
            "answers": answers, "workshop_results": workshop_results}


def analysed(threshold: int = 5, filters: Filters | None = None, frames: dict | None = None):
    inputs = assemble_inputs(frames or world(), version=7)
    settings = BlendSettings()
    filters = filters or Filters()
    return compute_analysis(inputs, compute_estimates(inputs, settings, threshold, filters.respondent_filter()), settings,
                            filters, threshold, as_of="2026-06-01")


# --- assembly ------------------------------------------------------------------------------------


def test_assembly_keeps_only_evidence_about_known_technologies() -> None:
    frames = world()
    frames["technology_links"] = pd.concat([frames["technology_links"], pd.DataFrame(
        [{"technology_id": 99, "kind": "clinical_area", "code": "radiology", "is_primary": False}])], ignore_index=True)
    frames["adoption"] = pd.concat([frames["adoption"], frames["adoption"].iloc[[0]].assign(technology_id=99)], ignore_index=True)
    profile = pd.DataFrame([{"response_id": 1, "technology_id": None, "variable": "archetypes", "value": "user"},
                            {"response_id": 1, "technology_id": 99, "variable": "tech_time_to_scale", "value": "within_1y"}])
    frames["answers"] = pd.concat([frames["answers"], profile], ignore_index=True)
    inputs = assemble_inputs(frames, version=3)
    assert len(inputs.technology_links) == 6  # the link to 99 is gone
    assert inputs.adoption["technology_id"].tolist() == [1, 2]
    assert len(inputs.answers) == len(world()["answers"]) + 1  # the profile answer stays, the one about 99 goes
    assert inputs.answers["technology_id"].isna().sum() == 7 + 1  # the world's seven profile answers and this one
    assert inputs.data_version == 3
    assert not inputs.contains_demo


def test_assembly_types_unclassified_entries_and_flags_demo_data() -> None:
    frames = world()
    frames["technologies"] = frames["technologies"].assign(type_code=["diagnostics", None, "diagnostics"],
                                                           is_demo=[False, False, True])
    inputs = assemble_inputs(frames, version=1)
    assert inputs.technologies["type_code"].astype(object).tolist() == ["diagnostics", UNCLASSIFIED_TYPE, "diagnostics"]
    assert inputs.contains_demo


def test_assembly_names_a_missing_frame() -> None:
    frames = world()
    del frames["answers"]
    with pytest.raises(ValueError, match="missing analysis frame.*answers"):
        assemble_inputs(frames, version=1)


@pytest.mark.parametrize(("raw", "expected"), [(None, 5), ("", 5), ("10", 10), (" 3 ", 3), ("2", 2)])
def test_disclosure_threshold_from_the_environment(raw: str | None, expected: int) -> None:
    environ = {} if raw is None else {"ROADMAP_DISCLOSURE_THRESHOLD": raw}
    assert disclosure_threshold(environ) == expected


def test_threshold_one_needs_the_acknowledgement_word_for_word() -> None:
    with pytest.raises(DisclosureSettingError, match="ROADMAP_DISCLOSURE_OFF_ACKNOWLEDGED"):
        disclosure_threshold({"ROADMAP_DISCLOSURE_THRESHOLD": "1"})
    with pytest.raises(DisclosureSettingError, match="individual answers can be identified"):
        disclosure_threshold({"ROADMAP_DISCLOSURE_THRESHOLD": "1", "ROADMAP_DISCLOSURE_OFF_ACKNOWLEDGED": "yes"})
    assert disclosure_threshold({"ROADMAP_DISCLOSURE_THRESHOLD": "1",
                                 "ROADMAP_DISCLOSURE_OFF_ACKNOWLEDGED": " Individual answers can be identified "}) == 1


@pytest.mark.parametrize(("raw", "message"), [("0", "must be at least 1"), ("-2", "must be at least 1"), ("five", "not a whole number")])
def test_a_bad_disclosure_threshold_says_why(raw: str, message: str) -> None:
    with pytest.raises(DisclosureSettingError, match=message):
        disclosure_threshold({"ROADMAP_DISCLOSURE_THRESHOLD": raw})


def test_load_analysis_inputs_reads_every_frame(engine) -> None:
    load_demo_catalogue(engine, count=12)
    inputs = load_analysis_inputs(engine)
    assert len(inputs.technologies) == 12
    assert set(inputs.technology_links["technology_id"]) <= set(inputs.technologies["technology_id"])
    assert inputs.responses.empty and inputs.answers.empty and inputs.workshop_results.empty
    assert inputs.data_version == data_version(engine)
    assert inputs.contains_demo
    # Validated: ids are integers and codes categorical, so the analysis takes them as they are.
    assert inputs.technologies["technology_id"].dtype == "int64"
    assert isinstance(inputs.adoption["status"].dtype, pd.CategoricalDtype)


# --- computation and disclosure ------------------------------------------------------------------


def test_survey_evidence_of_too_few_respondents_never_enters_an_estimate() -> None:
    analysis = analysed()
    table = analysis.estimates_table.set_index(["technology_id", "quantity"])
    assert table.loc[(1, "minutes_per_case"), "n_survey"] == 5
    assert table.loc[(1, "minutes_per_case"), "point"] == 20.0
    assert table.loc[(1, "minutes_per_case"), "survey_note"] == ""
    # Beta: 2 respondents < 5, so no median (it would be one of them) and a note instead.
    beta = table.loc[(2, "minutes_per_case")]
    assert beta["n_survey"] == 0 and beta["survey_withheld"] and pd.isna(beta["point"])
    assert beta["survey_note"] == "survey evidence withheld: fewer than 5 respondents"
    # Beta's time to deployment rests on its desk value alone: 0.5 background + 3 on 1_3y.
    horizon = table.loc[(2, "time_to_deployment")]
    assert horizon["n_survey"] == 0 and horizon["survey_withheld"]
    assert horizon["p_1_3y"] == pytest.approx(3.5 / 5) and horizon["effective_n"] == pytest.approx(3.0)
    assert horizon["strength"] == "thin" and horizon["newest_evidence"] == pd.Timestamp("2026-01-10")
    # Gamma has no answers at all: nothing withheld, nothing to say.
    assert table.loc[(3, "minutes_per_case"), "n_survey"] == 0 and not table.loc[(3, "minutes_per_case"), "survey_withheld"]
    # Workforce impact: nurse_acute is affected by all three, but only Alpha has minutes.
    workforce = analysis.workforce.set_index("workforce_group")
    assert workforce.loc["nurse_acute", "technologies"] == 3
    assert workforce.loc["nurse_acute", "technologies_with_minutes"] == 1
    assert workforce.loc["nurse_acute", "median_minutes_per_case"] == 20.0


def test_threshold_two_shows_what_threshold_five_hides() -> None:
    table = analysed(threshold=2).estimates_table.set_index(["technology_id", "quantity"])
    assert table.loc[(2, "minutes_per_case"), "n_survey"] == 2
    assert table.loc[(2, "minutes_per_case"), "point"] == -5.0  # median of +5 and -15
    # Beta's two respondents did not say whether they use it: both at the aware weight, 2 x 0.4.
    assert table.loc[(2, "time_to_deployment"), "effective_n"] == pytest.approx(3 + 0.8)


def test_mark_suppressed_writes_the_reason_and_drops_the_flags() -> None:
    table = pd.DataFrame({"group": ["a", "b"], "n": pd.array([None, 7], dtype="Int64"), "n_suppressed": [True, False],
                          "suppression_note": ["n: fewer than 5", ""]})
    shown = mark_suppressed(table, 5)
    assert shown.columns.tolist() == ["group", "n", "suppression_note"]
    assert shown["n"].tolist() == ["suppressed (<5)", 7]


def test_no_exported_table_shows_a_respondent_count_below_the_threshold() -> None:
    for threshold in (2, 5):
        for name, table in analysed(threshold).tables.items():
            for column in ("n_survey", "survey_answers", "received", "needed", "respondents"):
                if column in table:
                    counts = pd.to_numeric(table[column], errors="coerce").dropna()
                    assert ((counts == 0) | (counts >= threshold)).all(), (name, column, counts.tolist())


def test_evidence_drill_down_lists_respondents_only_above_the_threshold() -> None:
    analysis = analysed()
    rows, note = analysis.evidence(1, "time_to_deployment")
    survey = rows[rows["source"] == "survey"]
    # 5 answers count; the "don't know" carries no weight and is never listed.
    assert len(survey) == 5 and survey["used"].all()
    assert sorted(survey["value"]) == ["1_3y", "within_1y", "within_1y", "within_1y", "within_1y"]
    assert note is None
    assert rows.loc[rows["source"] == "catalogue", "value"].tolist() == ["within_1y"]
    assert not rows["reference"].str.contains("nurse|london", regex=True).any()  # no profile answers

    hidden, note = analysis.evidence(2, "minutes_per_case")
    assert hidden["reference"].tolist() == ["withheld"] and hidden["value"].isna().all() and hidden["date"].isna().all()
    assert note == "Survey evidence withheld: fewer than 5 respondents."


def test_filters_drive_every_view_and_training_follows_the_technologies() -> None:
    analysis = analysed(filters=Filters(type_codes=["diagnostics"]))
    assert list(analysis.ids) == [1, 3]
    assert analysis.headline == {"technologies": 2, "deployable_within_year": 1, "workforce_groups_affected": 2,
                                 "clinical_areas_affected": 1}
    assert analysis.distribution["technologies"].sum() == 2
    assert set(analysis.timeline["technology_id"]) == {1, 3}
    assert analysis.profile("diagnostics")["workforce_groups"].set_index("workforce_group")["technologies"].to_dict() == {
        "nurse_acute": 2, "medic_gp": 1}


def test_a_filter_matching_nothing_gives_empty_views_not_errors() -> None:
    analysis = analysed(filters=Filters(type_codes=["automation"], clinical_areas=["radiology"]))
    assert analysis.is_empty
    assert analysis.headline["technologies"] == 0
    assert all(table.empty or name in ("adoption_by_region", "adoption_region_site_type", "headline_figures",
                                       "training_needs", "equity_gaps")
               for name, table in analysis.tables.items())


def test_timeline_shows_the_weighted_evidence_actually_used() -> None:
    timeline = analysed().timeline.set_index("technology_id")
    assert timeline.loc[1, "effective_n"] == pytest.approx(3 + 5)  # desk prior 3 + five daily users
    assert timeline.loc[2, "effective_n"] == pytest.approx(3)  # the two aware answers are withheld: desk only
    assert timeline.loc[3, "effective_n"] == pytest.approx(3)


def test_training_needs_follow_the_respondent_filters_not_the_technologies() -> None:
    def needed(analysis, archetype: str, training_type: str) -> object:
        table = analysis.training.set_index(["archetype", "training_type"])
        return table.loc[(archetype, training_type), "needed"]

    everything = analysed()
    assert needed(everything, "user", "product") == 6
    assert pd.isna(needed(everything, "driver", "foundational"))  # one respondent: suppressed
    # A technology filter does not narrow who is counted: comparing two selections would
    # single out the one respondent of Beta.
    diagnostics = analysed(filters=Filters(type_codes=["diagnostics"]))
    assert diagnostics.training.equals(everything.training)
    # A respondent filter does, under the same rule.
    nurses = analysed(filters=Filters(staff_groups=["nurse"]))
    assert needed(nurses, "user", "product") == 6
