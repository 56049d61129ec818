"""Campaigns (lead): create a collection round, share its links, add invitation links, follow
counts, close it, export responses."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from storage.survey_io import export_responses
from storage.surveys import (
    MAX_INVITATIONS_PER_BATCH,
    CampaignInput,
    SurveyError,
    add_invitations,
    close_campaign,
    create_campaign,
    list_campaigns,
    list_instruments,
)
from streamlit_app.auth import require_role
from streamlit_app.runtime import get_engine
from streamlit_app.survey_form import pseudonym_keys
from streamlit_app.widgets import download_table, md_escape, people_table, show_problems
from survey.languages import language_name, parse_titles

TAKE_PAGE = "take-survey"
BROWSER_LANGUAGE = "browser"

identity = require_role("lead")
actor = identity.actor
engine = get_engine()
st.title("Survey campaigns")


def survey_link(parameter: str, token: str) -> str:
    """The full address of the survey page with a link token (relative if the app's address is unknown)."""
    base = ""
    try:
        url = st.context.url or ""
    except AttributeError:
        url = ""
    if url:
        base = url.split("?", 1)[0].rsplit("/", 1)[0]
    return f"{base}/{TAKE_PAGE}?{parameter}={token}"


def _utc(day: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=dt.UTC)


def new_links_panel(key: str) -> None:
    """Links just made, shown until the lead says they have copied them: only a fingerprint of
    each is stored, so they cannot be shown again."""
    made = st.session_state.get(key)
    if not made:
        return
    st.success(f"{made['message']} Copy the links now: they are shown only once (only a fingerprint is stored).")
    if made["link"]:
        st.code(made["link"], language=None)
    if made["invitations"]:
        links = pd.DataFrame({"invitation": range(1, len(made["invitations"]) + 1), "link": made["invitations"]})
        st.dataframe(links, hide_index=True, width="stretch", height=200)
        download_table(links, made["stem"], key=f"{key}_links", label="Download the invitation links")
    if st.button("I have copied the links", key=f"{key}_done"):
        st.session_state.pop(key, None)
        st.rerun()


create_tab, list_tab = st.tabs(["Create", "Campaigns"])

with create_tab:
    instruments = list_instruments(engine, actor=actor)
    choices = {int(r.instrument_id): f"{r.name} v{r.version} — {r.title}" for r in instruments.itertuples()}
    with st.form("sv_campaign_form"):
        instrument_id = st.selectbox("Instrument and version", list(choices), format_func=lambda i: choices[i])
        title = st.text_input("Title shown to respondents", max_chars=300)
        translated_titles = st.text_area(
            "Title in the instrument's other languages (optional; one per line, for example “cy: Arolwg y staff”)",
            height=80)
        today = dt.datetime.now(dt.UTC).date()
        opens_on = st.date_input("Opens on", value=today, format="YYYY-MM-DD")
        opens_time = st.time_input("Opens at (UTC)", value=dt.time(0, 0))
        closes_on = st.date_input("Closes on (leave empty for no end date)", value=None, format="YYYY-MM-DD")
        anonymous = st.radio("Respondents", ["anonymous", "identified"], format_func={
            "anonymous": "Anonymous (no account linked to answers)", "identified": "Identified (signed-in respondents are linked by pseudonym)"}.get,
            horizontal=True) == "anonymous"
        access = st.radio("Access", ["open", "invitation"], format_func={
            "open": "One open link anyone can use", "invitation": "Single-use invitation links"}.get, horizontal=True)
        invitations = st.number_input("Number of invitation links (invitation access only)", min_value=0, max_value=5000, value=0, step=1)
        limit = st.number_input("Response limit (0 = no limit)", min_value=0, value=0, step=1)
        offered = sorted({code.strip() for codes in instruments["languages"] for code in codes.split(",") if code.strip()})
        opening_language = st.selectbox("Language the form opens in (respondents can switch)", [BROWSER_LANGUAGE, *offered],
                                        format_func=lambda code: "The respondent's browser language, else the instrument's "
                                        "default" if code == BROWSER_LANGUAGE else f"{language_name(code)} ({code})")
        create = st.form_submit_button("Create campaign", type="primary")
    if create:
        try:
            data = CampaignInput(instrument_id=instrument_id, title=title, opens_at=_utc(opens_on, opens_time),
                                 closes_at=_utc(closes_on, dt.time(23, 59, 59)) if closes_on else None, anonymous=anonymous,
                                 access=access, invitations=int(invitations) if access == "invitation" else 0,
                                 response_limit=int(limit) or None,
                                 default_language=None if opening_language == BROWSER_LANGUAGE else opening_language,
                                 title_translations=parse_titles(translated_titles))
        except ValidationError as error:
            show_problems("The campaign was not created", [f"{'.'.join(map(str, e['loc'])) or 'campaign'}: {e['msg'].removeprefix('Value error, ')}"
                                                           for e in error.errors()])
        except ValueError as error:  # from parse_titles (a pydantic ValidationError is caught above)
            show_problems("The campaign was not created", [f"Title in other languages: {error}"])
        else:
            try:
                created = create_campaign(engine, data, actor=actor)
            except SurveyError as error:
                show_problems("The campaign was not created", [str(error)])
            else:
                st.session_state["sv_created"] = {"message": f"Created “{md_escape(data.title)}”.",
                                                  "link": survey_link("c", created.link_token) if created.link_token else None,
                                                  "invitations": [survey_link("i", t) for t in created.invitation_tokens],
                                                  "stem": f"invitation-links-campaign-{created.campaign_id}"}
                st.rerun()
    new_links_panel("sv_created")

with list_tab:
    campaigns = list_campaigns(engine, actor=actor)
    if campaigns.empty:
        st.info("No campaigns yet.")
    else:
        people_table(campaigns.drop(columns=["campaign_id"]), headings={"title": "Campaign", "state": "State"})
        names = {int(r.campaign_id): f"{r.title} ({r.instrument} v{r.version}, {r.state})" for r in campaigns.itertuples()}
        chosen = st.selectbox("Campaign", list(names), format_func=lambda i: md_escape(names[i]), key="sv_campaign_pick")
        row = campaigns.set_index("campaign_id").loc[chosen]
        if message := st.session_state.pop("sv_closed", None):
            st.success(message)
        if row["state"] != "closed" and st.button("Close now", key=f"sv_close_{chosen}"):
            close_campaign(engine, int(chosen), actor=actor)
            st.session_state["sv_closed"] = "The campaign is closed; it no longer accepts responses."
            st.rerun()
        if row["access"] == "invitation" and row["state"] != "closed":
            st.subheader("More invitation links")
            st.caption(f"{int(row['invitations'])} links made so far, {int(row['invitations_used'])} used. "
                       "New links work like the first ones: single use, until the campaign closes.")
            with st.form(f"sv_more_invitations_{chosen}"):
                count = st.number_input("How many new links", min_value=1, max_value=MAX_INVITATIONS_PER_BATCH, value=10, step=1,
                                        key=f"sv_more_count_{chosen}")
                more = st.form_submit_button("Make the links")
            if more:
                try:
                    tokens = add_invitations(engine, int(chosen), int(count), actor=actor)
                except SurveyError as error:
                    st.error(md_escape(str(error)))
                else:
                    st.session_state[f"sv_added_{chosen}"] = {"message": f"Added {len(tokens)} invitation links to “{md_escape(row['title'])}”.",
                                                    "link": None, "invitations": [survey_link("i", t) for t in tokens],
                                                    "stem": f"invitation-links-campaign-{int(chosen)}-added"}
                    st.rerun()
            new_links_panel(f"sv_added_{chosen}")
        st.subheader("Export responses")
        labels = st.toggle("Choice labels instead of codes", key="sv_export_labels")
        deidentified = st.toggle("De-identified (no identifier or free-text fields; pseudonymised record ids)", key="sv_export_deid")
        keyring = pseudonym_keys()
        if deidentified and keyring is None:
            st.error("A de-identified export needs the pseudonym key (ROADMAP_PSEUDONYM_KEY in the environment or secrets.toml).")
        else:
            try:
                frame = export_responses(engine, row["instrument"], int(row["version"]), labels=labels, deidentified=deidentified,
                                         keyring=keyring, campaign_id=int(chosen), actor=actor)
            except SurveyError as error:
                st.error(md_escape(str(error)))
            else:
                st.caption(f"{int(frame['redcap_repeat_instrument'].isna().sum())} responses, {len(frame)} rows (REDCap repeating-instrument layout).")
                stem = f"responses-campaign-{int(chosen)}" + ("-deidentified" if deidentified else "")
                download_table(frame, stem, key=f"sv_export_{chosen}", label="Download responses")
