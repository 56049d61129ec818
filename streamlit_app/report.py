"""The roadmap analysis computed once for pages, report and command line, and the printable report.

* :func:`compute_estimates` and :func:`compute_analysis` turn the six input frames into every
  view table (``analysis.views``). Disclosure control is applied where the estimates are made
  (``analysis.blending.published_survey``: survey answers of fewer respondents than the threshold
  never enter an estimate, a chart or a drill-down), and count tables suppress small counts.
* :func:`build_report` writes ONE self-contained HTML file (plotly.js embedded once, print CSS):
  the stamp (data date, data version, settings, filters, threshold, demonstration data), every
  view's charts and tables, the case studies, the estimates table and the method page.
  Everything that comes from data or users is escaped with ``html.escape``.

No Streamlit import: the command line (``roadmap report``) uses this module too.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from sqlalchemy import Engine

from analysis import schemas as s
from analysis.as_of import UNKNOWN_COLUMNS, day_end, evidence_as_of
from analysis.blending import BlendSettings, estimate_all, evidence_for, update_estimates
from analysis.changes import changed_estimates, evidence_between, evidence_by_month
from analysis.track_record import ScaleRule, classify_calls, month_ends, reliability, scale_dates, track_record_table
from analysis.disclosure import DEFAULT_THRESHOLD, RespondentFilter
from analysis.labelling import DIMENSION_LABELS
from analysis.views import (
    CellTable,
    Filters,
    adoption_by_region,
    adoption_heatmap,
    apply_filters,
    equity_gaps,
    estimates_table,
    evidence_gaps,
    headline_figures,
    overview_matrix,
    roadmap_timeline,
    taxonomy_distribution,
    training_needs,
    use_case_profile,
    workforce_impact,
)
from storage.analysis_inputs import (
    AnalysisInputs,
    assemble_inputs,
    disclosure_threshold,
    load_analysis_inputs,
)
from storage.case_studies import CaseStudyRecord, list_case_studies
from storage.catalogue_history import load_catalogue_history
from storage.db import read_session
from storage.vocabularies import EDITABLE_VOCABULARIES, SEEDED_VOCABULARIES, labels
from streamlit_app import charts
from streamlit_app.charts import OVERVIEW_DIMENSIONS, Labeller
from survey.languages import language_name

METHOD_PAGE = Path(__file__).resolve().parent.parent / "docs" / "method.md"
HEADLINE_LABELS = {
    "technologies": "Technologies",
    "deployable_within_year": "Deployable within a year",
    "workforce_groups_affected": "Workforce groups affected",
    "clinical_areas_affected": "Clinical areas affected",
}
# The estimates as people read them (the page's table and the report's): the codes stay in the export.
ESTIMATE_COLUMNS_FOR_PEOPLE = ["technology_id", "name", "type_code", "quantity", "point", "lower", "upper", "n_catalogue",
                               "n_survey", "n_workshop", "effective_n", "agreement", "strength", "newest_evidence",
                               "survey_note", "history_note"]
CHANGE_COLUMNS_FOR_PEOPLE = ["technology_id", "name", "quantity", "point_before", "point_after", "direction",
                             "interval_before", "interval_after", "strength_before", "strength_after",
                             "effective_n_before", "effective_n_after", "survey_added", "workshop_results_added",
                             "sites_added", "catalogue_edits", "counts_note"]
# Options of analysis.labelling.for_people for the tables that need more than the defaults.
ESTIMATES_FOR_PEOPLE = {"columns": ESTIMATE_COLUMNS_FOR_PEOPLE}
CHANGES_FOR_PEOPLE = {"intervals": {f"interval_{side}": (f"lower_{side}", f"upper_{side}") for side in ("before", "after")},
                      "columns": CHANGE_COLUMNS_FOR_PEOPLE}
SENSITIVITY_FOR_PEOPLE = {"intervals": {f"interval_{side}": (f"lower_{side}", f"upper_{side}") for side in ("default", "new")},
                          "columns": ["technology_id", "name", "quantity", "point_default", "point_new", "interval_default",
                                      "interval_new", "strength_default", "strength_new", "shift"]}


def overview_for_people(dimension: str) -> dict:
    """for_people options of an AI overview table (and its drill-down): rows are ``dimension``'s
    codes, columns the blended time to deployment."""
    return {"vocabularies": {"row": dimension, "column": "deployment_horizon"},
            "headings": {"row": DIMENSION_LABELS[dimension], "column": "Time to deployment"}}


# Filters field -> (label, vocabulary for options and labels).
MULTI_FILTERS: dict[str, tuple[str, str]] = {
    "type_codes": ("Technology type", "technology_type"),
    "clinical_areas": ("Clinical area", "clinical_area"),
    "workforce_groups": ("Workforce group", "workforce_group"),
    "points_of_care": ("Point of care", "point_of_care"),
    "regions": ("NHS region (with a current adoption record there)", "region"),
    "horizons": ("Time to deployment (blended)", "deployment_horizon"),
}
# Respondent filters: who counts in the estimates and training needs (their own profile answers).
RESPONDENT_FILTERS: dict[str, tuple[str, str]] = {
    "respondent_regions": ("Region they work in", "region"),
    "respondent_site_types": ("Organisation type they work for", "site_type"),
    "staff_groups": ("Staff group", "staff_group"),
}
LANGUAGE_FILTER = "Language they answered in"
STRENGTH_CHOICES = {None: "any", "moderate": "moderate or strong", "strong": "strong only"}


def language_label(code: str) -> str:
    return f"{language_name(code)} ({code})"


def month_label(month: str) -> str:
    return pd.Timestamp(f"{month}-01").strftime("%b %Y")


def describe_filters(filters: Filters, label: Labeller) -> str:
    """The filters in words, with labels (the pages' caption and the report's stamp)."""
    parts = []
    for field, value in filters.model_dump().items():
        if not value:
            continue
        if field == "min_strength":
            parts.append(f"evidence strength {STRENGTH_CHOICES[value]}")
        elif field == "submitted_from":
            parts.append(f"respondents who answered from {month_label(value)}")
        elif field == "submitted_to":
            parts.append(f"respondents who answered up to {month_label(value)}")
        elif field == "languages":
            parts.append(f"respondents by {LANGUAGE_FILTER.lower()}: " + ", ".join(language_label(code) for code in value))
        else:
            text, vocabulary = {**MULTI_FILTERS, **RESPONDENT_FILTERS}[field]
            prefix = "respondents by " if field in RESPONDENT_FILTERS else ""
            parts.append(f"{prefix}{text.split(' (')[0].lower()}: " + ", ".join(label(vocabulary, code) for code in value))
    return "; ".join(parts) if parts else "none (all technologies)"


# Short names of the blending settings, in the order the method page explains them.
SETTING_NAMES = {
    "prior_strength": "Prior strength (pseudo-responses the desk assessment is worth)",
    "user_weight": "Weight of an answer from a user of the technology",
    "aware_weight": "Weight of an answer from someone who only knows of it",
    "site_weight": "Weight of a site's adoption record",
    "workshop_weight": "Responses a workshop consensus counts as",
    "background_alpha": "Background weight of every category",
    "interval": "Coverage of the intervals",
    "bootstrap_samples": "Bootstrap draws (minutes intervals)",
    "seed": "Seed of the bootstrap",
    "moderate_from": "Weighted evidence for 'moderate' strength",
    "strong_from": "Weighted evidence for 'strong' strength",
}


def settings_for_people(settings: BlendSettings) -> pd.DataFrame:
    """The blending settings used, with the defaults beside them and what each means."""
    default = BlendSettings()
    names = [*SETTING_NAMES, *(name for name in BlendSettings.model_fields if name not in SETTING_NAMES)]
    return pd.DataFrame({
        "Setting": [SETTING_NAMES.get(name, name.replace("_", " ").capitalize()) for name in names],
        "Value used": [_setting_text(getattr(settings, name)) for name in names],
        "Default": [_setting_text(getattr(default, name)) for name in names],
        "Changed": ["changed" if getattr(settings, name) != getattr(default, name) else "" for name in names],
        "What it means": [BlendSettings.model_fields[name].description or "" for name in names],
    })


def _setting_text(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def withheld_text(threshold: int) -> str:
    return f"withheld (<{threshold})"


def show_withheld(table: pd.DataFrame, column: str, threshold: int) -> pd.DataFrame:
    """``table`` with a respondent count for people: "withheld (<N)" where no survey evidence is
    used because disclosure control withheld it (``survey_withheld``)."""
    shown = table[column].astype(object).copy()
    none_used = np.array([isinstance(v, int | np.integer | float) and v == 0 for v in shown], dtype=bool)
    shown[table["survey_withheld"].to_numpy(bool) & none_used] = withheld_text(threshold)
    return table.assign(**{column: shown})


def estimates_with_withheld(table: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """The estimates with "withheld (<N)" as the survey respondents of an estimate whose survey
    evidence is left out (shown with ESTIMATES_FOR_PEOPLE)."""
    return show_withheld(table, "n_survey", threshold) if "survey_withheld" in table else table


def suppressed_text(threshold: int) -> str:
    return f"suppressed (<{threshold})"


def mark_suppressed(table: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """A table for people and exports: each suppressed count reads "suppressed (<N)" and the
    ``<col>_suppressed`` flag columns are dropped (``suppression_note`` explains each row)."""
    flags = [c for c in table.columns if c.endswith("_suppressed") and c.removesuffix("_suppressed") in table.columns]
    shown = table.drop(columns=flags)
    for flag in flags:
        column = flag.removesuffix("_suppressed")
        hidden = table[flag].to_numpy(bool)
        if hidden.any():
            values = shown[column].astype(object)
            values[hidden] = suppressed_text(threshold)
            shown[column] = values
    return shown


def technology_members(members: pd.DataFrame, technologies: pd.DataFrame) -> pd.DataFrame:
    """Drill-down rows of a cell table with each technology's name and type."""
    names = technologies.set_index("technology_id")
    return members.assign(name=members["technology_id"].map(names["name"]),
                          type_code=members["technology_id"].map(names["type_code"].astype(object)))


# --- computation -------------------------------------------------------------------------------


def past_day(day: pd.Timestamp | str | None) -> pd.Timestamp | None:
    """The end of ``day`` when it is before today (a view as of a past day), else None (today's view)."""
    if day is None or pd.Timestamp(day).normalize() >= pd.Timestamp.now().normalize():
        return None
    return day_end(day)


def described_day(day: pd.Timestamp | str | None) -> pd.Timestamp:
    """The day a view describes: ``day`` (normalised), or today."""
    return pd.Timestamp(day).normalize() if day is not None else pd.Timestamp.now().normalize()


def day_text(day: pd.Timestamp) -> str:
    """How every view and export names the day it describes."""
    return f"as of {day:%d %B %Y}" if past_day(day) is not None else f"today ({day:%d %B %Y})"


def inputs_on(inputs: AnalysisInputs, history: pd.DataFrame | None,
              day: pd.Timestamp | str | None) -> tuple[AnalysisInputs, pd.DataFrame]:
    """The inputs as they stood at the end of ``day`` (analysis.as_of), and where their history is
    not known. Today's inputs as they are when ``day`` is today or later (or None)."""
    end = past_day(day)
    if end is None:
        return inputs, pd.DataFrame(columns=list(UNKNOWN_COLUMNS))
    past = evidence_as_of(inputs.frames(), history, end)
    frames = {**inputs.frames(), "technologies": past.technologies, "technology_links": past.technology_links,
              "adoption": past.adoption, "workshop_results": past.workshop_results}
    return assemble_inputs(frames, inputs.data_version), past.unknown


def compute_estimates(inputs: AnalysisInputs, settings: BlendSettings, threshold: int = DEFAULT_THRESHOLD,
                      respondent_filter: RespondentFilter | None = None,
                      as_of: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """Blended estimates of every technology (analysis.blending.estimate_all), disclosure-safe.
    For a past ``as_of`` day, ``inputs`` come from :func:`inputs_on` for that day."""
    return estimate_all(inputs.technologies, inputs.technology_links, inputs.adoption, inputs.answers,
                        inputs.workshop_results, settings, responses=inputs.responses,
                        respondent_filter=respondent_filter, disclosure_threshold=threshold, as_of=past_day(as_of))


def updated_estimates(previous: pd.DataFrame, touched: frozenset[int], inputs: AnalysisInputs, settings: BlendSettings,
                      threshold: int = DEFAULT_THRESHOLD, respondent_filter: RespondentFilter | None = None) -> pd.DataFrame:
    """Today's :func:`compute_estimates` from those before a change that touched only the evidence of
    the ``touched`` technologies (analysis.blending.update_estimates)."""
    return update_estimates(previous, touched, inputs.technologies, inputs.technology_links, inputs.adoption, inputs.answers,
                            inputs.workshop_results, settings, responses=inputs.responses,
                            respondent_filter=respondent_filter, disclosure_threshold=threshold)


@dataclass(frozen=True)
class RoadmapAnalysis:
    """Every view table for one (data version, settings, filters, threshold).

    ``estimates`` is the unfiltered estimate_all output; the view tables cover the filtered
    technologies ``ids``. Tables that expose respondent counts are already suppressed.
    """

    inputs: AnalysisInputs
    settings: BlendSettings
    filters: Filters
    threshold: int
    as_of: pd.Timestamp  # the day described (today, or a past day)
    estimates: pd.DataFrame
    ids: pd.Index
    estimates_table: pd.DataFrame
    headline: dict[str, int]
    distribution: pd.DataFrame
    adoption_regions: pd.DataFrame
    adoption_heat: pd.DataFrame
    equity: CellTable
    overview: dict[str, CellTable]
    timeline: pd.DataFrame
    workforce: pd.DataFrame
    training: pd.DataFrame
    evidence_gaps: pd.DataFrame
    history_unknown: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(UNKNOWN_COLUMNS)))
    _profiles: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_empty(self) -> bool:
        return len(self.ids) == 0

    @property
    def is_past(self) -> bool:
        """Whether this describes a past day (not today's figures)."""
        return past_day(self.as_of) is not None

    @property
    def as_of_text(self) -> str:
        return day_text(self.as_of)

    @property
    def newest_evidence(self) -> pd.Timestamp | None:
        """The data date: the newest piece of evidence behind any estimate."""
        newest = self.estimates["newest_evidence"].max() if len(self.estimates) else pd.NaT
        return None if pd.isna(newest) else pd.Timestamp(newest)

    @cached_property
    def types_present(self) -> list[str]:
        chosen = self.inputs.technologies[self.inputs.technologies["technology_id"].isin(self.ids)]
        return chosen["type_code"].astype(object).value_counts().index.tolist()

    def profile(self, type_code: str) -> dict[str, pd.DataFrame]:
        """The use-case profile of one technology type within the filtered technologies."""
        if type_code not in self._profiles:
            self._profiles[type_code] = use_case_profile(type_code, self.inputs.technologies, self.inputs.technology_links,
                                                         self.inputs.adoption, self.estimates, self.ids)
        return self._profiles[type_code]

    def evidence(self, technology_id: int, quantity: str) -> tuple[pd.DataFrame, str | None]:
        """The evidence rows behind one estimate, under the estimate's own disclosure rule, and the
        note that says when its survey answers are withheld (or weighted alike)."""
        rows = evidence_for(technology_id, quantity, self.inputs.technologies, self.inputs.adoption, self.inputs.answers,
                            self.inputs.workshop_results, self.inputs.responses, self.settings,
                            respondent_filter=None if self.is_past else self.filters.respondent_filter(),
                            disclosure_threshold=self.threshold, as_of=past_day(self.as_of))
        estimate = self.estimates[(self.estimates["technology_id"] == technology_id) & (self.estimates["quantity"] == quantity)]
        note = str(estimate["survey_note"].iloc[0]) if len(estimate) else ""
        return rows, (note[0].upper() + note[1:] + ".") if note else None

    @cached_property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every view table with codes and suppressed cells in words, by export name (pages and the
        report show each through analysis.labelling.for_people)."""
        technologies = self.inputs.technologies
        named = {
            "headline_figures": pd.DataFrame({"figure": [HEADLINE_LABELS[k] for k in self.headline], "value": list(self.headline.values())}),
            "distribution": self.distribution,
            "adoption_by_region": self.adoption_regions,
            "adoption_region_site_type": self.adoption_heat,
            "equity_gaps": self.equity.counts,
            "equity_gap_technologies": technology_members(self.equity.members, technologies),
        }
        for dimension, cells in self.overview.items():
            named[f"overview_{dimension}"] = cells.counts
        named.update({
            "roadmap_timeline": self.timeline,
            "workforce_impact": self.workforce,
            "training_needs": mark_suppressed(self.training, self.threshold),
            "evidence_gaps": show_withheld(mark_suppressed(self.evidence_gaps, self.threshold), "survey_answers",
                                           self.threshold),
            "estimates": self.estimates_table,
        })
        return named


def compute_analysis(inputs: AnalysisInputs, estimates: pd.DataFrame, settings: BlendSettings, filters: Filters,
                     threshold: int, as_of: pd.Timestamp | str | None = None,
                     history_unknown: pd.DataFrame | None = None) -> RoadmapAnalysis:
    """All view tables for the filtered technologies. ``estimates`` come from :func:`compute_estimates`
    with the same threshold, day and ``filters.respondent_filter()`` (today only). ``as_of`` is the day
    described (default today; a past day needs the inputs of :func:`inputs_on`, whose notes on
    unknown history are ``history_unknown``); it also dates staleness."""
    today = described_day(as_of)
    past = past_day(today)
    respondents = None if past is not None else filters.respondent_filter()
    technologies, links, adoption = inputs.technologies, inputs.technology_links, inputs.adoption
    ids = apply_filters(filters, technologies, links, adoption, estimates)
    return RoadmapAnalysis(
        inputs=inputs,
        settings=settings,
        filters=filters,
        threshold=threshold,
        as_of=today,
        estimates=estimates,
        ids=ids,
        estimates_table=_with_history_notes(estimates_table(technologies, estimates, ids), history_unknown),
        headline=headline_figures(technologies, links, estimates, ids),
        distribution=taxonomy_distribution(technologies, ids),
        adoption_regions=adoption_by_region(adoption, ids),
        adoption_heat=adoption_heatmap(adoption, ids),
        equity=equity_gaps(adoption, ids),
        overview={dimension: overview_matrix(dimension, technologies, links, estimates, ids, across="time_to_deployment")
                  for dimension in OVERVIEW_DIMENSIONS},
        timeline=roadmap_timeline(technologies, estimates, ids),
        workforce=workforce_impact(links, estimates, ids),
        # Training needs count respondents: they follow the respondent filters, never the technology
        # filters (comparing two technology selections could single out a technology's few respondents).
        training=training_needs(inputs.answers, inputs.responses, threshold, respondents, as_of=past),
        evidence_gaps=evidence_gaps(technologies, estimates, ids, as_of=today, threshold=threshold),
        history_unknown=history_unknown if history_unknown is not None else pd.DataFrame(columns=list(UNKNOWN_COLUMNS)),
    )


def _with_history_notes(table: pd.DataFrame, unknown: pd.DataFrame | None) -> pd.DataFrame:
    """The estimates with ``history_note``: why a technology's past evidence may be incomplete."""
    notes = {} if unknown is None or unknown.empty else (
        unknown.groupby("technology_id")["note"].agg(lambda texts: "; ".join(dict.fromkeys(texts))).to_dict())
    return table.assign(history_note=[notes.get(technology_id, "") for technology_id in table["technology_id"]])


def headline_comparison(default: RoadmapAnalysis, changed: RoadmapAnalysis) -> pd.DataFrame:
    """Headline figures under the default settings and under changed ones (sensitivity panel)."""
    return pd.DataFrame({
        "figure": [HEADLINE_LABELS[k] for k in default.headline],
        "default_settings": list(default.headline.values()),
        "your_settings": [changed.headline[k] for k in default.headline],
    }).assign(change=lambda t: t["your_settings"] - t["default_settings"])


# --- labels ------------------------------------------------------------------------------------


def load_labels(engine: Engine) -> dict[str, dict[str, str]]:
    """Display labels of every vocabulary (vocabulary -> code -> label)."""
    with read_session(engine) as session:
        return {name: labels(session, name) for name in set(SEEDED_VOCABULARIES) | set(EDITABLE_VOCABULARIES)}


# --- report ------------------------------------------------------------------------------------

REPORT_CSS = """
body { font-family: Arial, Helvetica, sans-serif; color: #212B32; margin: 2rem auto; max-width: 1200px; line-height: 1.45; }
h1 { color: #005EB8; } h2 { color: #005EB8; border-bottom: 2px solid #005EB8; padding-bottom: .2rem; margin-top: 2.5rem; }
table { border-collapse: collapse; font-size: 12px; margin: .8rem 0; }
th, td { border: 1px solid #D8DDE0; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #F0F4F5; }
.stamp td:first-child { font-weight: bold; white-space: nowrap; }
.demo { background: #FFF3CD; border: 1px solid #ED8B00; padding: .6rem 1rem; }
.note { color: #425563; font-size: 13px; }
.casestudy { border: 1px solid #D8DDE0; padding: .6rem 1rem; margin: 1rem 0; }
.usertext { white-space: pre-wrap; }
.method pre { background: #F0F4F5; padding: .6rem; overflow-x: auto; }
.chart { break-inside: avoid; page-break-inside: avoid; margin: 1rem 0; }
.tablewrap { overflow-x: auto; }
@media print {
  body { margin: 0; max-width: none; }
  nav { display: none; }
  h2 { break-before: page; page-break-before: always; }
  h3, h4 { break-after: avoid; page-break-after: avoid; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  .tablewrap { overflow: visible; }
}
"""
SECTIONS = [
    ("distribution", "1. Distribution"),
    ("profiles", "2. Use-case profiles"),
    ("spread", "3. Spread of adoption"),
    ("overview", "4. AI overview"),
    ("timeline", "5. Roadmap timeline"),
    ("workforce", "6. Workforce impact"),
    ("evidence", "7. Evidence base"),
    ("case-studies", "8. Case studies"),
    ("estimates", "Estimates"),
    ("track-record", "Track record"),
    ("method", "Method"),
]
MAX_REPORT_ROWS = 5_000


class _Writer:
    """Collects the report's HTML parts; every text goes through ``html.escape``, every table
    through ``label.table`` (labels, plain headings, percentages, dates)."""

    def __init__(self, label: Labeller) -> None:
        self.parts: list[str] = []
        self._charts = 0
        self._label = label

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    def text(self, tag: str, text: object, css_class: str | None = None) -> None:
        attribute = f' class="{css_class}"' if css_class else ""
        self.add(f"<{tag}{attribute}>{html.escape(str(text))}</{tag}>")

    def chart(self, figure: go.Figure) -> None:
        self._charts += 1
        self.add('<div class="chart">' + figure.to_html(include_plotlyjs=False, full_html=False, div_id=f"chart-{self._charts}",
                                                        config={"displaylogo": False}) + "</div>")

    def table(self, frame: pd.DataFrame, caption: str | None = None, **for_people) -> None:
        """A table as people read it; ``for_people`` are options of analysis.labelling.for_people."""
        if caption:
            self.text("p", caption, "note")
        if frame.empty:
            self.text("p", "No rows for the current filters.", "note")
            return
        shown = self._label.table(frame.head(MAX_REPORT_ROWS), **for_people)
        self.add('<div class="tablewrap">' + shown.to_html(index=False, escape=True, na_rep="–", border=0,
                                                         float_format=lambda v: f"{v:.3g}") + "</div>")
        if len(frame) > len(shown):
            self.text("p", f"First {len(shown)} of {len(frame)} rows; the full table is in the CSV/XLSX export.", "note")


def _stamp_rows(analysis: RoadmapAnalysis, generated_at: dt.datetime, label: Labeller) -> list[tuple[str, str]]:
    newest = analysis.newest_evidence
    rows = [
        ("Generated", generated_at.strftime("%Y-%m-%d %H:%M UTC")),
        ("The roadmap", analysis.as_of_text),
        ("Data date (newest evidence)", newest.strftime("%Y-%m-%d") if newest is not None else "no dated evidence"),
        ("Data version", str(analysis.inputs.data_version)),
        ("Technologies in this report", f"{len(analysis.ids)} of {len(analysis.inputs.technologies)}"),
        ("Filters", describe_filters(analysis.filters, label)),
        ("Blending settings", "the defaults (table below)" if analysis.settings == BlendSettings()
         else "changed from the defaults (table below)"),
        ("Disclosure threshold", f"respondent counts below {analysis.threshold} are suppressed, with the cells that would reveal them"),
        ("Staleness", f"an entry is stale when its last review is more than a year before {analysis.as_of:%Y-%m-%d}"),
    ]
    if analysis.is_past:
        unknown = analysis.history_unknown["technology_id"].nunique()
        rows += [
            ("Evidence as of that day", "survey answers submitted by then (released in steps of at least "
             f"{analysis.threshold} respondents per technology, counted back from today), workshop rounds closed by then, "
             "each site's adoption record in force then, and the catalogue entry as it stood then"),
            ("History not known", f"{unknown} technologies have evidence changed since, or older than the catalogue's history "
             "(listed with the estimates)" if unknown else "none: every source's history is known"),
        ]
    return rows


def _distribution(out: _Writer, analysis: RoadmapAnalysis, label: Labeller) -> None:
    out.table(analysis.tables["headline_figures"])
    out.chart(charts.distribution_figure(analysis.distribution, label))
    out.table(analysis.distribution)


def _profiles(out: _Writer, analysis: RoadmapAnalysis, label: Labeller) -> None:
    out.text("p", "Shares of multi-valued fields (workforce groups, clinical areas, points of care) are of the technologies "
                  "of the type, and can add up to more than 100% because a technology can have several.", "note")
    for type_code in analysis.types_present:
        profile = analysis.profile(type_code)
        out.text("h3", label("technology_type", type_code))
        out.chart(charts.share_bar_figure(profile["workforce_groups"], "workforce_group", "workforce_group",
                                          "Top workforce groups", label, multi_valued=True))
        out.chart(charts.share_bar_figure(profile["points_of_care"], "point_of_care", "point_of_care", "Point of care",
                                          label, multi_valued=True))
        for key, caption in (("workforce_groups", "Top workforce groups"), ("clinical_areas", "Top clinical areas"),
                             ("points_of_care", "Point of care"), ("time_to_deployment", "Time to deployment (blended)"),
                             ("regions", "Regions by live or scaled sites (leading region first)")):
            out.table(profile[key], caption)


def _spread(out: _Writer, analysis: RoadmapAnalysis, label: Labeller) -> None:
    out.chart(charts.region_tile_figure(analysis.adoption_regions, s.LIVE_STATUSES, label))
    out.chart(charts.adoption_heatmap_figure(analysis.adoption_heat, "live", label))
    out.table(analysis.adoption_regions, "Sites by region and current status")
    out.chart(charts.equity_figure(analysis.equity, label))
    tables = analysis.tables
    out.table(tables["equity_gaps"], "Equity of access: live elsewhere but not here")
    out.table(tables["equity_gap_technologies"], "The technologies behind each gap")


def _overview(out: _Writer, analysis: RoadmapAnalysis, label: Labeller) -> None:
    for dimension, cells in analysis.overview.items():
        out.text("h3", OVERVIEW_DIMENSIONS[dimension])
        out.chart(charts.overview_heatmap_figure(cells, dimension, label))
        out.chart(charts.ranked_bar_figure(cells, dimension, label))
        out.table(cells.counts, "Technologies per cell (a technology counts once per linked code)", **overview_for_people(dimension))


def _timeline(out: _Writer, analysis: RoadmapAnalysis, label: Labeller) -> None:
    out.chart(charts.timeline_figure(analysis.timeline, label))
    out.table(analysis.timeline)


def _workforce(out: _Writer, analysis: RoadmapAnalysis, label: Labeller) -> None:
    out.chart(charts.workforce_figure(analysis.workforce, label))
    out.chart(charts.minutes_figure(analysis.workforce, label))
    out.table(analysis.workforce)
    out.chart(charts.training_figure(analysis.training, label, analysis.threshold))
    out.table(analysis.tables["training_needs"], "Training received and needed by archetype (respondents; small counts suppressed)")


def _evidence(out: _Writer, analysis: RoadmapAnalysis, label: Labeller) -> None:
    out.chart(charts.evidence_gap_figure(analysis.evidence_gaps, label))
    out.table(analysis.tables["evidence_gaps"], "Technologies ranked by missing evidence (most missing first)")


def _case_studies(out: _Writer, case_studies: Sequence[CaseStudyRecord]) -> None:
    if not case_studies:
        out.text("p", "No case study has been written yet.", "note")
    for case in case_studies:
        out.add('<div class="casestudy">')
        out.text("h3", case.title)
        out.add("<table>")
        for name, value in (("Technology", case.technology_name or "–"), ("Sites", "; ".join(case.sites) or "–"),
                            ("Evidence", "; ".join(link.description for link in case.evidence) or "–"),
                            ("Last changed", f"{case.updated_at:%Y-%m-%d}")):
            out.add(f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>")
        out.add("</table>")
        for heading, body in (("Method", case.method), ("Findings", case.findings)):
            out.text("h4", heading)
            out.text("p", body or "–", "usertext")
        out.add("</div>")


def _estimates(out: _Writer, analysis: RoadmapAnalysis, label: Labeller) -> None:
    out.table(estimates_with_withheld(analysis.tables["estimates"], analysis.threshold),
              f"Point estimate and 90% interval per technology and quantity. Survey evidence from fewer than {analysis.threshold} "
              "respondents is left out of an estimate, which then rests on the desk assessment, sites and workshops.",
              **ESTIMATES_FOR_PEOPLE)


def _track_record(out: _Writer, track: TrackRecord | None, label: Labeller) -> None:
    if track is None:
        out.text("p", "The track record was not computed for this report (the command line's `roadmap report` includes it).", "note")
        return
    out.text("p", "Every month-end, the roadmap made a call on each technology's time to deployment at scale (its blended "
                  f"estimate as of that day). Rule for reaching scale: {track.rule.describe()}. Calls are counted per "
                  "technology and month, so one technology contributes a call each month.", "note")
    out.chart(charts.track_record_figure(track.by_band, label))
    out.table(track.by_band, "Calls per horizon band and what came of them")
    out.chart(charts.reliability_figure(track.reliability))
    out.table(track.reliability, "Predicted chance of scale within a year, grouped, against how often it came (calls whose year has passed)")


def build_report(analysis: RoadmapAnalysis, case_studies: Sequence[CaseStudyRecord],
                 vocabulary_labels: Mapping[str, Mapping[str, str]] | None = None, *,
                 generated_at: dt.datetime | None = None, method_text: str | None = None,
                 track: TrackRecord | None = None) -> str:
    """The printable, self-contained HTML report (one file, works offline)."""
    label = Labeller(vocabulary_labels)
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    out = _Writer(label)
    out.text("h1", "AI Workforce Roadmap: analysis report")
    if analysis.inputs.contains_demo:
        out.text("p", "This report contains demonstration data: records named “Demo: …” are synthetic and describe no real product.", "demo")
    out.add('<table class="stamp">')
    for name, value in _stamp_rows(analysis, generated_at, label):
        out.add(f"<tr><td>{html.escape(name)}</td><td>{html.escape(value)}</td></tr>")
    out.add("</table>")
    out.table(settings_for_people(analysis.settings), "Blending settings used, beside the defaults (docs/method.md explains them).")
    out.add("<nav><h2>Contents</h2><ol>" + "".join(
        f'<li><a href="#{anchor}">{html.escape(title)}</a></li>' for anchor, title in SECTIONS) + "</ol></nav>")
    writers: dict[str, Callable[[], None]] = {
        "distribution": lambda: _distribution(out, analysis, label),
        "profiles": lambda: _profiles(out, analysis, label),
        "spread": lambda: _spread(out, analysis, label),
        "overview": lambda: _overview(out, analysis, label),
        "timeline": lambda: _timeline(out, analysis, label),
        "workforce": lambda: _workforce(out, analysis, label),
        "evidence": lambda: _evidence(out, analysis, label),
        "case-studies": lambda: _case_studies(out, case_studies),
        "estimates": lambda: _estimates(out, analysis, label),
        "track-record": lambda: _track_record(out, track, label),
        "method": lambda: out.add('<div class="method">' + markdown_to_html(
            method_text if method_text is not None else METHOD_PAGE.read_text(encoding="utf-8")) + "</div>"),
    }
    for anchor, title in SECTIONS:
        out.add(f'<section id="{anchor}">')
        out.text("h2", title)
        if analysis.is_empty and anchor not in ("case-studies", "track-record", "method"):
            out.text("p", "No technologies match the filters of this report.", "note")
        else:
            writers[anchor]()
        out.add("</section>")
    head = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>AI Workforce Roadmap: analysis report</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{REPORT_CSS}</style>'
            f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>')
    return head + "\n".join(out.parts) + "</body></html>\n"


def roadmap_analysis(inputs: AnalysisInputs, history: pd.DataFrame | None, settings: BlendSettings, filters: Filters,
                     threshold: int, day: pd.Timestamp | str | None = None) -> RoadmapAnalysis:
    """Every view for one day: today's (``day`` None or today) or a past day's, rebuilt from the
    catalogue history. Respondent filters apply to today's figures only."""
    on_day, unknown = inputs_on(inputs, history, day)
    respondents = None if past_day(day) is not None else filters.respondent_filter()
    estimates = compute_estimates(on_day, settings, threshold, respondents, as_of=day)
    return compute_analysis(on_day, estimates, settings, filters, threshold, as_of=day, history_unknown=unknown)


@dataclass(frozen=True)
class DayEstimates:
    """Every technology's estimates for one day with their names and types: what `roadmap estimates
    export` writes. The same table as :func:`roadmap_analysis` gives without filters, without
    computing its views (at national scale the training needs alone read every answer)."""

    as_of: pd.Timestamp
    table: pd.DataFrame

    @property
    def as_of_text(self) -> str:
        return day_text(self.as_of)


def estimates_on_day(inputs: AnalysisInputs, history: pd.DataFrame | None, settings: BlendSettings, threshold: int,
                     day: pd.Timestamp | str | None = None) -> DayEstimates:
    """Today's (``day`` None or today) or a past day's estimates of every technology."""
    on_day, unknown = inputs_on(inputs, history, day)
    estimates = compute_estimates(on_day, settings, threshold, None, as_of=day)
    every = on_day.technologies["technology_id"]
    return DayEstimates(described_day(day), _with_history_notes(estimates_table(on_day.technologies, estimates, every), unknown))


@dataclass(frozen=True)
class Comparison:
    """What changed between two days: the estimates that moved and the evidence per month."""

    first: pd.Timestamp
    last: pd.Timestamp
    changes: pd.DataFrame
    by_month: pd.DataFrame


def compare_days(inputs: AnalysisInputs, history: pd.DataFrame | None, settings: BlendSettings, threshold: int,
                 first: pd.Timestamp | str, last: pd.Timestamp | str) -> Comparison:
    """Estimates as of ``first`` against those as of ``last`` (analysis.changes), disclosure-safe."""
    first, last = pd.Timestamp(first).normalize(), pd.Timestamp(last).normalize()
    if first >= last:
        raise ValueError(f"the first day ({first:%Y-%m-%d}) must be before the second ({last:%Y-%m-%d})")
    sides = []
    for day in (first, last):
        on_day, _unknown = inputs_on(inputs, history, day)
        sides.append(compute_estimates(on_day, settings, threshold, None, as_of=day))
    changes = changed_estimates(*sides, evidence_between(inputs.frames(), history, first, last), threshold)
    names = inputs.technologies.set_index("technology_id")["name"]
    changes.insert(1, "name", changes["technology_id"].map(names).astype(object))
    # The survey timeline counts responses whose answers the later estimates use: withheld ones never show.
    published = sides[1].loc[sides[1]["n_survey"] > 0, ["technology_id", "quantity"]]
    return Comparison(first, last, changes, evidence_by_month(inputs.frames(), history, first, last, threshold, published))


@dataclass(frozen=True)
class TrackRecord:
    """The roadmap judging itself: every monthly call on time to deployment and what came of it."""

    rule: ScaleRule
    calls: pd.DataFrame
    by_band: pd.DataFrame
    reliability: pd.DataFrame


def track_record(inputs: AnalysisInputs, history: pd.DataFrame | None, settings: BlendSettings, threshold: int,
                 rule: ScaleRule | None = None, today: pd.Timestamp | str | None = None) -> TrackRecord:
    """Each month-end's blended time to deployment (as of that day) against the day each technology
    reached scale under ``rule`` (analysis.track_record)."""
    rule = rule or ScaleRule()
    today = pd.Timestamp(today).normalize() if today is not None else pd.Timestamp.now().normalize()
    calls = []
    # Only time to deployment is judged: its answers (and how often each respondent uses the
    # technology, which weighs them) are all the survey evidence a call needs.
    needed = inputs.answers["variable"].astype(object).isin([s.SURVEY_VARIABLE["time_to_deployment"], s.VAR_USE_FREQUENCY])
    judged = replace(inputs, answers=inputs.answers[needed.to_numpy()])
    for day in month_ends(_first_evidence_day(inputs, history), today):
        on_day, _unknown = inputs_on(judged, history, day)
        estimates = compute_estimates(on_day, settings, threshold, None, as_of=day)
        horizon = estimates[estimates["quantity"] == "time_to_deployment"]
        calls.append(pd.DataFrame({"day": day, "technology_id": horizon["technology_id"].to_numpy(),
                                   "horizon": horizon["point"].to_numpy(),
                                   "p_within_year": (horizon["p_at_scale"] + horizon["p_within_1y"]).to_numpy()}))
    calls = pd.concat(calls, ignore_index=True) if calls else pd.DataFrame(columns=["day", "technology_id", "horizon", "p_within_year"])
    known, _unknown = inputs_on(inputs, history, today)  # judged on the adoption known that day
    classified = classify_calls(calls, scale_dates(known.adoption, rule), today)
    return TrackRecord(rule, classified, track_record_table(classified), reliability(classified))


def _first_evidence_day(inputs: AnalysisInputs, history: pd.DataFrame | None) -> pd.Timestamp:
    """The earliest dated evidence: the first call is made at the end of its month."""
    dates = [inputs.responses["submitted_at"].min(), inputs.workshop_results["closed_at"].min()]
    if history is not None and not history.empty:
        dates.append(pd.to_datetime(history["recorded_at"]).min())
    dates = [pd.Timestamp(d).tz_localize(None) if pd.Timestamp(d).tzinfo else pd.Timestamp(d) for d in dates if not pd.isna(d)]
    return min(dates) if dates else pd.Timestamp.now().normalize()


def report_for_database(engine: Engine, *, settings: BlendSettings | None = None, filters: Filters | None = None,
                        threshold: int | None = None, as_of: pd.Timestamp | str | None = None,
                        with_track_record: bool = True) -> tuple[str, RoadmapAnalysis]:
    """Read everything, compute and build the report (for the command line), as of a day (default today)."""
    threshold = disclosure_threshold() if threshold is None else threshold
    inputs = load_analysis_inputs(engine)
    history = load_catalogue_history(engine)
    settings = settings or BlendSettings()
    analysis = roadmap_analysis(inputs, history, settings, filters or Filters(), threshold, as_of)
    track = track_record(inputs, history, settings, threshold, today=as_of) if with_track_record else None
    return build_report(analysis, list_case_studies(engine), load_labels(engine), track=track), analysis


# --- a minimal, safe markdown renderer for the method page ---------------------------------------

_INLINE_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")


def _inline(text: str) -> str:
    """Escape first, then add code, bold and italic: no markup from the source survives."""
    escaped = html.escape(text)
    escaped = _INLINE_CODE.sub(r"<code>\1</code>", escaped)
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    return _ITALIC.sub(r"<em>\1</em>", escaped)


def _table_cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def markdown_to_html(markdown: str) -> str:
    """Headings, paragraphs, bullet lists, indented code blocks and pipe tables, all escaped.

    Deliberately small: enough for docs/method.md. Raw HTML in the source is shown as text.
    """
    lines = markdown.splitlines()
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append("<p>" + _inline(" ".join(paragraph)) + "</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>")
            items.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            flush()
        elif line.startswith("    ") and not paragraph and not items:
            block = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                block.append(lines[i][4:])
                i += 1
            out.append("<pre>" + html.escape("\n".join(block).rstrip("\n")) + "</pre>")
            continue
        elif heading := re.match(r"^(#{1,6})\s+(.*)$", stripped):
            flush()
            level = min(len(heading.group(1)) + 2, 6)  # the report's own h1/h2 come first
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif stripped.startswith("|") and i + 1 < len(lines) and re.match(r"^\|?[\s:|-]+\|?$", lines[i + 1].strip()):
            flush()
            header = _table_cells(stripped)
            i += 2
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_table_cells(lines[i]))
                i += 1
            out.append("<table><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in header) + "</tr>" + "".join(
                "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in rows) + "</table>")
            continue
        elif re.match(r"^[*-]\s+", stripped):
            if paragraph:
                flush()
            items.append(re.sub(r"^[*-]\s+", "", stripped))
        elif items and line.startswith("  "):
            items[-1] += " " + stripped  # continuation of a list item
        else:
            if items:
                flush()
            paragraph.append(stripped)
        i += 1
    flush()
    return "\n".join(out)
