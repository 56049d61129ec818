"""Shared state of the analysis pages: cached computations, the global filters and the settings.

Caching (:class:`AnalysisCache`, one per database and process): the input frames are kept in a
storage EvidenceCache, which checks the data stamp on every render and reads only what changed
since (a new survey response costs a read of that response, not of all of them); the estimates
(per settings) and views (per settings, filters, threshold and day) are kept for the newest data
stamp only and recomputed on demand, so a new response or workshop result shows on the next
render without a refresh. Today's estimates are brought up to date rather than recomputed when
the refresh says which technologies' evidence it touched: those technologies are estimated again
and the rest kept (exactly what a full recomputation gives). They are shared, read-only objects
(about 30 MB of input frames with 100,000 responses): never copied per render or per filter
combination.

The global filters (sidebar) and the blending settings (the Estimates page's sliders) are kept in
plain session-state entries that outlive page switches, so both analysis pages agree on them and
the report is stamped with the settings actually shown.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from sqlalchemy.exc import DBAPIError

from analysis import schemas as s
from analysis.blending import BlendSettings
from analysis.disclosure import RespondentFilter, response_languages
from analysis.disclosure import submission_months as respondent_months
from analysis.track_record import ScaleRule
from analysis.views import Filters
from storage.analysis_inputs import (
    AnalysisInputs,
    DisclosureSettingError,
    disclosure_threshold,
)
from storage.audit import Actor
from storage.case_studies import CaseStudyRecord
from storage.catalogue_history import load_catalogue_history
from storage.change_log import DataStamp
from storage.evidence_cache import EvidenceCache
from streamlit_app.auth import Identity
from streamlit_app.charts import ChartExportError, Labeller, figure_html, figure_png
from streamlit_app.report import (
    LANGUAGE_FILTER,
    MULTI_FILTERS,
    RESPONDENT_FILTERS,
    SETTING_NAMES,
    STRENGTH_CHOICES,
    Comparison,
    RoadmapAnalysis,
    TrackRecord,
    compare_days,
    compute_analysis,
    compute_estimates,
    describe_filters,
    inputs_on,
    language_label,
    month_label,
    past_day,
    track_record,
    updated_estimates,
)
from streamlit_app.runtime import current_data_version, database_unreachable, get_engine
from streamlit_app.widgets import (
    download_table,
    md_escape,
    record_download,
    vocabulary_labels,
)

FILTERS_KEY = "analysis_filters"  # dict of Filters fields, kept across pages
SETTINGS_KEY = "analysis_settings"  # dict of the BlendSettings fields the sliders set
PNG_KEY = "analysis_png"  # {chart key: (fingerprint, png bytes)}
# Sliders of the sensitivity panel: field -> (label, minimum, maximum, step).
SENSITIVITY_SLIDERS: dict[str, tuple[str, float, float, float]] = {
    name: (SETTING_NAMES[name], low, high, step) for name, low, high, step in (
        ("prior_strength", 0.0, 20.0, 0.5), ("user_weight", 0.0, 3.0, 0.1), ("aware_weight", 0.0, 3.0, 0.1),
        ("workshop_weight", 0.0, 40.0, 1.0))
}


def _database_key() -> tuple[str, int]:
    engine = get_engine()
    return engine.url.render_as_string(hide_password=False), current_data_version()


# --- cached computations -----------------------------------------------------------------------


class AnalysisCache:
    """One database's analysis inputs (an incrementally refreshed storage EvidenceCache) and what is
    computed from them: the catalogue's history, the inputs as of past days, estimates, views,
    comparisons between days and the track record, per settings, filters and day.

    Computed entries are kept only for the newest data stamp: when the data changes they are all
    dropped (so nothing erased lives on in them) and recomputed on demand. Every call checks the
    stamp in the database first, so nothing shown depends on this process's memory.
    """

    LIMITS = {"history": 1, "inputs_on": 4, "estimates": 6, "analyses": 16, "comparisons": 4, "track_records": 4}

    def __init__(self) -> None:
        self.evidence = EvidenceCache()
        self._lock = threading.Lock()
        self._stamp: DataStamp | None = None
        # Today's estimates of the stamp before the current one, and the technologies touched since:
        # (current stamp, touched ids, {key: estimates}), or None.
        self._carried: tuple[DataStamp, frozenset[int], dict[tuple, pd.DataFrame]] | None = None
        self._stores: dict[str, OrderedDict[tuple, object]] = {name: OrderedDict() for name in self.LIMITS}

    def inputs(self) -> tuple[DataStamp, AnalysisInputs]:
        """The inputs as the database holds them now (the last ones read while it is unreachable)."""
        first_read = self.evidence.evidence is None
        try:
            with st.spinner("Reading the evidence…") if first_read else nullcontext():
                evidence = self.evidence.current_evidence(get_engine())
        except DBAPIError as error:
            evidence = self.evidence.evidence
            if evidence is None or not database_unreachable(error):
                raise
        with self._lock:
            if evidence.stamp != self._stamp:
                touched = evidence.touched_since(self._stamp) if self._stamp is not None else None
                self._carried = None if touched is None else (evidence.stamp, touched, dict(self._stores["estimates"]))
                self._stamp = evidence.stamp
                for store in self._stores.values():
                    store.clear()
        return evidence.stamp, evidence.inputs

    def _get(self, name: str, stamp: DataStamp, key: tuple, make: Callable[[], object], spinner: str | None = None) -> object:
        """The entry ``key`` of store ``name`` for this stamp, made (outside the lock) when missing."""
        store = self._stores[name]
        with self._lock:
            if stamp == self._stamp and key in store:
                store.move_to_end(key)
                return store[key]
        with st.spinner(spinner) if spinner else nullcontext():
            value = make()
        with self._lock:
            if stamp == self._stamp:  # else the data changed meanwhile: the result is already out of date
                store[key] = value
                store.move_to_end(key)
                while len(store) > self.LIMITS[name]:
                    store.popitem(last=False)
        return value

    def history(self, stamp: DataStamp) -> pd.DataFrame:
        return self._get("history", stamp, (), lambda: load_catalogue_history(get_engine()))

    def inputs_on(self, stamp: DataStamp, inputs: AnalysisInputs, day: str) -> tuple[AnalysisInputs, pd.DataFrame]:
        if past_day(day) is None:
            return inputs_on(inputs, None, None)
        return self._get("inputs_on", stamp, (day,), lambda: inputs_on(inputs, self.history(stamp), day),
                         "Rebuilding the evidence as it stood then…")

    def estimates(self, stamp: DataStamp, inputs: AnalysisInputs, settings: BlendSettings, respondents: RespondentFilter,
                  threshold: int, day: str) -> pd.DataFrame:
        respondents = respondents if past_day(day) is None else RespondentFilter()  # a past day counts everyone
        key = (settings.model_dump_json(), respondents.model_dump_json(), threshold, day)

        def make() -> pd.DataFrame:
            carried = self._carried
            if past_day(day) is None and carried is not None and carried[0] == stamp and key in carried[2]:
                return updated_estimates(carried[2][key], carried[1], inputs, settings, threshold, respondents)
            return compute_estimates(inputs, settings, threshold, respondents, as_of=day)

        return self._get("estimates", stamp, key, make, "Blending the estimates…")

    def analysis(self, settings: BlendSettings, filters: Filters, threshold: int, day: str) -> RoadmapAnalysis:
        stamp, inputs = self.inputs()

        def make() -> RoadmapAnalysis:
            on_day, unknown = self.inputs_on(stamp, inputs, day)
            estimates = self.estimates(stamp, on_day, settings, filters.respondent_filter(), threshold, day)
            return compute_analysis(on_day, estimates, settings, filters, threshold, as_of=day, history_unknown=unknown)

        key = (settings.model_dump_json(), filters.model_dump_json(), threshold, day)
        return self._get("analyses", stamp, key, make, "Computing the views…")

    def comparison(self, settings: BlendSettings, threshold: int, first: str, last: str) -> Comparison:
        stamp, inputs = self.inputs()
        return self._get("comparisons", stamp, (settings.model_dump_json(), threshold, first, last),
                         lambda: compare_days(inputs, self.history(stamp), settings, threshold, first, last),
                         "Comparing the two days…")

    def track_record(self, settings: BlendSettings, threshold: int, rule: ScaleRule, today: str) -> TrackRecord:
        stamp, inputs = self.inputs()
        return self._get("track_records", stamp, (settings.model_dump_json(), threshold, rule.model_dump_json(), today),
                         lambda: track_record(inputs, self.history(stamp), settings, threshold, rule, today),
                         "Judging every past call (one estimate per month)…")

    def held_frames(self) -> list[pd.DataFrame]:
        """Every frame this cache holds (for tests that check erased data is gone)."""
        frames = []
        evidence = self.evidence.evidence
        if evidence is not None:
            frames += [evidence.responses, evidence.answers, *evidence.inputs.frames().values()]
        with self._lock:
            if self._carried is not None:
                frames += list(self._carried[2].values())
            for name, store in self._stores.items():
                for value in store.values():
                    if isinstance(value, pd.DataFrame):
                        frames.append(value)
                    elif isinstance(value, RoadmapAnalysis):
                        frames += [value.estimates, *value.inputs.frames().values()]
                    elif isinstance(value, tuple):  # inputs as of a past day, and their notes
                        frames += [*value[0].frames().values(), value[1]]
                    elif isinstance(value, Comparison):
                        frames += [value.changes, value.by_month]
                    elif isinstance(value, TrackRecord):
                        frames += [value.calls, value.by_band, value.reliability]
        return frames


@st.cache_resource(show_spinner=False)
def analysis_cache(url: str) -> AnalysisCache:
    """The analysis cache of one database in this process."""
    return AnalysisCache()


def _cache() -> AnalysisCache:
    return analysis_cache(get_engine().url.render_as_string(hide_password=False))


def analysis_for(settings: BlendSettings, filters: Filters) -> RoadmapAnalysis:
    """The views for these settings and filters, as of the chosen day, as the data stands now (cached)."""
    return _cache().analysis(settings, filters, threshold(), f"{current_day():%Y-%m-%d}")


def todays_analysis() -> RoadmapAnalysis:
    """Today's views of every technology under the default settings (the lead's home page), cached
    with the analysis pages' own."""
    return _cache().analysis(BlendSettings(), Filters(), threshold(), f"{dt.date.today():%Y-%m-%d}")


def comparison_for(settings: BlendSettings, first: dt.date, last: dt.date) -> Comparison:
    """What changed between the ends of two days (cached)."""
    return _cache().comparison(settings, threshold(), f"{first:%Y-%m-%d}", f"{last:%Y-%m-%d}")


def track_record_for(settings: BlendSettings, rule: ScaleRule) -> TrackRecord:
    """The track record under ``rule``, as judged on the chosen day (cached)."""
    return _cache().track_record(settings, threshold(), rule, f"{current_day():%Y-%m-%d}")


# --- the day the roadmap describes ------------------------------------------------------------------

AS_OF_KEY = "analysis_as_of"  # the chosen day (a date), kept across pages; today when absent


def current_day() -> dt.date:
    """The day the analysis pages describe: today unless a past day was chosen."""
    chosen = st.session_state.get(AS_OF_KEY)
    today = dt.date.today()
    return chosen if isinstance(chosen, dt.date) and chosen < today else today


def as_of_sidebar() -> dt.date:
    """The "as of" day picker at the top of the sidebar (default today)."""
    today = dt.date.today()
    st.session_state["af_as_of"] = current_day()
    st.sidebar.date_input("Roadmap as of", key="af_as_of", max_value=today, min_value=dt.date(2000, 1, 1),
                          format="DD/MM/YYYY", on_change=_remember_day,
                          help="See the roadmap as it stood at the end of a past day: the evidence dated by then, "
                               "and the catalogue as it was.")
    day = current_day()
    if day < today:
        st.sidebar.caption(f"Showing the roadmap as of {day:%d %B %Y}.")
        st.sidebar.button("Back to today", on_click=_back_to_today, key="af_today")
    return day


def as_of_banner(analysis: RoadmapAnalysis) -> None:
    """On a past day: what the figures are, and where the history is not known."""
    if not analysis.is_past:
        return
    unknown = analysis.history_unknown
    st.info(f"The roadmap {analysis.as_of_text}: survey answers submitted by then (released in steps of at least "
            f"{analysis.threshold} respondents per technology, counted back from today), workshop rounds closed by then, "
            "each site's adoption record in force then, and the catalogue as it stood then.", icon=":material/history:")
    if not unknown.empty:
        with st.expander(f"History not fully known for {unknown['technology_id'].nunique()} technologies"):
            st.caption("Their evidence was changed after that day, or is older than the catalogue's history, so what it said "
                       "then may differ from what is shown.")
            names = analysis.inputs.technologies.set_index("technology_id")["name"]
            st.dataframe(labeller().table(unknown.assign(name=unknown["technology_id"].map(names)),
                                          columns=["name", "source", "note"]), hide_index=True, width="stretch")


SCALE_KEY = "analysis_scale_rule"  # dict of the ScaleRule fields the track-record inputs set


def scale_rule() -> ScaleRule:
    """The rule for "reached scale" in use: the defaults with the lead's changes."""
    return ScaleRule(**st.session_state.get(SCALE_KEY, {}))


def scale_rule_inputs() -> ScaleRule:
    """The track record's setting: when a technology counts as having reached scale."""
    default = ScaleRule()
    columns = st.columns(3)
    for column, (field, text, low, high, step) in zip(columns, (
            ("scaled_sites", "Sites reporting it scaled", 1, 50, 1),
            ("live_share", "…or live at this share of sites", 0.05, 1.0, 0.05),
            ("min_live_sites", "…and at least this many sites", 1, 50, 1)), strict=True):
        key = f"scale_{field}"
        _seed(SCALE_KEY, field, key, getattr(default, field))
        column.number_input(text, min_value=low, max_value=high, step=step, key=key, on_change=_remember,
                            args=(SCALE_KEY, field, key))
    return scale_rule()


def _remember_day() -> None:
    st.session_state[AS_OF_KEY] = st.session_state["af_as_of"]


def _back_to_today() -> None:
    st.session_state[AS_OF_KEY] = None


def threshold() -> int:
    """The disclosure threshold; a bad setting stops the page with the reason."""
    try:
        return disclosure_threshold()
    except DisclosureSettingError as error:
        st.error(f"The disclosure setting is invalid: {error}. Ask an administrator to fix it.")
        st.stop()


def labeller() -> Labeller:
    return Labeller(vocabulary_labels())


# --- settings (sensitivity sliders) --------------------------------------------------------------


def current_settings() -> BlendSettings:
    """The blending settings in use: the defaults with the lead's slider changes."""
    return BlendSettings(**st.session_state.get(SETTINGS_KEY, {}))


def settings_are_default(settings: BlendSettings) -> bool:
    return settings == BlendSettings()


def settings_caption(settings: BlendSettings) -> str:
    if settings_are_default(settings):
        return "Blending settings: the defaults (see the method page)."
    default = BlendSettings()
    changed = [f"{name.replace('_', ' ')} {getattr(settings, name):g} (default {getattr(default, name):g})"
               for name in SENSITIVITY_SLIDERS if getattr(settings, name) != getattr(default, name)]
    return "Blending settings changed on the Estimates page: " + "; ".join(changed) + "."


def _remember(store_key: str, field: str, widget_key: str) -> None:
    """Widget callback: copy the new value into the store that outlives page switches."""
    st.session_state[store_key] = {**st.session_state.get(store_key, {}), field: st.session_state[widget_key]}


def _seed(store_key: str, field: str, widget_key: str, default: object) -> None:
    """Give a widget its remembered value before it is drawn. Widgets of another page are other
    widgets to Streamlit (their state does not carry over), so the store is the source of truth;
    the ``_remember`` callback runs before the script, so a change is never overwritten here."""
    st.session_state[widget_key] = st.session_state.get(store_key, {}).get(field, default)


def settings_sliders() -> BlendSettings:
    """The sensitivity sliders; their values are kept for every analysis page."""
    default = BlendSettings()
    for name, (text, low, high, step) in SENSITIVITY_SLIDERS.items():
        key = f"sens_{name}"
        _seed(SETTINGS_KEY, name, key, float(getattr(default, name)))
        st.slider(text, min_value=low, max_value=high, step=step, key=key, on_change=_remember, args=(SETTINGS_KEY, name, key))
    return current_settings()


def reset_settings() -> None:
    """Button callback: back to the default settings."""
    st.session_state[SETTINGS_KEY] = {}


# --- global filters ------------------------------------------------------------------------------

_FIXED_OPTIONS = {"region": s.REGIONS, "deployment_horizon": s.HORIZONS, "site_type": s.SITE_TYPES}


def _filter_options(vocabulary: str, labels: dict[str, dict[str, str]]) -> list[str]:
    fixed = _FIXED_OPTIONS.get(vocabulary)
    return list(fixed) if fixed else list(labels.get(vocabulary, {}))


def filter_sidebar() -> Filters:
    """The global filters in the sidebar; the same choices apply on every analysis page."""
    labels = vocabulary_labels()
    label = Labeller(labels)
    sidebar = st.sidebar
    past = as_of_sidebar() < dt.date.today()
    sidebar.header("Filters")
    sidebar.caption("Within a filter any choice matches; across filters all must match. Empty means all.")

    def multiselect(field: str, text: str, options: list[str], describe: Callable[[str], str], disabled: bool = False) -> None:
        key = f"af_{field}"
        _seed(FILTERS_KEY, field, key, [])
        st.session_state[key] = [code for code in st.session_state[key] if code in options]  # a retired code drops out
        sidebar.multiselect(text, options, key=key, format_func=describe,
                            on_change=_remember, args=(FILTERS_KEY, field, key), disabled=disabled)

    for field, (text, vocabulary) in MULTI_FILTERS.items():
        multiselect(field, text, _filter_options(vocabulary, labels), partial(label, vocabulary))
    _seed(FILTERS_KEY, "min_strength", "af_min_strength", None)
    sidebar.selectbox("Evidence strength (time to deployment)", list(STRENGTH_CHOICES), key="af_min_strength",
                      format_func=STRENGTH_CHOICES.get, on_change=_remember, args=(FILTERS_KEY, "min_strength", "af_min_strength"))
    sidebar.subheader("Survey respondents")
    if past:
        sidebar.caption("Respondent filters apply to today's figures only: a past day counts every respondent.")
    else:
        sidebar.caption("Whose answers count in the estimates and training needs. A group too small to publish, or one "
                        "that would single out a few respondents against a wider choice, has its survey evidence withheld.")
    for field, (text, vocabulary) in RESPONDENT_FILTERS.items():
        multiselect(field, text, _filter_options(vocabulary, labels), partial(label, vocabulary), disabled=past)
    multiselect("languages", LANGUAGE_FILTER, answered_languages(), language_label, disabled=past)
    _month_range(sidebar, disabled=past)
    sidebar.button("Clear filters", on_click=clear_filters, key="af_clear")
    return current_filters()


def _month_range(sidebar, disabled: bool = False) -> None:
    """Submitted from / up to a month (both included); "any" leaves that end open."""
    months = submission_months()
    stored = st.session_state.get(FILTERS_KEY, {})
    start = stored.get("submitted_from")
    for field, text, options in (("submitted_from", "Answered from", months),
                                 ("submitted_to", "Answered up to", [m for m in months if start is None or m >= start])):
        key = f"af_{field}"
        _seed(FILTERS_KEY, field, key, None)
        if st.session_state[key] not in options:  # a month outside the data (or before the start) drops out
            st.session_state[key] = None
            st.session_state[FILTERS_KEY] = {**st.session_state.get(FILTERS_KEY, {}), field: None}
        sidebar.selectbox(text, [None, *options], key=key, format_func=lambda month: "any month" if month is None else month_label(month),
                          on_change=_remember, args=(FILTERS_KEY, field, key), disabled=disabled)


def submission_months() -> list[str]:
    """Months from the first to the last survey submission (YYYY-MM), for the date filter."""
    engine = get_engine()
    _stamp, inputs = analysis_cache(engine.url.render_as_string(hide_password=False)).inputs()
    return respondent_months(inputs.responses)


def answered_languages() -> list[str]:
    """The languages survey responses were given in, for the language filter."""
    engine = get_engine()
    _stamp, inputs = analysis_cache(engine.url.render_as_string(hide_password=False)).inputs()
    return response_languages(inputs.responses)


def current_filters() -> Filters:
    return Filters(**st.session_state.get(FILTERS_KEY, {}))


def clear_filters() -> None:
    st.session_state[FILTERS_KEY] = {}


def filters_caption(filters: Filters) -> str:
    if current_day() < dt.date.today():  # a past day counts every respondent
        filters = filters.model_copy(update={field: [] for field in (*RESPONDENT_FILTERS, "languages")}
                                     | {"submitted_from": None, "submitted_to": None})
    return f"Filters: {describe_filters(filters, labeller())}."


# --- chart exports -------------------------------------------------------------------------------


def chart(figure: go.Figure, stem: str, *, key: str, fingerprint: str, clickable: bool = False) -> list[dict] | None:
    """Draw a chart with its exports: interactive HTML (made when clicked) and PNG (prepared on
    request, since it starts the system Chromium; a failure says so instead of breaking the page).

    A ``clickable`` chart reruns the page when a point is clicked and returns the clicked points
    (Streamlit's selection ``points``: ``customdata``, ``x``, ``y``, ...); otherwise None."""
    if clickable:
        event = st.plotly_chart(figure, key=f"chart_{key}", config={"displaylogo": False}, on_select="rerun",
                                selection_mode="points")
        points = list(event.selection.points)
    else:
        st.plotly_chart(figure, key=f"chart_{key}", config={"displaylogo": False})
        points = None
    html_column, png_column = st.columns(2)
    stem = stamped(stem)
    html_column.download_button("Chart (interactive HTML)", data=_deferred(lambda: figure_html(figure)), file_name=f"{stem}.html",
                                mime="text/html", key=f"html_{key}", on_click=record_download, args=(stem, "html", 1))
    prepared = st.session_state.setdefault(PNG_KEY, {})
    if png_column.button("Prepare chart as PNG", key=f"png_prepare_{key}"):
        try:
            with st.spinner("Rendering the chart…"):
                prepared[key] = (fingerprint, figure_png(figure))
        except ChartExportError as error:
            png_column.error(str(error))
    entry = prepared.get(key)
    if entry is not None and entry[0] == fingerprint:
        png_column.download_button("Download PNG", entry[1], file_name=f"{stem}.png", mime="image/png", key=f"png_{key}",
                                   on_click=record_download, args=(stem, "png", 1))
    return points


def _deferred(make: Callable[[], str]) -> Callable[[], bytes]:
    return lambda: make().encode("utf-8")


def view_fingerprint(settings: BlendSettings, filters: Filters) -> str:
    """Identifies what a chart shows, so a prepared PNG is offered only while it is still current."""
    _url, version = _database_key()
    return json.dumps([version, settings.model_dump(), filters.model_dump(), f"{current_day():%Y-%m-%d}"], sort_keys=True)


# --- small shared pieces of the analysis pages ----------------------------------------------------


# Tables bigger than this many cells prepare their XLSX/CSV files only when asked: writing a
# large XLSX takes about a second per thousand rows, too slow to repeat on every render.
EAGER_DOWNLOAD_CELLS = 5_000


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not pd.isna(value)


def _as_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def arrow_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns that mix codes and numbers (an estimate's point is a code or minutes) shown as text."""
    mixed = [c for c in frame.columns if frame[c].dtype == object
             and frame[c].map(lambda v: isinstance(v, str)).any() and frame[c].map(_is_number).any()]
    return frame.assign(**{c: frame[c].map(_as_text) for c in mixed}) if mixed else frame


def stamped(stem: str) -> str:
    """A download's file name stem, stamped with the day it describes when that is not today."""
    day = current_day()
    return f"{stem}-as-of-{day:%Y-%m-%d}" if day < dt.date.today() else stem


def show_table(frame: pd.DataFrame, stem: str, *, key: str, caption: str | None = None, **for_people) -> pd.DataFrame:
    """A view table as people read it (analysis.labelling.for_people with ``for_people`` options:
    labels, plain headings, percentages, dates) with its formula-safe CSV/XLSX downloads of the same
    table, their file names stamped with the day described. Returns the table shown."""
    if caption:
        st.caption(caption)
    shown = labeller().table(frame, **for_people)
    st.dataframe(arrow_safe(shown), hide_index=True, width="stretch")
    stem = stamped(stem)
    if shown.size <= EAGER_DOWNLOAD_CELLS or st.toggle(f"Prepare the CSV/XLSX downloads ({len(shown)} rows)", key=f"prep_{key}"):
        download_table(shown, stem, key=f"dl_{key}", label="Table")
    return shown


def user_text(text: str) -> None:
    """A lead's free text, shown literally (escaped markdown) with its line breaks kept."""
    if not text.strip():
        st.caption("(empty)")
        return
    st.markdown("  \n".join(md_escape(line) for line in text.splitlines()))


def render_case_study(record: CaseStudyRecord) -> None:
    with st.container(border=True):
        st.subheader(md_escape(record.title))
        if record.is_demo:
            st.caption("Demonstration case study (synthetic).")
        st.markdown("**Technology:** " + md_escape(record.technology_name or "–"))
        st.markdown("**Sites:** " + md_escape("; ".join(record.sites) or "–"))
        st.markdown("**Method**")
        user_text(record.method)
        st.markdown("**Findings**")
        user_text(record.findings)
        st.markdown("**Evidence**")
        if record.evidence:
            st.markdown("\n".join(f"- {md_escape(link.description)}" for link in record.evidence))
        else:
            st.caption("No evidence linked.")
        st.caption(f"Last changed {record.updated_at:%Y-%m-%d %H:%M} UTC")


def actor_of(identity: Identity) -> Actor:
    return Actor(identity.user_id, identity.role)
