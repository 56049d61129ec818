"""AppTest for the analysis pages (leads): every view, the filters that matter, the empty result,
refresh on new evidence, the estimates drill-down and sensitivity sliders, case studies, refusals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.blending import BlendSettings, estimate_all
from analysis.views import Filters
from storage.analysis_inputs import load_analysis_inputs
from storage.catalogue_history import load_catalogue_history
from storage.catalogue import TechnologyInput, create_technology
from storage.db import make_engine
from streamlit_app.report import compare_days, compute_analysis, compute_estimates, roadmap_analysis
from tests.ui.helpers import APP, open_app, texts

VIEWS = ["Distribution", "Use-case profiles", "Spread", "AI overview", "Roadmap timeline", "Workforce impact",
         "Evidence base", "Case studies"]
ROADMAP, ESTIMATES, CASE_STUDIES = "analysis_roadmap.py", "analysis_estimates.py", "analysis_case_studies.py"


def expected(url: str, filters: Filters | None = None, settings: BlendSettings | None = None):
    settings = settings or BlendSettings()
    inputs = load_analysis_inputs(make_engine(url))
    filters = filters or Filters()
    return compute_analysis(inputs, compute_estimates(inputs, settings, 5, filters.respondent_filter()), settings, filters, 5)


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return values[0]


def plain(at: AppTest) -> str:
    """The visible text with markdown escapes removed (captions escape vocabulary labels)."""
    return texts(at).replace("\\", "")


def show_view(at: AppTest, view: str) -> AppTest:
    at.session_state["analysis_view"] = view
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_every_view_renders_with_charts_tables_and_downloads(demo_url: str) -> None:
    at = open_app("lead", ROADMAP)
    assert "Download the report (printable HTML)" in str(at.get("download_button"))
    charts_seen = {}
    for view in VIEWS:
        show_view(at, view)
        charts_seen[view] = len(at.get("plotly_chart"))
        if view != "Case studies":
            assert len(at.dataframe) >= 1, view
    assert all(charts_seen[view] >= 1 for view in VIEWS[:-1]), charts_seen
    assert charts_seen["Use-case profiles"] == 4 and charts_seen["Workforce impact"] == 3
    assert "Demo\\: early results from" in texts(at)  # the demo case study (escaped markdown), on the Case studies tab


def test_headline_figures_follow_a_filter(demo_url: str) -> None:
    everything = expected(demo_url)
    at = open_app("lead", ROADMAP)
    assert metric(at, "Technologies") == str(everything.headline["technologies"]) == "160"
    at.multiselect(key="af_type_codes").set_value(["diagnostics"]).run()
    diagnostics = expected(demo_url, Filters(type_codes=["diagnostics"]))
    for label, key in (("Technologies", "technologies"), ("Deployable within a year", "deployable_within_year"),
                       ("Workforce groups affected", "workforce_groups_affected"), ("Clinical areas affected", "clinical_areas_affected")):
        assert metric(at, label) == str(diagnostics.headline[key]), label
    assert "Filters: technology type: Diagnostics." in plain(at)
    # Combined filters: diagnostics with a blended time to deployment within a year.
    at.multiselect(key="af_horizons").set_value(["within_1y"]).run()
    both = expected(demo_url, Filters(type_codes=["diagnostics"], horizons=["within_1y"]))
    assert metric(at, "Technologies") == str(both.headline["technologies"])
    assert 0 < both.headline["technologies"] < diagnostics.headline["technologies"]


def empty_combination(url: str) -> Filters:
    """A type and a clinical area that no technology shares (searched, so the test does not guess)."""
    inputs = load_analysis_inputs(make_engine(url))
    technologies, links = inputs.technologies, inputs.technology_links
    areas = links.loc[links["kind"].astype(str) == "clinical_area"]
    for type_code in technologies["type_code"].astype(str).unique():
        ids = technologies.loc[technologies["type_code"].astype(str) == type_code, "technology_id"]
        covered = set(areas.loc[areas["technology_id"].isin(ids), "code"].astype(str))
        missing = sorted(set(areas["code"].astype(str)) - covered)
        if missing:
            return Filters(type_codes=[type_code], clinical_areas=[missing[0]])
    raise AssertionError("every type covers every clinical area")


def test_a_filter_that_matches_nothing_says_so(demo_url: str) -> None:
    filters = empty_combination(demo_url)
    at = open_app("lead", ROADMAP)
    at.multiselect(key="af_type_codes").set_value(filters.type_codes)
    at.multiselect(key="af_clinical_areas").set_value(filters.clinical_areas).run()
    assert not at.exception
    assert any("No technologies match the filters" in w.value for w in at.warning)
    assert len(at.tabs) == 0
    # The filters hold on the Estimates page too, with the same message.
    at.switch_page(f"views/{ESTIMATES}")
    at.run()
    assert any("No technologies match the filters" in w.value for w in at.warning)
    at.button(key="af_clear").click().run()
    assert not at.warning or all("No technologies match" not in w.value for w in at.warning)


def test_a_new_technology_shows_on_the_next_render(demo_url: str) -> None:
    at = open_app("lead", ROADMAP)
    assert metric(at, "Technologies") == "160"
    create_technology(make_engine(demo_url), TechnologyInput(name="Brand new triage tool", type_code="automation",
                                                             time_to_deployment="within_1y"))
    at.run()
    assert metric(at, "Technologies") == "161"


def test_views_with_their_own_choosers(demo_url: str) -> None:
    at = open_app("lead", ROADMAP)
    show_view(at, "Use-case profiles")
    at.selectbox(key="profile_type").set_value("automation").run()
    automation = expected(demo_url).profile("automation")
    assert "can add up to more than 100%" in texts(at)
    assert at.dataframe[0].value["Technologies"].tolist() == automation["workforce_groups"]["technologies"].tolist()
    show_view(at, "AI overview")
    overview = expected(demo_url).overview["workforce_group"]
    at.button_group(key="overview_dimension").set_value("workforce_group").run()
    first = overview.counts.iloc[0]
    cell = at.selectbox(key="overview_cell_workforce_group")
    column = "" if pd.isna(first["column"]) else first["column"]
    cell.set_value(f"{first['row']}\x1f{column}").run()
    members = at.dataframe[-1].value
    assert len(members) == first["technologies"]
    expected_ids = overview.members[(overview.members["row"] == first["row"])
                                    & (overview.members["column"].astype(object).fillna("") == column)]["technology_id"]
    assert sorted(members["ID"]) == sorted(expected_ids)
    whole_row = overview.members[overview.members["row"] == first["row"]]["technology_id"].unique()
    cell.set_value(f"{first['row']}\x1f*").run()
    assert sorted(at.dataframe[-1].value["ID"]) == sorted(whole_row)
    counted = f"{len(whole_row)} technology" if len(whole_row) == 1 else f"{len(whole_row)} technologies"
    assert sum(option.endswith(f" (any time to deployment): {counted}") for option in cell.options) >= 1
    show_view(at, "Spread")
    at.button_group(key="spread_status").set_value("piloting").run()
    assert not at.exception


def test_estimates_drill_down_lists_evidence_without_small_counts(demo_url: str) -> None:
    analysis = expected(demo_url)
    table = analysis.estimates_table
    shown_row = table[(table["quantity"] == "time_to_deployment") & ~table["survey_withheld"] & (table["n_survey"] >= 5)].iloc[0]
    hidden_row = table[(table["quantity"] == "time_to_deployment") & table["survey_withheld"]].iloc[0]
    at = open_app("lead", ESTIMATES)
    assert "withheld (<5)" in at.dataframe[0].value["Survey respondents"].astype(str).tolist()
    at.selectbox(key="est_technology").set_value(int(shown_row["technology_id"]))
    at.selectbox(key="est_evidence_quantity").set_value("time_to_deployment").run()
    evidence = at.dataframe[1].value
    survey = evidence[evidence["Source"] == "survey"]
    assert len(survey) == int(shown_row["n_survey"]) >= 5 and survey["Reference"].str.startswith("survey response ").all()
    assert metric(at, "Survey respondents") == str(int(shown_row["n_survey"]))
    at.selectbox(key="est_technology").set_value(int(hidden_row["technology_id"])).run()
    evidence = at.dataframe[1].value
    survey = evidence[evidence["Source"] == "survey"]
    # One row says the answers are withheld: no record number, value, weight or date.
    assert survey["Reference"].tolist() == ["withheld"] and survey["Value"].isna().all() and survey["Date"].isna().all()
    assert metric(at, "Survey respondents") == "withheld (<5)"
    assert any("Survey evidence withheld: fewer than 5 respondents." == i.value for i in at.info)
    # The estimate itself equals the one made without any survey answer about it.
    inputs = load_analysis_inputs(make_engine(demo_url))
    without = inputs.answers[inputs.answers["technology_id"].ne(int(hidden_row["technology_id"])).fillna(True)]
    bare = estimate_all(inputs.technologies, inputs.technology_links, inputs.adoption, without, inputs.workshop_results,
                        responses=inputs.responses)
    bare_row = bare[(bare["technology_id"] == hidden_row["technology_id"]) & (bare["quantity"] == "time_to_deployment")].iloc[0]
    for column in ("point", "lower", "upper", "p_at_scale", "p_within_1y", "p_1_3y", "p_over_3y", "effective_n", "strength"):
        assert bare_row[column] == hidden_row[column], column


def test_sensitivity_sliders_compare_with_the_defaults_and_carry_to_the_views(demo_url: str) -> None:
    at = open_app("lead", ESTIMATES)
    assert any("sliders are at the defaults" in i.value for i in at.info)
    at.slider(key="sens_prior_strength").set_value(20.0).run()
    assert not at.exception
    changed = metric(at, "Estimates that changed")
    default = expected(demo_url)
    moved = expected(demo_url, settings=BlendSettings(prior_strength=20.0))
    ordinal = default.estimates["quantity"] != "minutes_per_case"
    differs = (default.estimates.loc[ordinal, "point"].astype(str).to_numpy() != moved.estimates.loc[ordinal, "point"].astype(str).to_numpy())
    assert int(changed.split(" of ")[0]) >= int(differs.sum()) > 0
    assert changed.endswith(f" of {int(ordinal.sum())}")
    headline = [d.value for d in at.dataframe if "Default settings" in d.value.columns][0]
    assert headline.set_index("Figure").loc["Deployable within a year", "Your settings"] == moved.headline["deployable_within_year"]
    at.switch_page(f"views/{ROADMAP}")
    at.run()
    assert "prior strength 20 (default 3)" in plain(at)
    assert metric(at, "Deployable within a year") == str(moved.headline["deployable_within_year"])
    at.switch_page(f"views/{ESTIMATES}")
    at.run()
    at.button(key="sens_reset").click().run()
    assert any("sliders are at the defaults" in i.value for i in at.info)


def test_write_a_case_study_and_read_it_back_safely(demo_url: str) -> None:
    at = open_app("lead", CASE_STUDIES)
    at.session_state["case_study_tab"] = "Write a case study"
    at.run()
    at.text_input[0].set_value("")
    form_submit = [b for b in at.button if b.label == "Save the case study"][0]
    form_submit.click().run()
    assert any("The case study was not saved" in e.value for e in at.error)
    at.text_input[0].set_value("<script>alert(1)</script> *Remote* triage")
    at.text_area[0].set_value("Two sites,\nsix weeks.")
    [b for b in at.button if b.label == "Save the case study"][0].click().run()
    assert not at.exception
    assert any("Saved the case study" in s.value for s in at.success)
    at.session_state["case_study_tab"] = "Read"
    at.run()
    headings = [h.value for h in at.subheader]
    assert r"\<script\>alert\(1\)\</script\> \*Remote\* triage" in headings
    assert "Two sites,  \nsix weeks\\." in texts(at)


def test_respondent_filters_recompute_the_estimates_and_withhold_what_would_single_people_out(demo_url: str) -> None:
    at = open_app("lead", ESTIMATES)
    assert at.multiselect(key="af_staff_groups").options  # the staff groups are offered with their labels
    at.multiselect(key="af_staff_groups").set_value(["nurse"]).run()
    assert not at.exception
    nurses = expected(demo_url, Filters(staff_groups=["nurse"])).estimates_table
    shown = at.dataframe[0].value
    assert len(shown) == len(nurses)
    withheld = nurses["survey_withheld"].to_numpy(bool)
    assert shown["Survey respondents"].astype(str).tolist() == [
        "withheld (<5)" if hidden else str(count) for hidden, count in zip(withheld, nurses["n_survey"], strict=True)]
    everyone = expected(demo_url).estimates_table
    assert (nurses["n_survey"].to_numpy() < everyone["n_survey"].to_numpy()).any()  # fewer respondents count
    assert "respondents by staff group: Nurse" in plain(at)
    assert ((nurses["n_survey"] == 0) | (nurses["n_survey"] >= 5)).all()
    # A month range: the choices are the months of the submissions; the "up to" list starts at "from".
    inputs = load_analysis_inputs(make_engine(demo_url))
    months = sorted(inputs.responses["submitted_at"].dt.strftime("%Y-%m").unique())
    assert at.selectbox(key="af_submitted_from").options[0] == "any month"
    at.selectbox(key="af_submitted_from").set_value(months[1]).run()
    assert at.selectbox(key="af_submitted_to").options[1] == pd.Timestamp(f"{months[1]}-01").strftime("%b %Y")
    later = expected(demo_url, Filters(staff_groups=["nurse"], submitted_from=months[1])).estimates_table
    assert at.dataframe[0].value["Survey respondents"].astype(str).tolist() == [
        "withheld (<5)" if hidden else str(count) for hidden, count in zip(later["survey_withheld"], later["n_survey"], strict=True)]
    assert f"respondents who answered from {pd.Timestamp(f'{months[1]}-01'):%b %Y}" in plain(at)


def test_the_language_respondents_answered_in_is_a_respondent_filter(demo_url: str) -> None:
    # A third of the demonstration clinicians answered in Welsh (the demo evidence is all English).
    engine = make_engine(demo_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE survey_response SET language = 'cy' WHERE id % 3 = 0")
    engine.dispose()
    at = open_app("lead", ESTIMATES)
    assert at.multiselect(key="af_languages").options == ["Welsh (cy)", "English (en)"]
    at.multiselect(key="af_languages").set_value(["cy"]).run()
    assert not at.exception
    welsh = expected(demo_url, Filters(languages=["cy"])).estimates_table
    everyone = expected(demo_url).estimates_table
    assert (welsh["n_survey"].to_numpy() < everyone["n_survey"].to_numpy()).any()
    assert ((welsh["n_survey"] == 0) | (welsh["n_survey"] >= 5)).all()  # the differencing guard applies
    assert at.dataframe[0].value["Survey respondents"].astype(str).tolist() == [
        "withheld (<5)" if hidden else str(count) for hidden, count in zip(welsh["survey_withheld"], welsh["n_survey"], strict=True)]
    assert "respondents by language they answered in: Welsh (cy)" in plain(at)


def test_the_roadmap_as_of_a_past_day(demo_url: str) -> None:
    at = open_app("lead", ROADMAP)
    at.date_input(key="af_as_of").set_value(dt.date(2026, 3, 1)).run()
    assert not at.exception, [e.message for e in at.exception]
    assert "The roadmap as of 01 March 2026" in plain(at)
    assert any("The roadmap as of 01 March 2026: survey answers submitted by then" in i.value for i in at.info)
    assert at.multiselect(key="af_staff_groups").disabled  # respondent filters: today only
    inputs = load_analysis_inputs(make_engine(demo_url))
    past = roadmap_analysis(inputs, load_catalogue_history(make_engine(demo_url)), BlendSettings(), Filters(), 5, "2026-03-01")
    assert metric(at, "Deployable within a year") == str(past.headline["deployable_within_year"])
    # Fewer survey answers had arrived by then than today.
    assert past.estimates["n_survey"].sum() < expected(demo_url).estimates["n_survey"].sum()
    # The estimates page follows the same day, and its downloads are stamped with it.
    at.switch_page(f"views/{ESTIMATES}")
    at.run()
    assert "The roadmap as of 01 March 2026" in plain(at)
    shown = [d.value for d in at.dataframe if "Survey respondents" in d.value.columns][0]
    assert shown["Survey respondents"].astype(str).tolist() == [
        "withheld (<5)" if hidden else str(count) for hidden, count in zip(past.estimates_table["survey_withheld"],
                                                                          past.estimates_table["n_survey"], strict=True)]
    at.button(key="af_today").click().run()
    assert "The roadmap today" in plain(at)


def test_what_changed_between_two_days(demo_url: str) -> None:
    at = show_view(open_app("lead", ROADMAP), "What changed")
    at.date_input(key="changes_from").set_value(dt.date(2026, 1, 1)).run()
    at.date_input(key="changes_to").set_value(dt.date(2026, 5, 1)).run()
    assert not at.exception, [e.message for e in at.exception]
    inputs = load_analysis_inputs(make_engine(demo_url))
    comparison = compare_days(inputs, load_catalogue_history(make_engine(demo_url)), BlendSettings(), 5, "2026-01-01", "2026-05-01")
    assert metric(at, "Estimates that moved") == str(len(comparison.changes)) != "0"
    table = [d.value for d in at.dataframe if "Moved" in d.value.columns][0]
    assert len(table) == len(comparison.changes)
    assert set(table["Moved"]) <= {"sooner", "later", "higher", "lower", "further", "back", "interval changed",
                                   "more time saved", "less time saved", "now estimated", "no longer estimated", "moved"}
    months = [d.value for d in at.dataframe if "Survey" in d.value.columns][0]
    assert months["Month"].tolist() == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]


def test_the_track_record_states_its_rule_and_judges_every_call(demo_url: str) -> None:
    at = show_view(open_app("lead", ROADMAP), "Track record")
    assert not at.exception, [e.message for e in at.exception]
    assert "reaches scale on the first day at least 1 site(s) report it scaled" in plain(at)
    bands = [d.value for d in at.dataframe if "Calls" in d.value.columns][0]
    assert bands["Calls"].sum() > 0
    assert (bands[["Came true", "Came early", "Missed", "Open"]].sum(axis=1) == bands["Calls"]).all()
    at.number_input(key="scale_scaled_sites").set_value(50).run()
    assert "at least 50 site(s) report it scaled" in plain(at)
    stricter = [d.value for d in at.dataframe if "Calls" in d.value.columns][0]
    assert stricter["Came true"].sum() <= bands["Came true"].sum()


def test_a_bad_disclosure_setting_stops_the_page(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADMAP_DISCLOSURE_THRESHOLD", "several")
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["dev_role"] = "lead"
    at.run()
    at.switch_page(f"views/{ROADMAP}")
    at.run()
    assert any("The disclosure setting is invalid" in e.value for e in at.error)


@pytest.mark.parametrize("role", ["respondent", "facilitator", "admin"])
def test_only_leads_reach_the_analysis(demo_url: str, role: str) -> None:
    at = open_app(role)
    for page in (ROADMAP, ESTIMATES, CASE_STUDIES):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"views/{page}")
    direct = AppTest.from_file(str(Path(APP).parent / "views" / ROADMAP), default_timeout=60)
    direct.session_state["dev_role"] = role
    direct.run()
    assert [e.value for e in direct.error] == ["You do not have access to this page."]


def test_a_chart_is_prepared_as_png_or_the_page_says_why(demo_url: str) -> None:
    at = open_app("lead", ROADMAP)
    at.button(key="png_prepare_distribution").click().run()
    assert not at.exception
    offered = [b for b in at.get("download_button") if "Download PNG" in str(b)]
    refused = [e.value for e in at.error if "could not be exported as PNG" in e.value]
    assert len(offered) + len(refused) == 1
