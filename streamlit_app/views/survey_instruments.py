"""Instruments (lead): published instruments and versions, preview, REDCap export, and import with warnings."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from storage.survey_io import detect_instrument_format, read_instrument_file
from storage.surveys import SurveyError, instrument_by_id, instrument_fields_frame, list_instruments, next_instrument_version, save_instrument
from streamlit_app.auth import require_role
from streamlit_app.runtime import get_engine
from streamlit_app.widgets import md_escape, record_download
from survey.imports import InstrumentImportError
from survey.redcap import export_data_dictionary

identity = require_role("lead")
actor = identity.actor
engine = get_engine()
st.title("Instruments")

list_tab, import_tab = st.tabs(["Published", "Import"])

with list_tab:
    instruments = list_instruments(engine, actor=actor)
    st.dataframe(instruments.drop(columns=["instrument_id"]), hide_index=True, width="stretch")
    labels = {int(row.instrument_id): f"{row.name} v{row.version} — {row.title}" for row in instruments.itertuples()}
    chosen = st.selectbox("Instrument", list(labels), format_func=lambda i: labels[i], key="sv_instrument_pick")
    if chosen is not None:
        stored = instrument_by_id(engine, int(chosen))
        st.subheader("Questions")
        fields = instrument_fields_frame(stored.instrument)
        st.dataframe(fields, hide_index=True, width="stretch")
        if stored.warnings:
            with st.expander(f"Import warnings ({len(stored.warnings)})"):
                st.dataframe(pd.DataFrame({"warning": list(stored.warnings)}), hide_index=True, width="stretch")
        # A data dictionary is REDCap's own interchange format (its @action tags start with "@"), so it is
        # deliberately written raw as REDCap expects, not through the spreadsheet formula guard used for data
        # tables (storage.exports.table_bytes). The download is still audited.
        dictionary_stem = f"{stored.name}_v{stored.version}_data_dictionary"
        st.download_button("Export as REDCap data dictionary (CSV)", export_data_dictionary(stored.instrument).encode("utf-8"),
                           file_name=f"{dictionary_stem}.csv", mime="text/csv", key="sv_export_dictionary",
                           on_click=record_download, args=(dictionary_stem, "redcap_dictionary", len(fields)))

with import_tab:
    st.write("Import a REDCap Data Dictionary (CSV) or an XLSForm (.xlsx, or its CSV form). You see every field the "
             "importer could not take over as written before anything is saved.")
    upload = st.file_uploader("Instrument file", type=["csv", "xlsx"], key="sv_import_file")
    fmt = st.radio("Format", ["auto", "redcap", "xlsform"], horizontal=True,
                   format_func={"auto": "Detect", "redcap": "REDCap data dictionary", "xlsform": "XLSForm"}.get, key="sv_import_format")
    name = st.text_input("Instrument name for a REDCap dictionary (letters, digits and _; default: the file name)", key="sv_import_name")
    if message := st.session_state.pop("sv_import_done", None):
        st.success(message)
    if upload is not None:
        data = upload.getvalue()
        digest = hashlib.sha256(data).hexdigest()[:16]
        try:
            result = read_instrument_file(upload.name[-120:], data, fmt, name=name.strip() or None)
        except InstrumentImportError as error:
            st.error("This file cannot be imported as an instrument.")
            st.text(str(error))
        else:
            instrument = result.instrument
            st.write(f"**Preview:** {md_escape(instrument.title)} — {len(instrument.sections)} sections, "
                     f"{sum(1 for _ in instrument.answer_slots())} questions.")
            if result.warnings:
                st.warning(f"{len(result.warnings)} field(s) were not imported as written. Review them before saving:")
                st.dataframe(pd.DataFrame([{"row": w.row, "field": w.variable, "warning": w.message} for w in result.warnings]),
                             hide_index=True, width="stretch")
            else:
                st.info("Every field was imported as written.")
            st.dataframe(instrument_fields_frame(instrument), hide_index=True, width="stretch", height=260)
            as_new_version = st.checkbox("Publish as the next version if this name is already used", value=True, key=f"sv_new_version_{digest}")
            if st.button("Save instrument", type="primary", key=f"sv_save_instrument_{digest}"):
                if as_new_version:
                    instrument = instrument.model_copy(update={"version": max(instrument.version, next_instrument_version(engine, instrument.name))})
                source = detect_instrument_format(upload.name, data) if fmt == "auto" else fmt
                try:
                    save_instrument(engine, instrument, source, result.warnings, actor=actor)
                except SurveyError as error:
                    st.error(md_escape(str(error)))
                else:
                    st.session_state["sv_import_done"] = f"Saved {md_escape(instrument.name)} version {instrument.version}."
                    st.rerun()
