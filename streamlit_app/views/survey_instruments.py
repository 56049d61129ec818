"""Instruments (lead): published instruments and versions, preview, REDCap and XLSForm export, the
translator's workbook out and back in (publishing the next version), import with warnings, and import
of responses from a flat file (every problem, or every cell read tolerantly, listed)."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from storage.survey_io import (
    ResponsesImportSummary,
    detect_instrument_format,
    dropped_languages_warning,
    import_responses,
    import_translations,
    read_instrument_file,
)
from storage.surveys import SurveyError, instrument_by_id, instrument_fields_frame, list_instruments, next_instrument_version, save_instrument
from streamlit_app.auth import require_role
from streamlit_app.runtime import get_engine
from streamlit_app.widgets import md_escape, record_download
from survey.flat_responses import ResponsesImportError
from survey.imports import InstrumentImportError
from survey.redcap import export_data_dictionary
from survey.translations import TranslationImportError, translation_workbook
from survey.xlsform_export import export_xlsform

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

identity = require_role("lead")
actor = identity.actor
engine = get_engine()
st.title("Instruments")

list_tab, import_tab, responses_tab = st.tabs(["Published", "Import", "Import responses"])

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
        st.write("**Languages:** " + ", ".join(md_escape(language.label) for language in stored.instrument.languages)
                 + " (the first is the default)")
        if dropped := dropped_languages_warning(stored.instrument):
            st.caption(md_escape(dropped))
        st.download_button("Export as REDCap data dictionary (CSV)", export_data_dictionary(stored.instrument).encode("utf-8"),
                           file_name=f"{dictionary_stem}.csv", mime="text/csv", key="sv_export_dictionary",
                           on_click=record_download, args=(dictionary_stem, "redcap_dictionary", len(fields)))
        xlsform = export_xlsform(stored.instrument)
        xlsform_stem = f"{stored.name}_v{stored.version}_xlsform"
        st.download_button("Export as XLSForm with every language (.xlsx)", xlsform.content, file_name=f"{xlsform_stem}.xlsx",
                           mime=XLSX_MIME, key="sv_export_xlsform", on_click=record_download,
                           args=(xlsform_stem, "xlsform", len(fields)))
        if xlsform.warnings:
            with st.expander(f"What the XLSForm cannot hold ({len(xlsform.warnings)})"):
                st.dataframe(pd.DataFrame({"warning": xlsform.warnings}), hide_index=True, width="stretch")

        st.subheader("Translations")
        st.write("Download every text of this instrument for a translator: one row per text, a column per language, "
                 "empty where a translation is missing. The translator fills in the empty cells (or adds a column "
                 "headed like *Cymraeg (cy)* for a new language) and keeps every `${…}` or `[…]` reference as it is. "
                 "Uploading the workbook publishes the next version of the latest version; a workbook with any problem "
                 "publishes nothing and lists every row it rejects.")
        if message := st.session_state.pop("sv_translations_done", None):
            st.success(message)
        texts_stem = f"{stored.name}_v{stored.version}_translations"
        st.download_button("Download the texts for a translator (.xlsx)", translation_workbook(stored.instrument),
                           file_name=f"{texts_stem}.xlsx", mime=XLSX_MIME, key="sv_export_translations",
                           on_click=record_download, args=(texts_stem, "translations", len(fields)))
        translated = st.file_uploader("Translated workbook (.xlsx)", type=["xlsx"], key=f"sv_translations_file_{stored.name}")
        if translated is not None and st.button("Publish the translations as the next version", type="primary",
                                                key=f"sv_translations_publish_{stored.name}"):
            try:
                published = import_translations(engine, stored.name, translated.getvalue(), actor=actor)
            except TranslationImportError as error:
                st.error(f"Nothing was published: {len(error.problems)} problem(s).")
                st.dataframe(pd.DataFrame({"problem": error.problems}), hide_index=True, width="stretch")
            except SurveyError as error:
                st.error(md_escape(str(error)))
            else:
                languages = ", ".join(language.label for language in published.instrument.languages)
                st.session_state["sv_translations_done"] = (f"Published {md_escape(published.name)} version "
                                                             f"{published.version} in {md_escape(languages)}.")
                st.rerun()

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


def _show_import_result(summary: ResponsesImportSummary) -> None:
    st.success(f"Imported {summary.imported} of {summary.records} responses into {md_escape(summary.instrument)} version "
               f"{summary.version} ({summary.already_imported} were already imported).")
    if summary.coercions_total:
        listed = len(summary.coercions)
        st.warning(f"{summary.coercions_total} cell(s) were not written as this tool writes them and were read as shown "
                   f"below{f' (the first {listed})' if listed < summary.coercions_total else ''}. Check that this is "
                   "what the file meant.")
        st.dataframe(pd.DataFrame([{"row": c.row, "column": c.column, "in the file": c.original, "read as": c.value,
                                    "why": c.reason} for c in summary.coercions]), hide_index=True, width="stretch")


with responses_tab:
    st.write("Import responses from a flat file in the layout *Export responses* writes (REDCap's: one row per response, "
             "then one row per technology). The import is all or nothing: a file with any problem imports nothing and "
             "lists them. Cells a spreadsheet or pandas rewrote (`1.0` for 1, `TRUE`/`FALSE` for yes/no, date serial "
             "numbers) are read as they were meant, and each is listed. Importing the same file again adds nothing.")
    versions = {int(row.instrument_id): (row.name, int(row.version)) for row in instruments.itertuples()}
    target = st.selectbox("Instrument the responses answer", list(versions), format_func=lambda i: labels[i],
                          key="sv_responses_instrument")
    responses_upload = st.file_uploader("Responses file (CSV or XLSX)", type=["csv", "xlsx"], key="sv_responses_file")
    if responses_upload is not None and target is not None:
        content = responses_upload.getvalue()
        import_key = f"sv_import_responses_{hashlib.sha256(content).hexdigest()[:16]}"
        if st.button("Import responses", type="primary", key=import_key):
            name, version = versions[target]
            try:
                st.session_state[f"{import_key}_result"] = import_responses(engine, name, content, version=version, actor=actor)
            except ResponsesImportError as error:
                shown = len(error.errors)
                st.error(f"Nothing was imported: the file has {error.total} problem(s)"
                         f"{f'; the first {shown} are listed' if shown < error.total else ''}.")
                st.dataframe(pd.DataFrame(error.errors, columns=["row", "column", "problem"]), hide_index=True, width="stretch")
            except SurveyError as error:
                st.error(md_escape(str(error)))
        if (summary := st.session_state.get(f"{import_key}_result")) is not None:
            _show_import_result(summary)
