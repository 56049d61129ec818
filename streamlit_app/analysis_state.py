"""Shared state of the analysis pages: cached computations, the global filters and the settings.

Caching (:class:`AnalysisCache`, one per database and process): the input frames are kept in a
storage EvidenceCache, which checks the data stamp on every render and reads only what changed
since (a new survey response costs a read of that response, not of all of them); the estimates
(per settings) and views (per settings, filters, threshold and day) are kept for the newest data
stamp only and recomputed on demand, so a new response or workshop result shows on the next
render without a refresh. They are shared, read-only objects (about 30 MB of input frames with
100,000 responses): never copied per render or per filter combination.

The global filters (sidebar) and the blending settings (the Estimates page's sliders) are kept in
plain session-state entries that outlive page switches, so both analysis pages agree on them and
the report is stamped with the settings actually shown.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import nullcontext

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from sqlalchemy.exc import DBAPIError

from analysis import schemas as s
from analysis.blending import BlendSettings
from analysis.disclosure import RespondentFilter
from analysis.disclosure import submission_months as respondent_months
from analysis.views import Filters
from storage.analysis_inputs import (
    AnalysisInputs,
    DisclosureSettingError,
    disclosure_threshold,
)
from storage.audit import Actor
from storage.change_log import DataStamp
from storage.evidence_cache import EvidenceCache
from storage.case_studies import CaseStudyRecord
from streamlit_app.auth import Identity
from streamlit_app.charts import ChartExportError, Labeller, figure_html, figure_png
from streamlit_app.report import RoadmapAnalysis, compute_analysis, compute_estimates
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
    "prior_strength": ("Prior strength (pseudo-responses the desk assessment is worth)", 0.0, 20.0, 0.5),
    "user_weight": ("Weight of an answer from a user of the technology", 0.0, 3.0, 0.1),
    "aware_weight": ("Weight of an answer from someone who only knows of it", 0.0, 3.0, 0.1),
    "workshop_weight": ("Responses a workshop consensus counts as", 0.0, 40.0, 1.0),
}
STRENGTH_CHOICES = {None: "any", "moderate": "moderate or strong", "strong": "strong only"}


def _database_key() -> tuple[str, int]:
    engine = get_engine()
    return engine.url.render_as_string(hide_password=False), current_data_version()


# --- cached computations -----------------------------------------------------------------------


class AnalysisCache:
    """One database's analysis inputs (an incrementally refreshed storage EvidenceCache) and the
    estimates and views computed from them, per settings and filters.

    Computed entries are kept only for the newest data stamp: when the data changes they are all
    dropped (so nothing erased lives on in them) and recomputed on demand. Every call checks the
    stamp in the database first, so nothing shown depends on this process's memory.
    """

    ESTIMATES = 6  # (settings, respondent filter, threshold) combinations kept
    ANALYSES = 16  # (settings, filters, threshold, day) combinations kept

    def __init__(self) -> None:
        self.evidence = EvidenceCache()
        self._lock = threading.Lock()
        self._stamp: DataStamp | None = None
        self._estimates: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
        self._analyses: OrderedDict[tuple, RoadmapAnalysis] = OrderedDict()

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
                self._stamp = evidence.stamp
                self._estimates.clear()
                self._analyses.clear()
        return evidence.stamp, evidence.inputs

    def _remember(self, store: OrderedDict, stamp: DataStamp, key: object, value: object, limit: int) -> None:
        with self._lock:
            if stamp != self._stamp:
                return  # the data changed meanwhile: this result is already out of date
            store[key] = value
            store.move_to_end(key)
            while len(store) > limit:
                store.popitem(last=False)

    def _cached(self, store: OrderedDict, stamp: DataStamp, key: object) -> object | None:
        with self._lock:
            if stamp != self._stamp or key not in store:
                return None
            store.move_to_end(key)
            return store[key]

    def estimates(self, stamp: DataStamp, inputs: AnalysisInputs, settings: BlendSettings, respondents: RespondentFilter,
                  threshold: int) -> pd.DataFrame:
        key = (settings.model_dump_json(), respondents.model_dump_json(), threshold)
        found = self._cached(self._estimates, stamp, key)
        if found is None:
            with st.spinner("Blending the estimates…"):
                found = compute_estimates(inputs, settings, threshold, respondents)
            self._remember(self._estimates, stamp, key, found, self.ESTIMATES)
        return found

    def analysis(self, settings: BlendSettings, filters: Filters, threshold: int, today: str) -> RoadmapAnalysis:
        stamp, inputs = self.inputs()
        key = (settings.model_dump_json(), filters.model_dump_json(), threshold, today)
        found = self._cached(self._analyses, stamp, key)
        if found is None:
            estimates = self.estimates(stamp, inputs, settings, filters.respondent_filter(), threshold)
            with st.spinner("Computing the views…"):
                found = compute_analysis(inputs, estimates, settings, filters, threshold, as_of=today)
            self._remember(self._analyses, stamp, key, found, self.ANALYSES)
        return found

    def held_frames(self) -> list[pd.DataFrame]:
        """Every frame this cache holds (for tests that check erased data is gone)."""
        frames = []
        evidence = self.evidence.evidence
        if evidence is not None:
            frames += [evidence.responses, evidence.answers, *evidence.inputs.frames().values()]
        with self._lock:
            frames += list(self._estimates.values())
            for analysis in self._analyses.values():
                frames += [analysis.estimates, *analysis.inputs.frames().values()]
        return frames


@st.cache_resource(show_spinner=False)
def analysis_cache(url: str) -> AnalysisCache:
    """The analysis cache of one database in this process."""
    return AnalysisCache()


def analysis_for(settings: BlendSettings, filters: Filters) -> RoadmapAnalysis:
    """The views for these settings and filters as the data stands now (cached)."""
    engine = get_engine()
    cache = analysis_cache(engine.url.render_as_string(hide_password=False))
    return cache.analysis(settings, filters, threshold(), pd.Timestamp.now().strftime("%Y-%m-%d"))


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

# Filters field -> (label, vocabulary for options and labels).
_MULTI_FILTERS: dict[str, tuple[str, str]] = {
    "type_codes": ("Technology type", "technology_type"),
    "clinical_areas": ("Clinical area", "clinical_area"),
    "workforce_groups": ("Workforce group", "workforce_group"),
    "points_of_care": ("Point of care", "point_of_care"),
    "regions": ("NHS region (with a current adoption record there)", "region"),
    "horizons": ("Time to deployment (blended)", "deployment_horizon"),
}
# Respondent filters: who counts in the estimates and training needs (their own profile answers).
_RESPONDENT_FILTERS: dict[str, tuple[str, str]] = {
    "respondent_regions": ("Region they work in", "region"),
    "respondent_site_types": ("Organisation type they work for", "site_type"),
    "staff_groups": ("Staff group", "staff_group"),
}
_FIXED_OPTIONS = {"region": s.REGIONS, "deployment_horizon": s.HORIZONS, "site_type": s.SITE_TYPES}


def _filter_options(vocabulary: str, labels: dict[str, dict[str, str]]) -> list[str]:
    fixed = _FIXED_OPTIONS.get(vocabulary)
    return list(fixed) if fixed else list(labels.get(vocabulary, {}))


def filter_sidebar() -> Filters:
    """The global filters in the sidebar; the same choices apply on every analysis page."""
    labels = vocabulary_labels()
    label = Labeller(labels)
    sidebar = st.sidebar
    sidebar.header("Filters")
    sidebar.caption("Within a filter any choice matches; across filters all must match. Empty means all.")
    def multiselect(field: str, text: str, vocabulary: str) -> None:
        key = f"af_{field}"
        options = _filter_options(vocabulary, labels)
        _seed(FILTERS_KEY, field, key, [])
        st.session_state[key] = [code for code in st.session_state[key] if code in options]  # a retired code drops out
        sidebar.multiselect(text, options, key=key, format_func=lambda code, v=vocabulary: label(v, code),
                            on_change=_remember, args=(FILTERS_KEY, field, key))

    for field, (text, vocabulary) in _MULTI_FILTERS.items():
        multiselect(field, text, vocabulary)
    _seed(FILTERS_KEY, "min_strength", "af_min_strength", None)
    sidebar.selectbox("Evidence strength (time to deployment)", list(STRENGTH_CHOICES), key="af_min_strength",
                      format_func=STRENGTH_CHOICES.get, on_change=_remember, args=(FILTERS_KEY, "min_strength", "af_min_strength"))
    sidebar.subheader("Survey respondents")
    sidebar.caption("Whose answers count in the estimates and training needs. A group too small to publish, or one "
                    "that would single out a few respondents against a wider choice, has its survey evidence withheld.")
    for field, (text, vocabulary) in _RESPONDENT_FILTERS.items():
        multiselect(field, text, vocabulary)
    _month_range(sidebar)
    sidebar.button("Clear filters", on_click=clear_filters, key="af_clear")
    return current_filters()


def _month_range(sidebar) -> None:
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
        sidebar.selectbox(text, [None, *options], key=key, format_func=lambda month: "any month" if month is None else _month_label(month),
                          on_change=_remember, args=(FILTERS_KEY, field, key))


def _month_label(month: str) -> str:
    return pd.Timestamp(f"{month}-01").strftime("%b %Y")


def submission_months() -> list[str]:
    """Months from the first to the last survey submission (YYYY-MM), for the date filter."""
    engine = get_engine()
    _stamp, inputs = analysis_cache(engine.url.render_as_string(hide_password=False)).inputs()
    return respondent_months(inputs.responses)


def current_filters() -> Filters:
    return Filters(**st.session_state.get(FILTERS_KEY, {}))


def clear_filters() -> None:
    st.session_state[FILTERS_KEY] = {}


def filters_caption(filters: Filters) -> str:
    chosen = {field: value for field, value in filters.model_dump().items() if value}
    if not chosen:
        return "Filters: none (all technologies)."
    label = labeller()
    parts = []
    for field, value in chosen.items():
        if field == "min_strength":
            parts.append(f"evidence strength {STRENGTH_CHOICES[value]}")
        elif field == "submitted_from":
            parts.append(f"respondents who answered from {_month_label(value)}")
        elif field == "submitted_to":
            parts.append(f"respondents who answered up to {_month_label(value)}")
        else:
            text, vocabulary = {**_MULTI_FILTERS, **_RESPONDENT_FILTERS}[field]
            prefix = "respondents by " if field in _RESPONDENT_FILTERS else ""
            parts.append(f"{prefix}{text.split(' (')[0].lower()}: " + ", ".join(label(vocabulary, code) for code in value))
    return "Filters: " + "; ".join(parts) + "."


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
    return json.dumps([version, settings.model_dump(), filters.model_dump()], sort_keys=True)


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


def show_table(frame: pd.DataFrame, stem: str, *, key: str, caption: str | None = None, export: pd.DataFrame | None = None) -> None:
    """A view table with its formula-safe CSV/XLSX downloads (of ``export`` when given, e.g. all columns)."""
    if caption:
        st.caption(caption)
    st.dataframe(arrow_safe(frame), hide_index=True, width="stretch")
    export = frame if export is None else export
    if export.size <= EAGER_DOWNLOAD_CELLS or st.toggle(f"Prepare the CSV/XLSX downloads ({len(export)} rows)", key=f"prep_{key}"):
        download_table(export, stem, key=f"dl_{key}", label="Table")


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
