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
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from sqlalchemy import Engine

from analysis import schemas as s
from analysis.blending import BlendSettings, estimate_all, evidence_for
from analysis.disclosure import DEFAULT_THRESHOLD, RespondentFilter
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
    disclosure_threshold,
    load_analysis_inputs,
)
from storage.case_studies import CaseStudyRecord, list_case_studies
from storage.db import read_session
from storage.vocabularies import EDITABLE_VOCABULARIES, SEEDED_VOCABULARIES, labels
from streamlit_app import charts
from streamlit_app.charts import OVERVIEW_DIMENSIONS, Labeller

METHOD_PAGE = Path(__file__).resolve().parent.parent / "docs" / "method.md"
HEADLINE_LABELS = {
    "technologies": "Technologies",
    "deployable_within_year": "Deployable within a year",
    "workforce_groups_affected": "Workforce groups affected",
    "clinical_areas_affected": "Clinical areas affected",
}
REPORT_ESTIMATE_COLUMNS = ["technology_id", "name", "type_code", "quantity", "point", "lower", "upper", "n_catalogue",
                           "n_survey", "n_workshop", "effective_n", "agreement", "strength", "newest_evidence",
                           "survey_note"]


QUANTITY_LABELS = {
    "time_to_deployment": "Time to deployment at scale",
    "impact_workforce": "Impact on the primary workforce group",
    "impact_pathway": "Impact on the pathway",
    "impact_system": "Impact on the system",
    "adoption_stage": "Adoption stage",
    "minutes_per_case": "Staff minutes per case (+ saved, − added)",
}
# Vocabulary whose labels name each quantity's categories (minutes are numbers).
QUANTITY_VOCABULARY = {
    "time_to_deployment": "deployment_horizon",
    "impact_workforce": "impact_level",
    "impact_pathway": "impact_level",
    "impact_system": "impact_level",
    "adoption_stage": "adoption_status",
}
READABLE_ESTIMATE_HEADERS = {
    "technology_id": "ID", "name": "Technology", "type_code": "Type", "quantity": "Quantity", "point": "Estimate",
    "lower": "90% interval from", "upper": "90% interval to", "n_catalogue": "Catalogue evidence",
    "n_survey": "Survey respondents", "n_workshop": "Workshop results", "effective_n": "Weighted evidence",
    "agreement": "Agreement", "strength": "Evidence strength", "newest_evidence": "Newest evidence",
    "survey_note": "Survey evidence",
}


def withheld_text(threshold: int) -> str:
    return f"withheld (<{threshold})"


def show_withheld(table: pd.DataFrame, column: str, threshold: int) -> pd.DataFrame:
    """``table`` with a respondent count for people: "withheld (<N)" where no survey evidence is
    used because disclosure control withheld it (``survey_withheld``)."""
    shown = table[column].astype(object).copy()
    none_used = np.array([isinstance(v, int | np.integer | float) and v == 0 for v in shown], dtype=bool)
    shown[table["survey_withheld"].to_numpy(bool) & none_used] = withheld_text(threshold)
    return table.assign(**{column: shown})


def readable_estimates(table: pd.DataFrame, label: Labeller, threshold: int) -> pd.DataFrame:
    """The estimates table for people: labels instead of codes, plain-English headings, and
    "withheld (<N)" as the survey respondents of an estimate whose survey evidence is left out."""
    readable = table[[c for c in REPORT_ESTIMATE_COLUMNS if c in table.columns]].copy()
    if "survey_withheld" in table:
        readable["n_survey"] = show_withheld(table, "n_survey", threshold)["n_survey"]
    if "type_code" in readable:
        readable["type_code"] = [label("technology_type", code) for code in readable["type_code"]]
    for column in ("point", "lower", "upper"):
        if column in readable and "quantity" in readable:
            readable[column] = [
                label(QUANTITY_VOCABULARY[quantity], value) if quantity in QUANTITY_VOCABULARY and isinstance(value, str) else value
                for quantity, value in zip(readable["quantity"], readable[column], strict=True)
            ]
    if "quantity" in readable:
        readable["quantity"] = readable["quantity"].map(QUANTITY_LABELS).fillna(readable["quantity"])
    return readable.rename(columns=READABLE_ESTIMATE_HEADERS)


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


def compute_estimates(inputs: AnalysisInputs, settings: BlendSettings, threshold: int = DEFAULT_THRESHOLD,
                      respondent_filter: RespondentFilter | None = None) -> pd.DataFrame:
    """Blended estimates of every technology (analysis.blending.estimate_all), disclosure-safe."""
    return estimate_all(inputs.technologies, inputs.technology_links, inputs.adoption, inputs.answers,
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
    as_of: pd.Timestamp
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
    _profiles: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_empty(self) -> bool:
        return len(self.ids) == 0

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
                            respondent_filter=self.filters.respondent_filter(), disclosure_threshold=self.threshold)
        estimate = self.estimates[(self.estimates["technology_id"] == technology_id) & (self.estimates["quantity"] == quantity)]
        note = str(estimate["survey_note"].iloc[0]) if len(estimate) else ""
        return rows, (note[0].upper() + note[1:] + ".") if note else None

    @cached_property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every view table as shown and exported (suppressed cells in words), by export name."""
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
                     threshold: int, as_of: pd.Timestamp | str | None = None) -> RoadmapAnalysis:
    """All view tables for the filtered technologies. ``estimates`` come from :func:`compute_estimates`
    with the same threshold and ``filters.respondent_filter()``; ``as_of`` (default today) dates staleness."""
    today = pd.Timestamp(as_of).normalize() if as_of is not None else pd.Timestamp.now().normalize()
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
        estimates_table=estimates_table(technologies, estimates, ids),
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
        training=training_needs(inputs.answers, inputs.responses, threshold, filters.respondent_filter()),
        evidence_gaps=evidence_gaps(technologies, estimates, ids, as_of=today, threshold=threshold),
    )


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
    ("method", "Method"),
]
MAX_REPORT_ROWS = 5_000


class _Writer:
    """Collects the report's HTML parts; every text goes through ``html.escape``."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self._charts = 0

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    def text(self, tag: str, text: object, css_class: str | None = None) -> None:
        attribute = f' class="{css_class}"' if css_class else ""
        self.add(f"<{tag}{attribute}>{html.escape(str(text))}</{tag}>")

    def chart(self, figure: go.Figure) -> None:
        self._charts += 1
        self.add('<div class="chart">' + figure.to_html(include_plotlyjs=False, full_html=False, div_id=f"chart-{self._charts}",
                                                        config={"displaylogo": False}) + "</div>")

    def table(self, frame: pd.DataFrame, caption: str | None = None) -> None:
        if caption:
            self.text("p", caption, "note")
        if frame.empty:
            self.text("p", "No rows for the current filters.", "note")
            return
        shown = frame.head(MAX_REPORT_ROWS)
        self.add('<div class="tablewrap">' + shown.to_html(index=False, escape=True, na_rep="–", border=0,
                                                         float_format=lambda v: f"{v:.3g}") + "</div>")
        if len(frame) > len(shown):
            self.text("p", f"First {len(shown)} of {len(frame)} rows; the full table is in the CSV/XLSX export.", "note")


def _stamp_rows(analysis: RoadmapAnalysis, generated_at: dt.datetime) -> list[tuple[str, str]]:
    newest = analysis.newest_evidence
    filters = {k: v for k, v in analysis.filters.model_dump().items() if v}
    return [
        ("Generated", generated_at.strftime("%Y-%m-%d %H:%M UTC")),
        ("Data date (newest evidence)", newest.strftime("%Y-%m-%d") if newest is not None else "no dated evidence"),
        ("Data version", str(analysis.inputs.data_version)),
        ("Technologies in this report", f"{len(analysis.ids)} of {len(analysis.inputs.technologies)}"),
        ("Filters", json.dumps(filters, ensure_ascii=False) if filters else "none (all technologies)"),
        ("Blending settings", json.dumps(analysis.settings.model_dump(), ensure_ascii=False)),
        ("Disclosure threshold", f"respondent counts below {analysis.threshold} are suppressed, with the cells that would reveal them"),
        ("Staleness", f"an entry is stale when its last review is more than a year before {analysis.as_of:%Y-%m-%d}"),
    ]


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
        out.table(cells.counts, "Technologies per cell (a technology counts once per linked code)")


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
    out.table(readable_estimates(analysis.tables["estimates"], label, analysis.threshold),
              f"Point estimate and 90% interval per technology and quantity. Survey evidence from fewer than {analysis.threshold} "
              "respondents is left out of an estimate, which then rests on the desk assessment, sites and workshops.")


def build_report(analysis: RoadmapAnalysis, case_studies: Sequence[CaseStudyRecord],
                 vocabulary_labels: Mapping[str, Mapping[str, str]] | None = None, *,
                 generated_at: dt.datetime | None = None, method_text: str | None = None) -> str:
    """The printable, self-contained HTML report (one file, works offline)."""
    label = Labeller(vocabulary_labels)
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    out = _Writer()
    out.text("h1", "AI Workforce Roadmap: analysis report")
    if analysis.inputs.contains_demo:
        out.text("p", "This report contains demonstration data: records named “Demo: …” are synthetic and describe no real product.", "demo")
    out.add('<table class="stamp">')
    for name, value in _stamp_rows(analysis, generated_at):
        out.add(f"<tr><td>{html.escape(name)}</td><td>{html.escape(value)}</td></tr>")
    out.add("</table>")
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
        "method": lambda: out.add('<div class="method">' + markdown_to_html(
            method_text if method_text is not None else METHOD_PAGE.read_text(encoding="utf-8")) + "</div>"),
    }
    for anchor, title in SECTIONS:
        out.add(f'<section id="{anchor}">')
        out.text("h2", title)
        if analysis.is_empty and anchor not in ("case-studies", "method"):
            out.text("p", "No technologies match the filters of this report.", "note")
        else:
            writers[anchor]()
        out.add("</section>")
    head = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>AI Workforce Roadmap: analysis report</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{REPORT_CSS}</style>'
            f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>')
    return head + "\n".join(out.parts) + "</body></html>\n"


def report_for_database(engine: Engine, *, settings: BlendSettings | None = None, filters: Filters | None = None,
                        threshold: int | None = None, as_of: pd.Timestamp | str | None = None) -> tuple[str, RoadmapAnalysis]:
    """Read everything, compute and build the report (for the command line)."""
    settings = settings or BlendSettings()
    inputs = load_analysis_inputs(engine)
    filters = filters or Filters()
    threshold = disclosure_threshold() if threshold is None else threshold
    analysis = compute_analysis(inputs, compute_estimates(inputs, settings, threshold, filters.respondent_filter()), settings,
                                filters, threshold, as_of)
    return build_report(analysis, list_case_studies(engine), load_labels(engine)), analysis


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
