"""Rendering a survey instrument as a multi-page Streamlit form.

Answers live in one plain dict in ``st.session_state`` (not in widget state, which Streamlit
drops for widgets not drawn on the current page). Each widget is seeded from that dict and
writes back to it as soon as it is drawn, so branching reacts to the answer just given, pages
can be revisited, and nothing is cleared before a save or submission has succeeded.

The layout is a single column (it must work on a 390px-wide phone): one page per section, a
progress bar, errors as text directly under the field, a review page and a confirmation.

Language: the form state holds the language shown (``state["language"]``). The instrument's
texts come from its translations and the form's own words from :mod:`survey.app_text`. Answers
are stored as codes and widgets are keyed by variable (not by label), so switching language
keeps every answer.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from storage.catalogue import list_sites
from storage.security import InsecureConfiguration, PseudonymKeyRing, pseudonym_keyring
from storage.survey_codes import derived_code, new_code
from storage.survey_submit import ADOPTION_INSTRUMENT, SubmissionInvalid, SubmissionRefused, submit_response
from storage.surveys import CampaignAccess, StoredInstrument, SurveyError, document_rows, save_draft
from streamlit_app.auth import dev_login_enabled, secrets_mapping
from streamlit_app.widgets import catalogue_frames, md_escape, shortened
from survey.app_text import app_text, choice_text
from survey.instrument import Field, FieldType, Instrument, Section
from survey.validation import FieldError, Worded, validate_section, validate_submission, visible_fields

FORM_STATE = "survey_form"
LANGUAGE_KEY = "sv_language"
MAX_TECHNOLOGIES = 10
_EARLIEST_DATE = dt.date(1990, 1, 1)
_LATEST_DATE = dt.date(2100, 12, 31)


def pseudonym_keys() -> PseudonymKeyRing | None:
    """The server's pseudonym key ring (``ROADMAP_PSEUDONYM_KEY`` and retired keys, from the
    environment or secrets.toml; the fixed development key in development); None if unset."""
    try:
        return pseudonym_keyring(secrets_mapping(), development=dev_login_enabled())
    except InsecureConfiguration:
        return None


# --------------------------------------------------------------------------- form state


def new_form_state(access: CampaignAccess, idempotency_key: str | None = None, language: str | None = None) -> dict[str, Any]:
    return {
        "campaign_id": access.campaign_id, "invitation_id": access.invitation_id, "instrument_id": access.instrument_id,
        "title": access.title, "anonymous": access.anonymous,
        "answers": {}, "tech_answers": {}, "technologies": [], "page": 0,
        "idempotency_key": idempotency_key or secrets.token_urlsafe(24),
        "fallback_receipt": new_code(), "resume_code": None, "submitted": None, "errors": {},
        "language": language,
    }


def draft_blob(state: dict[str, Any]) -> dict[str, Any]:
    """What a draft stores: the answers, the chosen technologies, the page, the language and the idempotency key."""
    return {key: state[key] for key in ("answers", "tech_answers", "technologies", "page", "idempotency_key", "language")
            if key in state}


def state_from_draft(access: CampaignAccess, blob: dict[str, Any], resume_code: str) -> dict[str, Any]:
    state = new_form_state(access, blob.get("idempotency_key"))
    state.update({key: blob[key] for key in ("answers", "tech_answers", "technologies", "page", "language") if key in blob})
    state["technologies"] = [str(t) for t in state["technologies"]]
    state["resume_code"] = resume_code
    return state


def receipt_code(state: dict[str, Any]) -> str:
    """The receipt for this form session: derived from its idempotency key when a server key is set,
    so a refresh or a second tab that repeats the submission shows the same receipt."""
    keyring = pseudonym_keys()
    return derived_code(keyring.current_key, state["idempotency_key"]) if keyring else state["fallback_receipt"]


def technology_answers(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {tid: dict(state["tech_answers"].get(tid, {})) for tid in state["technologies"]}


# --------------------------------------------------------------------------- pages


@dataclass(frozen=True)
class Page:
    kind: str  # section | picker | review
    section: Section | None = None


def form_pages(stored: StoredInstrument, state: dict[str, Any]) -> list[Page]:
    """The pages to show given the answers so far (hidden sections are skipped)."""
    instrument = stored.instrument
    pages: list[Page] = []
    picker_added = False
    for section in instrument.sections:
        if section.repeat_per_technology:
            if not visible_fields(instrument, state["answers"], section, {}) and section.show_if:
                continue
            if not picker_added:
                pages.append(Page("picker"))
                picker_added = True
            pages.append(Page("section", section))
        elif any(field.type is not FieldType.CALCULATED for field in visible_fields(instrument, state["answers"], section)):
            pages.append(Page("section", section))
    pages.append(Page("review"))
    return pages


def _error_key(technology_id: str | None, variable: str) -> str:
    return f"{technology_id or ''}|{variable}"


def _store_errors(state: dict[str, Any], errors: list[FieldError]) -> None:
    # Kept as (kind, server message, its locale key and values), so the message is worded in
    # whatever language is shown.
    state["errors"] = {_error_key(e.technology_id, e.variable): [e.kind, str(e.message), *_wording(e.message)]
                       for e in errors}


def _wording(message: str) -> list:
    return [message.key, dict(message.values)] if isinstance(message, Worded) else []


def error_text(instrument: Instrument, variable: str, kind: str, message: str, language: str | None,
               key: str | None = None, values: dict[str, str] | None = None) -> str:
    """A validation message in ``language``: the question's own message if it has one, else the
    form's own words (``key`` and ``values`` of a survey.validation.Worded message), else ``message``."""
    try:
        _, slot = instrument.slot(variable)
    except KeyError:
        return message
    field = slot.field
    if kind == "required":
        return field.text("required_message", language) if field.required_message else app_text(language, "required_message")
    if field.constraint_message:
        return field.text("constraint_message", language)
    return app_text(language, key, **(values or {})) if key else message


def problem_line(instrument: Instrument, problem: FieldError, technologies: dict[str, str], language: str | None) -> str:
    """A problem that blocks submission, as the review page lists it: the question as the
    respondent saw it (and the tool it is about), then the message, in ``language``."""
    try:
        question = instrument.slot(problem.variable)[1].text(language)
    except KeyError:
        question = problem.variable
    if problem.technology_id is not None:
        question = f"{question} ({technologies.get(problem.technology_id, problem.technology_id)})"
    message = error_text(instrument, problem.variable, problem.kind, problem.message, language, *_wording(problem.message))
    return f"• {question}: {message}"


def form_language(stored: StoredInstrument, state: dict[str, Any]) -> str:
    """The code of the language the form is shown in (one the instrument offers)."""
    return stored.instrument.language(state.get("language")).code


def _switch_language(state: dict[str, Any]) -> None:
    state["language"] = st.session_state[LANGUAGE_KEY]


def render_language_picker(stored: StoredInstrument, state: dict[str, Any]) -> None:
    """A language choice when the instrument has more than one."""
    languages = stored.instrument.languages
    if len(languages) < 2:
        return
    names = {language.code: md_escape(language.name) for language in languages}  # radio options are markdown
    st.session_state[LANGUAGE_KEY] = form_language(stored, state)
    st.radio(app_text(state.get("language"), "language"), list(names), format_func=names.get, key=LANGUAGE_KEY,
             horizontal=True, on_change=_switch_language, args=(state,))


# --------------------------------------------------------------------------- widgets


def _label(text: str, required: bool, language: str | None) -> str:
    return md_escape(text) + (app_text(language, "required_suffix") if required else "")


def _seed(key: str, value: object) -> None:
    """Give a widget its stored answer when it is (re)created; Streamlit then owns it until it leaves the page.

    Widgets are created with their empty default and seeded only through session state, so their
    identity never changes between runs (a changing default would recreate them mid-interaction).
    """
    if key not in st.session_state:
        st.session_state[key] = value


def _choice_widget(key: str, label: str, codes: list[str], labels: Callable[[str], str], current: object, *,
                   dropdown: bool, language: str | None, horizontal: bool = False) -> object:
    _seed(key, current if current in codes else None)
    if dropdown:
        # Select box options are plain text (no markdown), so labels are not escaped here.
        return st.selectbox(label, codes, index=None, format_func=labels, key=key,
                            placeholder=app_text(language, "choose_option"))
    return st.radio(label, codes, index=None, format_func=lambda code: md_escape(labels(code)), key=key, horizontal=horizontal)


def _field_widget(field: Field, key: str, current: object, store: dict[str, Any], language: str | None) -> None:
    """Draw one question and copy its value into ``store`` (removing it when unanswered)."""
    kind = field.type
    label = _label(field.text("label", language), field.required, language)
    labels: Callable[[str], str] = partial(choice_text, field, language=language)
    value: object
    if kind in (FieldType.SINGLE_CHOICE, FieldType.DROPDOWN, FieldType.YES_NO):
        codes = [c.code for c in field.effective_choices()]
        value = _choice_widget(key, label, codes, labels, current, dropdown=kind is FieldType.DROPDOWN,
                               language=language, horizontal=kind is FieldType.YES_NO)
    elif kind is FieldType.MULTIPLE_CHOICE:
        codes = [c.code for c in field.choices]
        _seed(key, [code for code in (current or []) if code in codes])
        value = st.multiselect(label, codes, format_func=labels, key=key, placeholder=app_text(language, "choose_all"))
    elif kind in (FieldType.RATING_5, FieldType.RATING_9):
        points = 5 if kind is FieldType.RATING_5 else 9
        codes = [str(p) for p in range(1, points + 1)]
        named = {c.code: c.text("label", language) for c in field.choices}
        value = _choice_widget(key, label, codes, lambda c: f"{c} – {named[c]}" if c in named else c,
                               str(current) if current is not None else None, dropdown=False, language=language,
                               horizontal=not named)
        value = int(value) if value is not None else None
    elif kind in (FieldType.INTEGER, FieldType.DECIMAL, FieldType.SLIDER):
        # No min/max on the widget: out-of-range answers get the same inline message as on the server.
        whole = kind is FieldType.INTEGER or (kind is FieldType.SLIDER and float(field.validation.step or 1).is_integer())
        unit = f" ({md_escape(field.unit)})" if field.unit else ""
        if whole:
            _seed(key, int(current) if current is not None else None)
            value = st.number_input(label + unit, value=None, step=int(field.validation.step or 1), key=key)
        else:
            _seed(key, float(current) if current is not None else None)
            value = st.number_input(label + unit, value=None, step=float(field.validation.step or 0.5), format="%g", key=key)
    elif kind is FieldType.DATE:
        _seed(key, dt.date.fromisoformat(current) if isinstance(current, str) else None)
        chosen_date = st.date_input(label, value=None, min_value=_EARLIEST_DATE, max_value=_LATEST_DATE, key=key, format="YYYY-MM-DD")
        value = chosen_date.isoformat() if isinstance(chosen_date, dt.date) else None
    elif kind is FieldType.LONG_TEXT:
        _seed(key, current or "")
        value = st.text_area(label, key=key, height=120)
    else:
        _seed(key, current or "")
        value = st.text_input(label, key=key)
    if value is None or value == "" or value == []:
        store.pop(field.variable, None)
    else:
        store[field.variable] = value


def _matrix_widget(field: Field, key_prefix: str, store: dict[str, Any], language: str | None) -> None:
    st.markdown(f"**{_label(field.text('label', language), field.required, language)}**")
    codes = [c.code for c in field.choices]
    for item in field.items:
        value = _choice_widget(f"{key_prefix}_{item.variable}", md_escape(item.text("label", language)), codes,
                               partial(field.choice_label, language=language), store.get(item.variable), dropdown=False,
                               language=language)
        if value is None:
            store.pop(item.variable, None)
        else:
            store[item.variable] = value


def _show_errors(instrument: Instrument, state: dict[str, Any], technology_id: str | None, variables: list[str]) -> None:
    for variable in variables:
        error = state["errors"].get(_error_key(technology_id, variable))
        if error:
            kind, message, *wording = error  # drafts saved before messages carried their wording have two
            text = error_text(instrument, variable, kind, message, state.get("language"), *wording)
            st.error(f"{md_escape(text)}", icon=":material/error:")


def render_fields(stored: StoredInstrument, state: dict[str, Any], section: Section, technology_id: str | None) -> None:
    """Draw a section's visible questions in order, re-checking branching after each answer."""
    instrument = stored.instrument
    language = form_language(stored, state)
    store = state["answers"] if technology_id is None else state["tech_answers"].setdefault(technology_id, {})
    scope = technology_id or "shared"
    prefix = f"svf_{state['idempotency_key'][:10]}_{scope}"
    for field in section.fields:
        shown = (visible_fields(instrument, state["answers"], section) if technology_id is None
                 else visible_fields(instrument, state["answers"], section, store))
        if field not in shown or field.type is FieldType.CALCULATED:  # computed on the server, never an input
            continue
        if field.type is FieldType.DESCRIPTIVE:
            st.markdown(md_escape(field.text("label", language)))
            continue
        if field.type is FieldType.MATRIX:
            _matrix_widget(field, prefix, store, language)
            variables = [item.variable for item in field.items]
        else:
            _field_widget(field, f"{prefix}_{field.variable}", store.get(field.variable), store, language)
            variables = [field.variable]
        if field.help:
            st.caption(md_escape(field.text("help", language)))
        _show_errors(instrument, state, technology_id, variables)


def _fill_from_site(state: dict[str, Any], sites: dict[int, dict[str, Any]], widget_key: str) -> None:
    site = sites.get(st.session_state.get(widget_key))
    if site is None:
        return
    answers = state["answers"]
    answers.update({"organisation_name": site["name"], "site_type": site["site_type"], "region": site["region"]})
    if site.get("ods_code"):
        answers["ods_code"] = site["ods_code"]
    else:
        answers.pop("ods_code", None)
    prefix = f"svf_{state['idempotency_key'][:10]}_shared_"
    for variable in ("organisation_name", "ods_code", "site_type", "region"):
        st.session_state.pop(prefix + variable, None)


def render_site_picker(engine: Engine, state: dict[str, Any]) -> None:
    """For the adoption return: pick a known organisation to fill in its details (or type a new one)."""
    frame = list_sites(engine)
    sites = {int(row["id"]): row for row in frame.to_dict("records")}
    key = f"svf_{state['idempotency_key'][:10]}_site_pick"
    language = state.get("language")
    st.selectbox(app_text(language, "site_picker"), list(sites), index=None, format_func=lambda i: sites[i]["name"], key=key,
                 placeholder=app_text(language, "site_placeholder"), on_change=_fill_from_site, args=(state, sites, key))


def render_picker(state: dict[str, Any]) -> None:
    """The searchable catalogue picker that decides which technologies the repeated sections ask about."""
    technologies = catalogue_frames()["technologies"].sort_values("name")
    names = {str(t): shortened(n) for t, n in zip(technologies["technology_id"], technologies["name"], strict=True)}
    language = state.get("language")
    st.write(app_text(language, "tools_intro", limit=MAX_TECHNOLOGIES))
    key = f"svf_{state['idempotency_key'][:10]}_technologies"
    _seed(key, [t for t in state["technologies"] if t in names])
    chosen = st.multiselect(app_text(language, "tools_label"), list(names), format_func=names.get,
                            max_selections=MAX_TECHNOLOGIES, key=key, placeholder=app_text(language, "tools_placeholder"))
    state["technologies"] = list(chosen)


def technology_labels(state: dict[str, Any]) -> dict[str, str]:
    technologies = catalogue_frames()["technologies"]
    names = {str(t): shortened(n) for t, n in zip(technologies["technology_id"], technologies["name"], strict=True)}
    return {t: names.get(t, app_text(state.get("language"), "technology_fallback", id=t)) for t in state["technologies"]}


def page_errors(stored: StoredInstrument, state: dict[str, Any], page: Page) -> list[FieldError]:
    if page.kind != "section" or page.section is None:
        return []
    return validate_section(stored.instrument, page.section, state["answers"], technology_answers(state))


def render_review(stored: StoredInstrument, state: dict[str, Any]) -> list[FieldError]:
    """The review page: every answer as plain text; returns the problems that block submission."""
    language = form_language(stored, state)
    result = validate_submission(stored.instrument, state["answers"], technology_answers(state))
    rows = document_rows(stored.instrument, result.document, technology_labels(state), language)
    if rows.empty:
        st.info(app_text(language, "nothing_answered"))
    current = None
    for record in rows.to_dict("records"):
        heading = record["section"] + (f" — {record['technology']}" if record["technology"] else "")
        if heading != current:
            st.subheader(md_escape(heading), anchor=False)
            current = heading
        st.markdown(f"**{md_escape(record['question'])}**  \n{md_escape(record['answer'])}")
    return result.errors


# --------------------------------------------------------------------------- actions


def save_for_later(engine: Engine, access: CampaignAccess, state: dict[str, Any]) -> None:
    try:
        state["resume_code"] = save_draft(engine, access, draft_blob(state), state.get("resume_code"))
    except OperationalError:
        st.error(app_text(state.get("language"), "unavailable"))
    except SurveyError as error:
        st.error(md_escape(str(error)))
    else:
        st.success(app_text(state.get("language"), "saved"))
        st.code(state["resume_code"], language=None)


def submit(engine: Engine, access: CampaignAccess, state: dict[str, Any], stored: StoredInstrument,
           respondent_id: str | None, pages: list[Page]) -> None:
    """Store the response once; on any failure keep every answer on screen and say why."""
    try:
        result = submit_response(engine, access, state["answers"], technology_answers(state), state["idempotency_key"],
                                 receipt_code=receipt_code(state), respondent_id=respondent_id, keyring=pseudonym_keys(),
                                 resume_code=state.get("resume_code"), language=form_language(stored, state))
    except OperationalError:
        st.error(app_text(state.get("language"), "unavailable"))
        return
    except SubmissionInvalid as error:
        _store_errors(state, error.errors)
        section_ids = {e.section_id for e in error.errors}
        pages_with_errors = [i for i, page in enumerate(pages) if page.section is not None and page.section.id in section_ids]
        if pages_with_errors:
            state["page"] = pages_with_errors[0]
            st.rerun()
        st.error(md_escape(str(error)))
        return
    except SubmissionRefused as error:
        st.error(md_escape(str(error)))
        return
    state["submitted"] = {"receipt": result.receipt_code, "submitted_at": result.submitted_at.isoformat(), "duplicate": result.duplicate}
    st.rerun()


def render_confirmation(state: dict[str, Any]) -> None:
    submitted = state["submitted"]
    language = state.get("language")
    when = dt.datetime.fromisoformat(submitted["submitted_at"]).strftime("%Y-%m-%d %H:%M UTC")
    st.success(app_text(language, "received", when=when), icon=":material/check_circle:")
    if submitted["receipt"]:
        st.write(app_text(language, "receipt_intro"))
        st.code(submitted["receipt"], language=None)
    else:
        st.write(app_text(language, "already_submitted"))


def render_form(engine: Engine, access: CampaignAccess, stored: StoredInstrument, state: dict[str, Any],
                respondent_id: str | None) -> None:
    """The whole form for one respondent: pages, navigation, save for later, review and submit."""
    # No "Link to heading" anchors: on a form they are only extra Tab stops before the first question.
    st.title(md_escape(access.title_in(form_language(stored, state))), anchor=False)
    if state["submitted"]:
        render_confirmation(state)
        return
    if not access.is_open:
        st.error(md_escape(access.message))
        return
    render_language_picker(stored, state)
    language = form_language(stored, state)
    pages = form_pages(stored, state)
    state["page"] = max(0, min(int(state["page"]), len(pages) - 1))
    page = pages[state["page"]]
    st.progress((state["page"] + 1) / len(pages), text=app_text(language, "page_of", page=state["page"] + 1, pages=len(pages)))
    if state["page"] == 0 and stored.instrument.description:
        st.write(md_escape(stored.instrument.text("description", language)))
    if state["errors"] and page.kind == "section":
        st.error(app_text(language, "check_marked", count=len(state["errors"])), icon=":material/error:")
    if access.anonymous:
        st.caption(app_text(language, "anonymous"))
    if page.kind == "picker":
        st.header(app_text(language, "which_tools"), anchor=False)
        render_picker(state)
    elif page.kind == "section":
        section = page.section
        st.header(md_escape(section.text("title", language)), anchor=False)
        if section.description:
            st.write(md_escape(section.text("description", language)))
        if stored.name == ADOPTION_INSTRUMENT and any(f.variable == "organisation_name" for f in section.fields):
            render_site_picker(engine, state)
        if section.repeat_per_technology:
            labels = technology_labels(state)
            if not labels:
                st.info(app_text(language, "no_tools_chosen"))
            for position, (technology_id, name) in enumerate(labels.items()):
                with st.expander(md_escape(name), expanded=position == 0 or any(k.startswith(f"{technology_id}|") for k in state["errors"])):
                    render_fields(stored, state, section, technology_id)
        else:
            render_fields(stored, state, section, None)
    else:
        st.header(app_text(language, "check_answers"), anchor=False)
        blocking = render_review(stored, state)
        if blocking:
            st.error(app_text(language, "need_attention", count=len(blocking)))
            for problem in blocking[:20]:
                st.text(problem_line(stored.instrument, problem, technology_labels(state), language))
    _navigation(engine, access, state, stored, pages, page, respondent_id)


def _navigation(engine: Engine, access: CampaignAccess, state: dict[str, Any], stored: StoredInstrument,
                pages: list[Page], page: Page, respondent_id: str | None) -> None:
    language = state.get("language")
    if page.kind == "review":
        if st.button(app_text(language, "submit"), type="primary", key="sv_submit", width="stretch"):
            submit(engine, access, state, stored, respondent_id, pages)
    elif st.button(app_text(language, "next"), type="primary", key="sv_next", width="stretch"):
        errors = page_errors(stored, state, page)
        _store_errors(state, errors)
        if not errors:
            state["page"] += 1
        st.rerun()
    if state["page"] > 0 and st.button(app_text(language, "back"), key="sv_back", width="stretch"):
        state["errors"] = {}
        state["page"] -= 1
        st.rerun()
    if st.button(app_text(language, "save_later"), key="sv_save", width="stretch"):
        save_for_later(engine, access, state)
