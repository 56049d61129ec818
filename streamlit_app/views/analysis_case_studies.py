"""Case studies (leads): write a case study of a technology at named sites, linked to its evidence;
read, edit, delete and export them. They are included in the printable report."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from storage.case_studies import (
    CaseStudyError,
    CaseStudyInput,
    LinkOptions,
    case_studies_frame,
    create_case_study,
    delete_case_study,
    link_options,
    list_case_studies,
    update_case_study,
)
from storage.models.case_study import (
    FINDINGS_MAX_LENGTH,
    METHOD_MAX_LENGTH,
    TITLE_MAX_LENGTH,
)
from streamlit_app.analysis_state import actor_of, render_case_study
from streamlit_app.auth import require_role
from streamlit_app.runtime import get_engine
from streamlit_app.widgets import download_table, md_escape, show_problems

identity = require_role("lead")
actor = actor_of(identity)
engine = get_engine()
st.title("Case studies")
st.caption("A case study tells how a technology worked at named sites: the method, the findings, and links to the "
           "evidence behind them. Case studies appear in the printable report; they do not change the estimates.")

NOTICE_KEY = "case_study_notice"
if notice := st.session_state.pop(NOTICE_KEY, None):
    st.success(notice)


def problems_of(error: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in issue['loc']) or 'form'}: {issue['msg']}" for issue in error.errors()]


def case_study_form(form_key: str, options: LinkOptions, initial: CaseStudyInput | None, submit_label: str) -> CaseStudyInput | None:
    """The case study form; returns the validated input when submitted and valid (errors are shown)."""
    blank = initial is None
    # An empty form: the input's defaults without validation (an empty title is not a valid input).
    initial = initial or CaseStudyInput.model_construct(title="")
    with st.form(form_key, clear_on_submit=blank):
        title = st.text_input("Title", value=initial.title, max_chars=TITLE_MAX_LENGTH)
        technology_choices = [None, *options.technologies]
        technology_id = st.selectbox("Technology", technology_choices,
                                     index=technology_choices.index(initial.technology_id) if initial.technology_id in technology_choices else 0,
                                     format_func=lambda i: "(none)" if i is None else options.technologies[i])
        site_ids = st.multiselect("Sites", list(options.sites), default=[i for i in initial.site_ids if i in options.sites],
                                  format_func=options.sites.get)
        method = st.text_area("Method", value=initial.method, max_chars=METHOD_MAX_LENGTH, height=150,
                              help="How the case was studied: sites, period, comparison, measures.")
        findings = st.text_area("Findings", value=initial.findings, max_chars=FINDINGS_MAX_LENGTH, height=200)
        st.markdown("**Evidence links**")
        campaign_ids = st.multiselect("Survey campaigns", list(options.campaigns), format_func=options.campaigns.get,
                                      default=[i for i in initial.campaign_ids if i in options.campaigns])
        workshop_ids = st.multiselect("Workshops", list(options.workshops), format_func=options.workshops.get,
                                      default=[i for i in initial.workshop_ids if i in options.workshops])
        catalogue_ids = st.multiselect("Catalogue entries", list(options.technologies), format_func=options.technologies.get,
                                       default=[i for i in initial.catalogue_ids if i in options.technologies])
        if not st.form_submit_button(submit_label, type="primary"):
            return None
    try:
        return CaseStudyInput(title=title, technology_id=technology_id, site_ids=site_ids, method=method, findings=findings,
                              campaign_ids=campaign_ids, workshop_ids=workshop_ids, catalogue_ids=catalogue_ids)
    except ValidationError as error:
        show_problems("The case study was not saved", problems_of(error))
        return None


def saved(message: str) -> None:
    st.session_state[NOTICE_KEY] = message
    st.rerun()


options = link_options(engine)
records = list_case_studies(engine, actor=actor)
read_tab, write_tab, edit_tab = st.tabs(["Read", "Write a case study", "Edit or delete"], key="case_study_tab", on_change="rerun")

if read_tab.open:
    with read_tab:
        if not records:
            st.info("No case study yet: write one in the next tab.")
        for record in records:
            render_case_study(record)
        if records:
            download_table(case_studies_frame(records), "case-studies", key="cs_export", label="All case studies")

if write_tab.open:
    with write_tab:
        data = case_study_form("cs_new", options, None, "Save the case study")
        if data is not None:
            try:
                create_case_study(engine, data, actor=actor)
            except CaseStudyError as error:
                st.error(f"The case study was not saved: {error}")
            else:
                saved(f"Saved the case study “{md_escape(data.title)}”.")

if edit_tab.open:
    with edit_tab:
        if not records:
            st.info("No case study to edit yet.")
        else:
            by_id = {record.case_study_id: record for record in records}
            chosen_id = st.selectbox("Case study", list(by_id), format_func=lambda i: by_id[i].title, key="cs_edit_choice")
            record = by_id[chosen_id]
            data = case_study_form(f"cs_edit_{chosen_id}", options, record.as_input(), "Save changes")
            if data is not None:
                try:
                    update_case_study(engine, chosen_id, data, actor=actor)
                except CaseStudyError as error:
                    st.error(f"The changes were not saved: {error}")
                else:
                    saved(f"Saved the changes to “{md_escape(data.title)}”.")
            with st.expander("Delete this case study"):
                confirmed = st.checkbox("Yes, delete it (this cannot be undone)", key=f"cs_delete_confirm_{chosen_id}")
                if st.button("Delete", key=f"cs_delete_{chosen_id}", disabled=not confirmed):
                    try:
                        delete_case_study(engine, chosen_id, actor=actor)
                    except CaseStudyError as error:
                        st.error(str(error))
                    else:
                        saved(f"Deleted the case study “{md_escape(record.title)}”.")
