"""Catalogue administration (lead): add and edit technologies, import with a preview, export, vocabularies."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from storage.catalogue import create_technology, delete_technology, get_technology, technology_as_input, update_technology
from storage.catalogue_io import CatalogueImportError, export_frame, import_catalogue, template_frame, template_notes
from storage.db import read_session
from storage.vocabularies import EDITABLE_VOCABULARIES, SUBTYPE_VOCABULARY, VocabularyError, crosswalk_rows, save_crosswalk, save_vocabulary, terms
from streamlit_app.auth import require_role
from streamlit_app.runtime import get_engine
from streamlit_app.technology_form import technology_form
from streamlit_app.widgets import DATABASE_READ_FAILED, catalogue_frames, database_errors, download_table, md_escape, shortened, show_problems

identity = require_role("lead")
actor = identity.actor
st.title("Manage catalogue")
engine = get_engine()
IMPORT_FAILED = "The database is not reachable just now — nothing was imported. Try again in a moment."

# A link from the home page (?technology=<id>) opens that entry for editing.
linked = st.query_params.get("technology")
add_tab, edit_tab, import_tab, export_tab, vocab_tab = st.tabs(["Add", "Edit", "Import", "Export", "Vocabularies"],
                                                               default="Edit" if linked else None)

with add_tab:
    if saved := st.session_state.pop("add_saved", None):
        st.success(f"Saved “{md_escape(saved)}”.")
    # The form's checks on submit read the vocabularies, so they share the save's outage message.
    with database_errors():
        new = technology_form("add", None, "Add technology")
        if new is not None:
            create_technology(engine, new, actor=actor)
            for key in [k for k in st.session_state if str(k).startswith("add_")]:
                del st.session_state[key]
            st.session_state["add_saved"] = shortened(new.name)
            st.rerun()

with edit_tab, database_errors(DATABASE_READ_FAILED):
    technologies = catalogue_frames()["technologies"].sort_values("name")
    names = {i: shortened(name) for i, name in zip(technologies["technology_id"], technologies["name"], strict=True)}
    if linked and linked != st.session_state.get("edit_linked") and linked.isdigit() and int(linked) in names:
        st.session_state["edit_choice"] = int(linked)  # once per link: choosing another entry afterwards wins
        st.session_state["edit_linked"] = linked
    chosen = st.selectbox("Technology to edit", list(names), index=None, format_func=lambda i: names[i], placeholder="Search by name", key="edit_choice")
    if message := st.session_state.pop("edit_saved", None):
        st.success(message)
    if chosen is not None:
        technology = get_technology(engine, int(chosen))
        if technology is None:
            st.warning("That technology no longer exists.")
        else:
            if technology.needs_classification:
                st.info("This entry is still **to classify**: set its type to complete it.")
            with database_errors():
                updated = technology_form(f"edit_{chosen}", technology_as_input(technology), "Save changes")
                if updated is not None:
                    update_technology(engine, int(chosen), updated, actor=actor)
                    st.session_state["edit_saved"] = f"Saved changes to “{md_escape(shortened(updated.name))}”."
                    st.rerun()
            with st.expander("Delete this technology"):
                st.write("Deleting removes the technology and its adoption records. This cannot be undone.")
                confirm = st.text_input("Type DELETE to confirm", key=f"delete_confirm_{chosen}")
                if st.button("Delete technology", key=f"delete_{chosen}", disabled=confirm != "DELETE"):
                    with database_errors("The database is not reachable just now — nothing was deleted. Try again in a moment."):
                        delete_technology(engine, int(chosen), actor=actor)
                        st.session_state["edit_saved"] = f"Deleted “{md_escape(shortened(technology.name))}”."
                        st.session_state.pop("edit_choice", None)
                        st.rerun()

with import_tab:
    st.write(
        "Import the project's catalogue template (CSV or XLSX; multi-valued cells separated by `;`) or the US FDA list of "
        "AI-enabled medical devices (CSV as published). Nothing is written until you confirm, and a file with any problem "
        "is refused as a whole."
    )
    download_table(template_frame(), "catalogue-template", key="template_download", label="Download the template")
    with st.expander("What the template's cells accept"):
        for note in template_notes():
            st.text(note)
    upload = st.file_uploader("Catalogue file", type=["csv", "xlsx"], key="import_file")
    fmt = st.radio("Format", ["auto", "template", "fda"], horizontal=True, format_func={"auto": "Detect", "template": "Template", "fda": "FDA device list"}.get, key="import_format")
    if message := st.session_state.pop("import_done", None):
        st.success(message)
    if upload is not None:
        with database_errors(IMPORT_FAILED):
            data = upload.getvalue()
            # The upload's name is only shown and recorded as text, never used as a path.
            source_name = upload.name[-120:]
            digest = hashlib.sha256(data).hexdigest()
            try:
                preview = import_catalogue(engine, data, fmt=fmt, dry_run=True, source_name=source_name, actor=actor)
            except CatalogueImportError as error:
                show_problems("This file cannot be imported; nothing was changed", [str(p) for p in error.problems])
            else:
                summary = preview.summary()
                st.write(f"**Preview** ({summary['format']} format, {summary['rows']} rows): "
                         f"{summary['created']} to create, {summary['updated']} to update, {summary['unchanged']} unchanged.")
                st.dataframe(preview.preview_frame(), hide_index=True, width="stretch", height=260)
                if st.button("Confirm import", type="primary", key=f"confirm_{digest[:16]}", disabled=summary["created"] + summary["updated"] == 0):
                    bar = st.progress(0.0, text="Importing…")
                    try:
                        report = import_catalogue(engine, data, fmt=fmt, source_name=source_name, actor=actor,
                                                  progress=lambda done, total: bar.progress(min(done / max(total, 1), 1.0), text=f"Importing… {done * 50 // max(total, 1)}%"))
                    except CatalogueImportError as error:
                        show_problems("The catalogue changed since the preview and the file is now refused; nothing was changed", [str(p) for p in error.problems])
                    else:
                        done = report.summary()
                        st.session_state["import_done"] = f"Imported {md_escape(source_name)}: {done['created']} created, {done['updated']} updated, {done['unchanged']} unchanged."
                        st.rerun()

with export_tab, database_errors(DATABASE_READ_FAILED):
    st.write("The whole catalogue in the import template, so you can edit it in a spreadsheet and import it back.")
    frame = export_frame(engine, actor=actor)
    st.caption(f"{len(frame)} technologies.")
    download_table(frame, "catalogue", key="export_download", label="Download the catalogue")

with vocab_tab, database_errors(DATABASE_READ_FAILED):
    vocabulary = st.selectbox("Vocabulary", list(EDITABLE_VOCABULARIES), format_func=EDITABLE_VOCABULARIES.get, key="vocab_choice")
    with read_session(engine) as session:
        current = terms(session, vocabulary, include_inactive=True)
    columns = ["code", "label", "active"] + (["parent_code"] if vocabulary == SUBTYPE_VOCABULARY else [])
    frame = pd.DataFrame([{"code": t.code, "label": t.label, "active": t.active, "parent_code": t.parent_code} for t in current], columns=["code", "label", "active", "parent_code"])[columns]
    st.caption("Codes are stable identifiers used by records and surveys; edit labels freely. Retire a term by unticking *active*.")
    edited = st.data_editor(frame, num_rows="dynamic", hide_index=True, width="stretch", key=f"vocab_editor_{vocabulary}",
                            column_config={"active": st.column_config.CheckboxColumn("active", default=True)})
    if message := st.session_state.pop("vocab_saved", None):
        st.success(message)
    if st.button("Save vocabulary", key="vocab_save"):
        rows = edited.astype(object).where(edited.notna(), None).to_dict("records")
        with database_errors():
            try:
                save_vocabulary(engine, vocabulary, rows, actor=actor)
            except VocabularyError as error:
                show_problems("Not saved", error.problems)
            else:
                st.session_state["vocab_saved"] = f"Saved {EDITABLE_VOCABULARIES[vocabulary].lower()}."
                st.rerun()

    st.header("FDA review panel → clinical area")
    st.caption("Used when importing the FDA device list: the review panel is a regulatory panel, not a specialty.")
    crosswalk = pd.DataFrame(crosswalk_rows(engine), columns=["panel", "clinical_area"])
    edited_crosswalk = st.data_editor(crosswalk, num_rows="dynamic", hide_index=True, width="stretch", key="crosswalk_editor")
    if st.button("Save crosswalk", key="crosswalk_save"):
        with database_errors():
            try:
                crosswalk_edit = edited_crosswalk.astype(object).where(edited_crosswalk.notna(), None).to_dict("records")
                save_crosswalk(engine, crosswalk_edit, actor=actor)
            except VocabularyError as error:
                show_problems("Not saved", error.problems)
            else:
                st.success("Saved the crosswalk.")
