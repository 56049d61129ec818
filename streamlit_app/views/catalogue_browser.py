"""Catalogue browser: search, filter, sort and open one technology with its sites and provenance."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.catalogue_table import CATALOGUE_HEADINGS, CatalogueFilters, catalogue_table, filter_catalogue
from analysis.labelling import for_people
from storage.catalogue import get_technology
from streamlit_app.auth import require_role
from streamlit_app.runtime import get_engine
from streamlit_app.widgets import (
    catalogue_frames,
    demo_banner,
    download_table,
    md_escape,
    people_table,
    shortened,
    vocabulary_labels,
    vocabulary_options,
)

require_role("facilitator", "lead", "admin")
st.title("Technology catalogue")

frames = catalogue_frames()
labels = vocabulary_labels()
technologies, links, adoption = frames["technologies"], frames["technology_links"], frames["adoption"]
demo_banner(technologies)


def _fmt(vocabulary: str):
    mapping = labels.get(vocabulary, {})
    return lambda code: mapping.get(code, code)


with st.expander("Search and filters", expanded=True):
    text = st.text_input("Search name, company or description", key="cat_text")
    left, middle, right = st.columns(3)
    type_codes = left.multiselect("Type", vocabulary_options("technology_type"), format_func=_fmt("technology_type"), key="cat_types")
    subtype_choices = [c for c in vocabulary_options("technology_subtype")]
    subtype_codes = left.multiselect("Subtype", subtype_choices, format_func=_fmt("technology_subtype"), key="cat_subtypes")
    clinical_areas = middle.multiselect("Clinical area", vocabulary_options("clinical_area"), format_func=_fmt("clinical_area"), key="cat_areas")
    workforce_groups = middle.multiselect("Workforce group", vocabulary_options("workforce_group"), format_func=_fmt("workforce_group"), key="cat_groups")
    points_of_care = right.multiselect("Point of care", vocabulary_options("point_of_care"), format_func=_fmt("point_of_care"), key="cat_poc")
    horizons = right.multiselect("Time to deployment at scale", vocabulary_options("deployment_horizon"), format_func=_fmt("deployment_horizon"), key="cat_horizons")
    regions = left.multiselect("Adopted in region", vocabulary_options("region"), format_func=_fmt("region"), key="cat_regions")
    only_to_classify = middle.checkbox("Only entries still to classify", key="cat_to_classify")

filters = CatalogueFilters(text=text, type_codes=type_codes, subtype_codes=subtype_codes, clinical_areas=clinical_areas,
                           workforce_groups=workforce_groups, points_of_care=points_of_care, horizons=horizons, regions=regions,
                           only_to_classify=only_to_classify)
table = catalogue_table(technologies, links, adoption, labels)
matching = filter_catalogue(technologies, links, adoption, filters)
shown = table[table["technology_id"].isin(matching)].sort_values("name")
st.caption(f"{len(shown)} of {len(table)} technologies match.")

selection = st.dataframe(
    shown,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key="cat_table",
    column_config={
        "technology_id": st.column_config.NumberColumn(CATALOGUE_HEADINGS["technology_id"], format="%d", width="small"),
        "name": st.column_config.TextColumn(CATALOGUE_HEADINGS["name"], width="large"),
        **{column: st.column_config.TextColumn(CATALOGUE_HEADINGS[column])
           for column in ("company", "type", "subtype", "clinical_areas", "workforce_groups", "points_of_care", "time_to_deployment")},
        "live_sites": st.column_config.NumberColumn(CATALOGUE_HEADINGS["live_sites"], help="Sites where it is live or scaled"),
        "needs_classification": st.column_config.CheckboxColumn(CATALOGUE_HEADINGS["needs_classification"]),
        "is_demo": st.column_config.CheckboxColumn(CATALOGUE_HEADINGS["is_demo"]),
        "updated_at": st.column_config.DatetimeColumn(CATALOGUE_HEADINGS["updated_at"], format="YYYY-MM-DD"),
    },
)
download_table(for_people(shown.drop(columns=["is_demo"]), labels, headings=CATALOGUE_HEADINGS), "catalogue-view", key="cat_download",
               label="Download this list")

selected_rows = selection.selection.rows if selection is not None else []
options = shown["technology_id"].tolist()
names = {i: shortened(name) for i, name in zip(shown["technology_id"], shown["name"], strict=True)}
default_id = shown.iloc[selected_rows[0]]["technology_id"] if selected_rows else st.query_params.get("technology")
try:
    default_index = options.index(int(default_id)) if default_id is not None else None
except (ValueError, TypeError):
    default_index = None
chosen = st.selectbox("Open a technology", options, index=default_index, format_func=lambda i: names.get(i, str(i)),
                      placeholder="Choose a technology from the list", key="cat_open")

if chosen is not None:
    st.query_params["technology"] = str(chosen)
    technology = get_technology(get_engine(), int(chosen))
    if technology is None:
        st.warning("That technology no longer exists.")
        st.stop()
    st.divider()
    st.header(md_escape(shortened(technology.name)))
    if technology.is_demo:
        st.caption("Demonstration record — synthetic data.")
    codes_by_kind: dict[str, list[str]] = {}
    primary = ""
    for link in technology.links:
        codes_by_kind.setdefault(link.kind, []).append(link.code)
        if link.kind == "workforce_group" and link.is_primary:
            primary = link.code

    def _label(vocabulary: str, code: str | None) -> str:
        return labels.get(vocabulary, {}).get(code, code) if code else "—"

    details = [("Name", technology.name)] if shortened(technology.name) != technology.name else []
    details += [
        ("Developer / company", technology.company or "—"),
        ("Short description", technology.short_description or "—"),
        ("Type", _label("technology_type", technology.type_code) if technology.type_code else "To classify"),
        ("Subtype", _label("technology_subtype", technology.subtype_code)),
        ("AI technique", technology.ai_technique or "—"),
        ("Input data", technology.input_data_type or "—"),
        ("Clinical areas", "; ".join(_label("clinical_area", c) for c in codes_by_kind.get("clinical_area", [])) or "—"),
        ("Workforce groups", "; ".join(_label("workforce_group", c) + (" (primary)" if c == primary else "") for c in codes_by_kind.get("workforce_group", [])) or "—"),
        ("Points of care", "; ".join(_label("point_of_care", c) for c in codes_by_kind.get("point_of_care", [])) or "—"),
        ("Time to deployment at scale", _label("deployment_horizon", technology.time_to_deployment)),
        ("Impact on primary workforce group", _label("impact_level", technology.impact_workforce)),
        ("Impact on clinical pathway", _label("impact_level", technology.impact_pathway)),
        ("Impact on system", _label("impact_level", technology.impact_system)),
        ("UKCA/CE marking", " ".join(filter(None, [technology.ukca_ce_class and f"class {technology.ukca_ce_class}", technology.ukca_ce_regime])) or "Unknown"),
        ("FDA", " ".join(filter(None, [technology.fda_pathway, technology.fda_submission_number, technology.fda_decision_date and f"({technology.fda_decision_date})"])) or "—"),
        ("NICE ESF tier", _label("nice_esf_tier", technology.nice_esf_tier)),
        ("Evidence level", _label("evidence_level", technology.evidence_level)),
    ]
    st.dataframe(pd.DataFrame(details, columns=["Field", "Value"]), hide_index=True, width="stretch")
    if technology.long_description:
        st.subheader("Description")
        st.text(technology.long_description)

    st.subheader("Adoption sites")
    if technology.adoptions:
        people_table(pd.DataFrame([
            {"site": a.site.name, "region": a.site.region, "site_type": a.site.site_type, "status": a.status,
             "since": a.start_date, "until": a.end_date}
            for a in sorted(technology.adoptions, key=lambda a: (a.site.region, a.site.name))
        ]))
    else:
        st.write("No adoption recorded yet.")

    st.subheader("Where this record came from")
    provenance = [
        ("Source", technology.source),
        ("Source detail", technology.source_detail or "—"),
        ("External ids", "; ".join(f"{e.scheme}: {e.value}" for e in technology.external_ids) or "—"),
        ("Created", technology.created_at.strftime("%Y-%m-%d %H:%M UTC") if technology.created_at else "—"),
        ("Last updated", technology.updated_at.strftime("%Y-%m-%d %H:%M UTC") if technology.updated_at else "—"),
        ("Last reviewed", str(technology.last_reviewed) if technology.last_reviewed else "Never"),
    ]
    st.dataframe(pd.DataFrame(provenance, columns=["Field", "Value"]), hide_index=True, width="stretch")
