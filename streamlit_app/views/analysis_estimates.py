"""Estimates (leads): the blended estimates of the filtered technologies, the evidence behind any one
of them (without who answered), and the sensitivity panel comparing other weights with the defaults."""

from __future__ import annotations

import streamlit as st

from analysis import schemas as s
from analysis.blending import BlendSettings, compare_estimates
from analysis.labelling import QUANTITY_LABELS, QUANTITY_VOCABULARY, value_text
from streamlit_app.analysis_state import (
    SENSITIVITY_SLIDERS,
    analysis_for,
    as_of_banner,
    filter_sidebar,
    filters_caption,
    labeller,
    reset_settings,
    settings_are_default,
    settings_caption,
    settings_sliders,
    show_table,
)
from streamlit_app.auth import require_role
from streamlit_app.report import (
    ESTIMATES_FOR_PEOPLE,
    SENSITIVITY_FOR_PEOPLE,
    estimates_with_withheld,
    headline_comparison,
    withheld_text,
)
from streamlit_app.widgets import demo_banner, md_escape

require_role("lead")
st.title("Estimates")

filters = filter_sidebar()
estimates_area, evidence_area, sensitivity_area = st.container(), st.container(), st.container()
with sensitivity_area:
    st.header("Sensitivity")
    st.caption("Change the weights of the blending model and see how the estimates and the views move against the "
               "defaults. The settings apply to every analysis page and to the report until you reset them.")
    settings = settings_sliders()
    st.button("Reset to the defaults", on_click=reset_settings, key="sens_reset", disabled=settings_are_default(settings))

analysis = analysis_for(settings, filters)
label = labeller()


def _shown(quantity: str, value: object) -> str:
    """An estimate's value for people: its label, minutes with their sign, missing (or hidden) as a dash."""
    return value_text(label(QUANTITY_VOCABULARY[quantity], value) if isinstance(value, str) and quantity in QUANTITY_VOCABULARY
                      else value)


with estimates_area:
    demo_banner(analysis.inputs.technologies)
    as_of_banner(analysis)
    st.caption(f"The roadmap {md_escape(analysis.as_of_text)}. {md_escape(filters_caption(filters))} "
               f"{md_escape(settings_caption(settings))}")
    if analysis.is_empty:
        st.warning("No technologies match the filters. Widen or clear the filters in the sidebar.", icon=":material/filter_alt_off:")
        st.stop()
    table = analysis.estimates_table
    quantity_filter = st.selectbox("Quantity", [None, *s.QUANTITIES], key="est_quantity",
                                   format_func=lambda q: "All quantities" if q is None else QUANTITY_LABELS[q])
    shown = table if quantity_filter is None else table[table["quantity"] == quantity_filter]
    st.caption("Point estimate and 90% interval; the evidence columns count it by source. Survey answers of fewer than "
               f"{analysis.threshold} respondents never enter an estimate: it then rests on the desk assessment, sites "
               "and workshops, and says so.")
    show_table(estimates_with_withheld(shown, analysis.threshold),
               "estimates" if quantity_filter is None else f"estimates-{quantity_filter}", key="est_table", **ESTIMATES_FOR_PEOPLE)

with evidence_area:
    st.header("Evidence behind an estimate")
    names = analysis.inputs.technologies.set_index("technology_id")["name"]
    left, right = st.columns(2)
    technology_id = left.selectbox("Technology", [int(i) for i in analysis.ids], format_func=lambda i: names.get(i, str(i)),
                                   key="est_technology")
    quantity = right.selectbox("Quantity", s.QUANTITIES, format_func=QUANTITY_LABELS.get, key="est_evidence_quantity")
    row = table[(table["technology_id"] == technology_id) & (table["quantity"] == quantity)]
    if not row.empty:
        estimate = row.iloc[0]
        top, bottom = st.columns(2), st.columns(2)  # two per row: interval and suppression texts are long
        top[0].metric("Point estimate", _shown(quantity, estimate["point"]))
        top[1].metric("90% interval", f"{_shown(quantity, estimate['lower'])} – {_shown(quantity, estimate['upper'])}")
        bottom[0].metric("Evidence strength", str(estimate["strength"]))
        bottom[1].metric("Survey respondents",
                         withheld_text(analysis.threshold) if estimate["survey_withheld"] else str(estimate["n_survey"]))
    evidence, note = analysis.evidence(technology_id, quantity)
    if note:
        st.info(note, icon=":material/visibility_off:")
    show_table(evidence, f"evidence-{technology_id}-{quantity}", key="est_evidence",
               vocabularies={"value": QUANTITY_VOCABULARY.get(quantity)},
               caption="Source, reference, value, weight (pseudo-responses it adds) and date. Survey rows carry only the "
                       "internal response record number, never who answered.")

with sensitivity_area:
    if settings_are_default(settings):
        st.info("The sliders are at the defaults: move one to compare.", icon=":material/tune:")
    else:
        default = analysis_for(BlendSettings(), filters)
        ordinal = list(s.ORDINAL_QUANTITIES)
        chosen = default.estimates["technology_id"].isin(analysis.ids)
        comparison = compare_estimates(default.estimates[chosen & default.estimates["quantity"].isin(ordinal)],
                                       analysis.estimates[analysis.estimates["technology_id"].isin(analysis.ids)
                                                          & analysis.estimates["quantity"].isin(ordinal)])
        changed = comparison[comparison["changed"]]
        st.metric("Estimates that changed", f"{len(changed)} of {len(comparison)}")
        st.caption("Minutes per case do not depend on these weights (a median of the answers) and are not compared.")
        show_table(changed.assign(name=changed["technology_id"].map(names)), "sensitivity-changed-estimates", key="sens_changed",
                   **SENSITIVITY_FOR_PEOPLE,
                   caption="Changed estimates: point and 90% interval under the defaults and under your settings "
                           "(shift = change of the point in categories).")
        show_table(headline_comparison(default, analysis), "sensitivity-headline", key="sens_headline",
                   caption="Headline figures of the views under both settings.")
    with st.expander("What the sliders mean"):
        for name, (text, _low, _high, _step) in SENSITIVITY_SLIDERS.items():
            st.markdown(f"- **{text}** (default {getattr(BlendSettings(), name):g}): "
                        f"{md_escape(BlendSettings.model_fields[name].description or '')}")
