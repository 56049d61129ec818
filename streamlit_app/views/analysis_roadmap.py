"""Roadmap analysis (leads): the eight roadmap views over the global filters, every table and chart
exportable, and the printable report. Only the open tab is computed and drawn."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from analysis import schemas as s
from analysis.labelling import DIMENSION_LABELS
from storage.case_studies import list_case_studies
from streamlit_app import charts
from streamlit_app.analysis_state import (
    actor_of,
    analysis_for,
    as_of_banner,
    chart,
    comparison_for,
    current_settings,
    filter_sidebar,
    filters_caption,
    labeller,
    render_case_study,
    settings_caption,
    scale_rule,
    scale_rule_inputs,
    show_table,
    track_record_for,
    view_fingerprint,
)
from streamlit_app.auth import require_role
from streamlit_app.charts import ANY_TIME, OVERVIEW_DIMENSIONS, Labeller
from streamlit_app.report import (
    CHANGES_FOR_PEOPLE,
    RoadmapAnalysis,
    build_report,
    mark_suppressed,
    overview_for_people,
    technology_members,
)
from streamlit_app.runtime import get_engine
from streamlit_app.widgets import (
    demo_banner,
    md_escape,
    record_download,
    vocabulary_labels,
)

identity = require_role("lead")
actor = actor_of(identity)
st.title("Roadmap analysis")

filters = filter_sidebar()
settings = current_settings()
analysis = analysis_for(settings, filters)
label = labeller()
fingerprint = view_fingerprint(settings, filters)
demo_banner(analysis.inputs.technologies)
as_of_banner(analysis)
st.caption(f"The roadmap {md_escape(analysis.as_of_text)}. {md_escape(filters_caption(filters))} {md_escape(settings_caption(settings))} "
           f"Survey evidence from fewer than {analysis.threshold} respondents is withheld, and smaller counts are suppressed.")


def report_download(analysis: RoadmapAnalysis) -> None:
    """The one printable report of every view, built when the button is clicked."""
    case_studies = list_case_studies(get_engine(), actor=actor)
    labels = vocabulary_labels()
    st.download_button(
        "Download the report (printable HTML)", type="primary", key="report_download",
        data=lambda: build_report(analysis, case_studies, labels, track=track_record_for(settings, scale_rule())).encode("utf-8"),
        file_name=f"roadmap-report-{analysis.as_of:%Y-%m-%d}.html", mime="text/html",
        on_click=record_download, args=("roadmap-report", "html", len(analysis.ids)),
        help="All views, the estimates table, the track record, the case studies and the method page, stamped with the day it "
             "describes, the data date and the settings used.",
    )


report_download(analysis)
if analysis.is_empty:
    if analysis.is_past and analysis.inputs.technologies.empty:
        st.warning(f"The catalogue held no technology {analysis.as_of_text}. Choose a later day.", icon=":material/history:")
    else:
        st.warning("No technologies match the filters. Widen or clear the filters in the sidebar.", icon=":material/filter_alt_off:")
    st.stop()


def distribution_view() -> None:
    headline = analysis.headline
    columns = st.columns(4)
    columns[0].metric("Technologies", headline["technologies"])
    columns[1].metric("Deployable within a year", headline["deployable_within_year"],
                      help="Blended time to deployment: already at scale or within one year.")
    columns[2].metric("Workforce groups affected", headline["workforce_groups_affected"])
    columns[3].metric("Clinical areas affected", headline["clinical_areas_affected"])
    chart(charts.distribution_figure(analysis.distribution, label), "distribution", key="distribution", fingerprint=fingerprint)
    show_table(analysis.distribution, "distribution", key="distribution",
               caption="Counts and shares of the filtered technologies by type and subtype.")


def profile_view() -> None:
    types = analysis.types_present
    type_code = st.selectbox("Technology type", types, format_func=lambda code: label("technology_type", code), key="profile_type")
    profile = analysis.profile(type_code)
    technologies = analysis.inputs.technologies
    denominator = int(((technologies["type_code"].astype(object) == type_code) & technologies["technology_id"].isin(analysis.ids)).sum())
    regions = profile["regions"]
    left, right = st.columns(2)
    left.metric("Technologies of this type", denominator)
    right.metric("Leading region (live or scaled sites)", label("region", regions["region"].iloc[0]) if not regions.empty else "none live")
    st.info(f"Workforce groups, clinical areas and points of care are multi-valued: shares are of the {denominator} "
            "technologies of this type, and can add up to more than 100%.", icon=":material/info:")
    stem = f"profile-{type_code}"
    for key, column, vocabulary, title in (
            ("workforce_groups", "workforce_group", "workforce_group", "Top 5 workforce groups"),
            ("clinical_areas", "clinical_area", "clinical_area", "Top 5 clinical areas"),
            ("points_of_care", "point_of_care", "point_of_care", "Point of care")):
        chart(charts.share_bar_figure(profile[key], column, vocabulary, title, label, multi_valued=True), f"{stem}-{key}",
              key=f"profile_{key}", fingerprint=fingerprint + type_code)
        show_table(profile[key], f"{stem}-{key}", key=f"profile_{key}")
    chart(charts.share_bar_figure(profile["time_to_deployment"], "horizon", "deployment_horizon", "Time to deployment (blended)",
                                  label, multi_valued=False), f"{stem}-time-to-deployment", key="profile_time", fingerprint=fingerprint + type_code)
    show_table(profile["time_to_deployment"], f"{stem}-time-to-deployment", key="profile_time")
    show_table(regions, f"{stem}-regions", key="profile_regions", caption="Regions by live or scaled sites, leading region first.")


STATUS_GROUPS = {"live or scaled": s.LIVE_STATUSES, **{status: (status,) for status in s.ADOPTION_STATUSES}}


def spread_view() -> None:
    chosen = st.segmented_control("Sites by current status", list(STATUS_GROUPS), default="live or scaled", key="spread_status",
                                  required=True)
    statuses = STATUS_GROUPS[chosen or "live or scaled"]
    chart(charts.region_tile_figure(analysis.adoption_regions, statuses, label), "adoption-regions", key="spread_tiles",
          fingerprint=fingerprint + str(statuses))
    show_table(analysis.adoption_regions, "adoption-by-region", key="spread_regions",
               caption="Sites by NHS region and current status (each site counted once, at its current status).")
    status = st.selectbox("Heat map status", s.ADOPTION_STATUSES, index=s.ADOPTION_STATUSES.index("live"),
                          format_func=lambda code: label("adoption_status", code), key="spread_heat_status")
    chart(charts.adoption_heatmap_figure(analysis.adoption_heat, status, label), f"adoption-{status}-region-site-type",
          key="spread_heat", fingerprint=fingerprint + status)
    show_table(analysis.adoption_heat, "adoption-region-site-type", key="spread_heat")
    st.subheader("Equity of access")
    st.caption("Technologies live or scaled somewhere, but not live in a region or site type.")
    chart(charts.equity_figure(analysis.equity, label), "equity-gaps", key="spread_equity", fingerprint=fingerprint)
    show_table(analysis.equity.counts, "equity-gaps", key="spread_equity")
    counts = analysis.equity.counts[analysis.equity.counts["gap"] > 0]
    if not counts.empty:
        cell = st.selectbox("Which technologies are missing in…", list(zip(counts["dimension"], counts["code"], strict=True)),
                            format_func=lambda c: f"{label(c[0], c[1])} ({DIMENSION_LABELS[c[0]].lower()})", key="spread_gap_cell")
        members = analysis.equity.members
        chosen_members = members[(members["dimension"] == cell[0]) & (members["code"] == cell[1])]
        show_table(technology_members(chosen_members, analysis.inputs.technologies), f"equity-gap-{cell[0]}-{cell[1]}",
                   key="spread_gap_members")


def overview_view() -> None:
    dimension = st.segmented_control("Technologies by", list(OVERVIEW_DIMENSIONS), format_func=OVERVIEW_DIMENSIONS.get,
                                     default="clinical_area", key="overview_dimension", required=True) or "clinical_area"
    cells = analysis.overview[dimension]
    st.caption("A technology linked to several codes counts once under each, so rows can add up to more than the "
               "number of technologies. Columns are the blended time to deployment. Click a cell of the matrix, or a "
               "bar, to list the technologies behind it.")
    matrix_clicks = chart(charts.overview_heatmap_figure(cells, dimension, label), f"overview-{dimension}-time",
                          key=f"overview_heat_{dimension}", fingerprint=fingerprint + dimension, clickable=True)
    bar_clicks = chart(charts.ranked_bar_figure(cells, dimension, label), f"overview-{dimension}-ranked",
                       key=f"overview_ranked_{dimension}", fingerprint=fingerprint + dimension, clickable=True)
    show_table(cells.counts, f"overview-{dimension}", key="overview_counts", **overview_for_people(dimension))
    st.subheader("Technologies behind a cell or bar")
    members = cells.members.assign(row=cells.members["row"].astype(str),
                                   column=cells.members["column"].astype(object).fillna("").astype(str))
    totals = _drill_down_totals(members)
    picker = f"overview_cell_{dimension}"
    empty_clicks = [clicked for source, points in (("matrix", matrix_clicks), ("bars", bar_clicks))
                    if (clicked := _follow_click(points, picker, totals, source)) is not None]
    for clicked in empty_clicks:
        st.info(f"No technology is in {_cell_text(label, dimension, clicked)}.", icon=":material/info:")
    cell = st.selectbox("Cell or whole row (or click one in the charts above)", list(totals), key=picker,
                        format_func=lambda key: f"{_cell_text(label, dimension, key)}: {_technologies(totals[key])}")
    row, column = cell.split(CELL_SEPARATOR)
    chosen = members[(members["row"] == row) & ((members["column"] == column) | (column == ANY_TIME))]
    chosen = chosen.drop_duplicates("technology_id")[["technology_id"]]
    show_table(technology_members(chosen, analysis.inputs.technologies), f"overview-{dimension}-cell", key="overview_members")


# A cell is "row code<US>column code" (column "" for no estimate, ANY_TIME for the whole row),
# matching the charts' customdata.
CELL_SEPARATOR = "\x1f"


def _cell_key(row: str, column: str) -> str:
    return f"{row}{CELL_SEPARATOR}{column}"


def _drill_down_totals(members: pd.DataFrame) -> dict[str, int]:
    """Technologies behind each choice of the picker: each row as a whole (most technologies
    first), followed by its cells."""
    rows = members.groupby("row")["technology_id"].nunique().sort_values(ascending=False, kind="stable")
    cells = members.groupby(["row", "column"])["technology_id"].nunique()
    horizon_order = {horizon: position for position, horizon in enumerate(s.HORIZONS)}  # "" (no estimate) last
    totals: dict[str, int] = {}
    for row, count in rows.items():
        totals[_cell_key(row, ANY_TIME)] = int(count)
        row_cells = cells.loc[[row]].droplevel("row")
        for column in sorted(row_cells.index, key=lambda c: horizon_order.get(c, len(horizon_order))):
            totals[_cell_key(row, column)] = int(row_cells[column])
    return totals


def _cell_text(label: Labeller, dimension: str, key: str) -> str:
    row, column = key.split(CELL_SEPARATOR)
    if column == ANY_TIME:
        return f"{label(dimension, row)} (any time to deployment)"
    return f"{label(dimension, row)} × {_horizon_text(label, column or None)}"


def _follow_click(points: list[dict] | None, picker: str, totals: dict[str, int], source: str) -> str | None:
    """Point the picker at a newly clicked cell or bar. A click stays selected in its chart across
    reruns, so it is applied once: choosing something else in the picker afterwards wins.
    Returns the clicked cell when it has no technologies (it is not in the picker)."""
    if not points or "customdata" not in points[0]:
        return None
    clicked = _cell_key(*points[0]["customdata"])
    applied = f"{picker}_clicked_{source}"
    if st.session_state.get(applied) == clicked:
        return None
    st.session_state[applied] = clicked
    if clicked not in totals:
        return clicked
    st.session_state[picker] = clicked
    return None


def _technologies(count: int) -> str:
    return f"{count} technology" if count == 1 else f"{count} technologies"


def _horizon_text(label: Labeller, horizon: object) -> str:
    return "no estimate" if pd.isna(horizon) else label("deployment_horizon", horizon)


def timeline_view() -> None:
    st.caption("Each dot is a technology at its blended time to deployment at scale; the bar is its 90% interval. "
               "Colour shows the strength of the evidence.")
    chart(charts.timeline_figure(analysis.timeline, label), "roadmap-timeline", key="timeline", fingerprint=fingerprint)
    show_table(analysis.timeline, "roadmap-timeline", key="timeline")


def workforce_view() -> None:
    chart(charts.workforce_figure(analysis.workforce, label), "workforce-impact", key="workforce", fingerprint=fingerprint)
    chart(charts.minutes_figure(analysis.workforce, label), "workforce-minutes", key="workforce_minutes", fingerprint=fingerprint)
    show_table(analysis.workforce, "workforce-impact", key="workforce",
               caption="Per workforce group: technologies arriving within 1, 3 and 5 years, weighted by blended impact "
                       "(low 1, medium 2, high 3), and the median minutes per case where time evidence exists.")
    st.subheader("Training needs")
    chart(charts.training_figure(analysis.training, label, analysis.threshold), "training-needs", key="training", fingerprint=fingerprint)
    show_table(analysis.tables["training_needs"], "training-needs", key="training",
               caption="Respondents holding each archetype who received or need each training type (for the filtered technologies). "
                       + analysis.training.attrs.get("suppression_note", ""))


def evidence_view() -> None:
    st.caption("Where to send the next survey or workshop: technologies without survey or workshop evidence, or whose "
               "catalogue entry has not been reviewed for a year.")
    chart(charts.evidence_gap_figure(analysis.evidence_gaps, label), "evidence-gaps", key="evidence", fingerprint=fingerprint)
    show_table(analysis.tables["evidence_gaps"], "evidence-gaps", key="evidence")


def case_studies_view() -> None:
    st.page_link("views/analysis_case_studies.py", label="Write or edit case studies", icon=":material/edit_note:")
    records = list_case_studies(get_engine(), actor=actor)
    if not records:
        st.info("No case study yet.")
    for record in records:
        render_case_study(record)


def changes_view() -> None:
    today = dt.date.today()
    left, right = st.columns(2)
    first = left.date_input("From the end of", value=today - dt.timedelta(days=91), max_value=today - dt.timedelta(days=1),
                            format="DD/MM/YYYY", key="changes_from")
    last = right.date_input("To the end of", value=today, min_value=first + dt.timedelta(days=1), max_value=today,
                            format="DD/MM/YYYY", key="changes_to")
    if first >= last:
        st.error("Choose a first day before the second.")
        return
    comparison = comparison_for(settings, first, last)
    changes = comparison.changes[comparison.changes["technology_id"].isin(analysis.ids)]
    st.caption(f"Estimates whose point or 90% interval moved between the end of {first:%d %B %Y} and the end of {last:%d %B %Y}, "
               "the one that moved most first, with the evidence that arrived in between. Survey answers are counted in "
               f"steps of at least {analysis.threshold} respondents per technology; where a technology gained fewer than "
               f"{analysis.threshold} evidence items in all, only the direction of the change is shown.")
    st.metric("Estimates that moved", len(changes))
    show_table(changes, f"changes-{first:%Y-%m-%d}-to-{last:%Y-%m-%d}", key="changes", **CHANGES_FOR_PEOPLE)
    chart(charts.evidence_timeline_figure(comparison.by_month), "evidence-per-month", key="changes_timeline",
          fingerprint=fingerprint + f"{first}{last}")
    show_table(mark_suppressed(comparison.by_month, analysis.threshold), "evidence-per-month", key="changes_months",
               caption="Evidence arriving per month by source (survey responses; workshop rounds closed; adoption records "
                       "coming into force; catalogue revisions).")


def track_record_view() -> None:
    rule = scale_rule_inputs()
    st.caption(f"Rule for reaching scale: {md_escape(rule.describe())}. At the end of every month the roadmap made a call on each "
               "technology's time to deployment at scale (its blended estimate as of that day); here is what came of them, "
               "judged on the adoption records.")
    record = track_record_for(settings, rule)
    if record.calls.empty:
        st.info("No calls yet: the roadmap needs at least one full month of history.", icon=":material/history:")
        return
    chart(charts.track_record_figure(record.by_band, label), "track-record", key="track", fingerprint=fingerprint + rule.model_dump_json())
    show_table(record.by_band, "track-record", key="track_bands", caption="Calls per horizon band and what came of them (one call per technology per month).")
    chart(charts.reliability_figure(record.reliability), "track-record-reliability", key="track_reliability",
          fingerprint=fingerprint + rule.model_dump_json())
    show_table(record.reliability, "track-record-reliability", key="track_reliability",
               caption="Predicted chance of scale within a year, grouped, against how often it came (calls whose year has passed).")


VIEWS = {
    "Distribution": distribution_view,
    "Use-case profiles": profile_view,
    "Spread": spread_view,
    "AI overview": overview_view,
    "Roadmap timeline": timeline_view,
    "Workforce impact": workforce_view,
    "Evidence base": evidence_view,
    "Case studies": case_studies_view,
    "What changed": changes_view,
    "Track record": track_record_view,
}
for tab, draw in zip(st.tabs(list(VIEWS), key="analysis_view", on_change="rerun"), VIEWS.values(), strict=True):
    if tab.open:
        with tab:
            draw()
