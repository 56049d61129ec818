"""The add/edit technology form: one st.form, validated by TechnologyInput, errors shown under each field."""

from __future__ import annotations

import datetime as dt

import streamlit as st
from pydantic import ValidationError

from storage.catalogue import (
    FDA_PATHWAY_LABELS,
    FDA_PATHWAYS,
    TEXT_LIMITS,
    UKCA_CE_CLASSES,
    UKCA_CE_REGIMES,
    TechnologyInput,
    field_errors,
)
from storage.db import read_session
from storage.vocabularies import all_codes, subtype_parents
from streamlit_app.runtime import get_engine
from streamlit_app.widgets import vocabulary_labels, vocabulary_options


def _errors_key(prefix: str) -> str:
    return f"{prefix}_errors"


def _show_error(prefix: str, field: str) -> None:
    message = st.session_state.get(_errors_key(prefix), {}).get(field)
    if message:
        st.error(message, icon=":material/error:")


def validation_errors(error: ValidationError) -> dict[str, str]:
    """Field name -> first message ("form" for the record as a whole)."""
    errors: dict[str, str] = {}
    for name, message in field_errors(error):
        errors.setdefault(name or "form", message)
    return errors


def technology_form(prefix: str, initial: TechnologyInput | None, submit_label: str) -> TechnologyInput | None:
    """Draw the form; on a valid submit return the validated input (else None, with errors shown)."""
    labels = vocabulary_labels()
    base = initial or TechnologyInput.model_construct(**{name: f.get_default(call_default_factory=True) for name, f in TechnologyInput.model_fields.items()})

    def fmt(vocabulary: str):
        mapping = labels.get(vocabulary, {})
        return lambda code: "—" if code is None else mapping.get(code, code)

    def single(label: str, vocabulary: str, field: str, column, help_text: str | None = None):
        options = [None, *vocabulary_options(vocabulary)]
        current = getattr(base, field)
        index = options.index(current) if current in options else 0
        value = column.selectbox(label, options, index=index, format_func=fmt(vocabulary), key=f"{prefix}_{field}", help=help_text)
        with column:
            _show_error(prefix, field)
        return value

    def multi(label: str, vocabulary: str, field: str, column):
        options = vocabulary_options(vocabulary)
        current = [c for c in getattr(base, field) if c in options]
        value = column.multiselect(label, options, default=current, format_func=fmt(vocabulary), key=f"{prefix}_{field}")
        with column:
            _show_error(prefix, field)
        return value

    with st.form(f"{prefix}_form", clear_on_submit=False):
        pending = st.session_state.get(_errors_key(prefix))
        if pending:
            st.error(f"Not saved: {len(pending)} field(s) need attention — see the messages below each field.")
        st.markdown("**Identity**")
        left, right = st.columns(2)
        name = left.text_input("Name (required)", value=base.name or "", max_chars=TEXT_LIMITS["name"], key=f"{prefix}_name")
        with left:
            _show_error(prefix, "name")
        company = right.text_input("Developer / company", value=base.company or "", max_chars=TEXT_LIMITS["company"],
                                   key=f"{prefix}_company")
        short_description = st.text_area("Short description", value=base.short_description or "", height=80,
                                         max_chars=TEXT_LIMITS["short_description"], key=f"{prefix}_short")
        long_description = st.text_area("Long description", value=base.long_description or "",
                                        max_chars=TEXT_LIMITS["long_description"], key=f"{prefix}_long")
        catalogue_id = st.text_input("Catalogue id (optional, your own reference)", value=base.catalogue_id or "",
                                     max_chars=TEXT_LIMITS["catalogue_id"], key=f"{prefix}_catalogue_id")

        st.markdown("**Classification**")
        left, right = st.columns(2)
        type_code = single("Type", "technology_type", "type_code", left)
        subtype_code = single("Subtype", "technology_subtype", "subtype_code", right, "Must belong to the chosen type")
        ai_technique = left.text_input("AI technique", value=base.ai_technique or "", max_chars=TEXT_LIMITS["ai_technique"],
                                       key=f"{prefix}_technique")
        input_data_type = right.text_input("Input data type", value=base.input_data_type or "",
                                           max_chars=TEXT_LIMITS["input_data_type"], key=f"{prefix}_input")
        clinical_areas = multi("Clinical areas", "clinical_area", "clinical_areas", left)
        points_of_care = multi("Points of care", "point_of_care", "points_of_care", right)
        workforce_groups = multi("Workforce groups affected", "workforce_group", "workforce_groups", left)
        primary_options = [None, *vocabulary_options("workforce_group")]
        primary = right.selectbox("Primary workforce group (one of the groups affected)", primary_options,
                                  index=primary_options.index(base.primary_workforce_group) if base.primary_workforce_group in primary_options else 0,
                                  format_func=fmt("workforce_group"), key=f"{prefix}_primary")
        with right:
            _show_error(prefix, "primary_workforce_group")

        st.markdown("**Deployment and impact (desk assessment)**")
        left, right = st.columns(2)
        horizon = single("Time to deployment at scale", "deployment_horizon", "time_to_deployment", left)
        impact_workforce = single("Impact on the primary workforce group", "impact_level", "impact_workforce", right)
        impact_pathway = single("Impact on the clinical pathway", "impact_level", "impact_pathway", left)
        impact_system = single("Impact on the system", "impact_level", "impact_system", right)

        st.markdown("**Regulation and evidence**")
        left, middle, right = st.columns(3)
        ce_options = [None, *UKCA_CE_CLASSES]
        ukca_ce_class = left.selectbox("UKCA/CE class", ce_options, index=ce_options.index(base.ukca_ce_class) if base.ukca_ce_class in ce_options else 0,
                                       format_func=lambda v: "Unknown" if v is None else ("Not marked" if v == "none" else v), key=f"{prefix}_ce_class")
        regime_options = [None, *UKCA_CE_REGIMES]
        ukca_ce_regime = middle.selectbox("Under", regime_options, index=regime_options.index(base.ukca_ce_regime) if base.ukca_ce_regime in regime_options else 0,
                                          format_func=lambda v: "—" if v is None else v, key=f"{prefix}_ce_regime")
        fda_options = [None, *FDA_PATHWAYS]
        fda_pathway = right.selectbox("FDA pathway", fda_options, index=fda_options.index(base.fda_pathway) if base.fda_pathway in fda_options else 0,
                                      format_func=lambda v: "None / unknown" if v is None else FDA_PATHWAY_LABELS[v], key=f"{prefix}_fda")
        with right:
            _show_error(prefix, "fda_pathway")
        fda_number = left.text_input("FDA submission number", value=base.fda_submission_number or "",
                                     max_chars=TEXT_LIMITS["fda_submission_number"], key=f"{prefix}_fda_number",
                                     help="K… (510(k)), DEN… (De Novo) or P… (PMA): the pathway is read from it when left unset")
        nice_tier = single("NICE ESF tier", "nice_esf_tier", "nice_esf_tier", middle)
        evidence_level = single("Evidence level (Fryback–Thornbury)", "evidence_level", "evidence_level", right)
        last_reviewed = left.date_input("Last reviewed", value=base.last_reviewed, max_value=dt.date.today(), key=f"{prefix}_reviewed")
        _show_error(prefix, "form")
        submitted = st.form_submit_button(submit_label, type="primary")

    if not submitted:
        return None
    values = {
        "name": name, "company": company, "short_description": short_description, "long_description": long_description,
        "catalogue_id": catalogue_id or None, "type_code": type_code, "subtype_code": subtype_code, "ai_technique": ai_technique,
        "input_data_type": input_data_type, "clinical_areas": clinical_areas, "points_of_care": points_of_care,
        "workforce_groups": workforce_groups, "primary_workforce_group": primary, "time_to_deployment": horizon,
        "impact_workforce": impact_workforce, "impact_pathway": impact_pathway, "impact_system": impact_system,
        "ukca_ce_class": ukca_ce_class, "ukca_ce_regime": ukca_ce_regime, "fda_pathway": fda_pathway,
        "fda_submission_number": fda_number.strip().upper() or None, "nice_esf_tier": nice_tier, "evidence_level": evidence_level,
        "last_reviewed": last_reviewed,
        "source": initial.source if initial else "manual", "source_detail": initial.source_detail if initial else "Entered in the app",
        "is_demo": initial.is_demo if initial else False, "fda_decision_date": initial.fda_decision_date if initial else None,
    }
    with read_session(get_engine()) as session:
        context = {"codes": all_codes(session), "subtype_parents": subtype_parents(session)}
    try:
        data = TechnologyInput.model_validate(values, context=context)
    except ValidationError as error:
        st.session_state[_errors_key(prefix)] = validation_errors(error)
        st.rerun()
    st.session_state.pop(_errors_key(prefix), None)
    return data
