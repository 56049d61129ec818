"""The printable report (streamlit_app.report.build_report) and the analysis commands
(`roadmap estimates export`, `roadmap report`)."""

from __future__ import annotations

import datetime as dt
import html
import io
import re

import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from analysis.blending import BlendSettings
from analysis.labelling import with_fixed_labels
from analysis.views import Filters
from storage.analysis_inputs import assemble_inputs
from storage.case_studies import CaseStudyRecord, EvidenceLink
from storage.catalogue import TechnologyInput, create_technology
from storage.db import make_engine, read_session
from storage.demo import load_demo_catalogue
from storage.models.accounts import AuditEvent
from streamlit_app.cli import main
from streamlit_app.report import SECTIONS, build_report, compute_analysis, compute_estimates, load_labels, markdown_to_html
from tests.test_report_inputs import world

GENERATED = dt.datetime(2026, 6, 2, 9, 30, tzinfo=dt.UTC)
PLOTLY_BANNER = "* plotly.js v"
HOSTILE = "<script>alert('x')</script> & \"friends\""


def case_study(title: str = HOSTILE) -> CaseStudyRecord:
    stamp = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    return CaseStudyRecord(
        case_study_id=1, title=title, technology_id=1, technology_name="Alpha <b>bold</b>", sites=("St Elsewhere (london)",),
        site_ids=(10,), method="Line one\n<img src=x onerror=alert(1)>", findings="Saved **time**",
        evidence=(EvidenceLink("workshop", 3, "Panel <i>one</i>"),), author_user_id="user:1", is_demo=False,
        created_at=stamp, updated_at=stamp)


def report(threshold: int = 5, settings: BlendSettings | None = None, filters: Filters | None = None, demo: bool = False,
           case_studies=None) -> tuple[str, object]:
    frames = world()
    if demo:
        frames["technologies"] = frames["technologies"].assign(is_demo=True)
    inputs = assemble_inputs(frames, version=42)
    settings = settings or BlendSettings()
    analysis = compute_analysis(inputs, compute_estimates(inputs, settings), settings, filters or Filters(), threshold)
    studies = [case_study()] if case_studies is None else case_studies
    return build_report(analysis, studies, {"technology_type": {"diagnostics": "Diagnostics"}}, generated_at=GENERATED,
                        method_text="# Method\n\nPlain **words** and <em>raw html</em>."), analysis


def test_the_report_has_every_section_and_embeds_plotly_once() -> None:
    content, _ = report()
    for anchor, title in SECTIONS:
        assert f'<section id="{anchor}">' in content
        assert f"<h2>{html.escape(title)}</h2>" in content
    assert content.startswith("<!DOCTYPE html>")
    assert content.count(PLOTLY_BANNER) == 1  # the library, once, inside the file
    assert not re.search(r"<script[^>]*\ssrc=", content)  # offline: no script is fetched
    assert "@media print" in content
    assert content.count('class="chart"') >= 10


def test_case_study_text_is_escaped_everywhere() -> None:
    content, _ = report()
    assert "<script>alert('x')</script>" not in content
    assert html.escape(HOSTILE) in content
    assert "<img src=x" not in content and "&lt;img src=x onerror=alert(1)&gt;" in content
    assert "Alpha &lt;b&gt;bold&lt;/b&gt;" in content
    assert "Panel &lt;i&gt;one&lt;/i&gt;" in content
    assert "Saved **time**" in content  # user text is not markdown either


def test_the_stamp_names_data_date_version_settings_threshold_and_filters() -> None:
    settings = BlendSettings(prior_strength=7.5, workshop_weight=4)
    content, analysis = report(threshold=3, settings=settings, filters=Filters(type_codes=["diagnostics"]))
    stamp = content[content.index('<table class="stamp">'):content.index("</table>", content.index('<table class="stamp">'))]
    assert "2026-06-02 09:30 UTC" in stamp
    # Newest evidence: the newest answer used (Alpha's 5th respondent, 2026-02-05). Beta's two
    # respondents answered later (2026-02-07 and 08), but their answers are withheld, dates too.
    assert analysis.newest_evidence == pd.Timestamp("2026-02-05")
    assert "<td>Data date (newest evidence)</td><td>2026-02-05</td>" in stamp
    assert "<td>Data version</td><td>42</td>" in stamp
    assert "<td>Blending settings</td><td>changed from the defaults (table below)</td>" in stamp
    assert "respondent counts below 3 are suppressed" in stamp
    assert "<td>Filters</td><td>technology type: Diagnostics</td>" in stamp
    # The settings: a table of each one, the value used beside the default.
    after_stamp = content.index("</table>", content.index('<table class="stamp">')) + len("</table>")
    settings_table = content[after_stamp:content.index("</table>", after_stamp)]
    rows = {cells[0]: cells[1:4] for cells in (re.findall(r"<td>(.*?)</td>", row, flags=re.DOTALL)
                                               for row in settings_table.split("<tr>")) if cells}
    assert rows["Prior strength (pseudo-responses the desk assessment is worth)"] == ["7.5", "3", "changed"]
    assert rows["Responses a workshop consensus counts as"] == ["4", "10", "changed"]
    assert rows["Weight of an answer from a user of the technology"] == ["1", "1", ""]
    assert rows["Seed of the bootstrap"] == ["20240501", "20240501", ""]
    assert "<td>Technologies in this report</td><td>2 of 3</td>" in stamp
    assert "demonstration data" not in content


def test_demonstration_data_is_announced() -> None:
    content, _ = report(demo=True)
    assert "This report contains demonstration data" in content


def test_the_report_shows_no_respondent_count_below_the_threshold() -> None:
    content, analysis = report(threshold=5)
    # Beta's two minutes answers: withheld in words, and its median (-5.0) is not printed.
    estimates = content[content.index('<section id="estimates">'):content.index('<section id="method">')]
    rows = re.findall(r"<tr>\s*<td>2</td>\s*<td>Beta</td>(.*?)</tr>", estimates, flags=re.DOTALL)
    minutes = [row for row in rows if "Staff minutes per case" in row]
    assert len(minutes) == 1 and "withheld (&lt;5)" in minutes[0] and "-5" not in minutes[0]
    assert "survey evidence withheld: fewer than 5 respondents" in minutes[0]
    for name, table in analysis.tables.items():
        for column in ("n_survey", "survey_answers", "received", "needed", "respondents"):
            if column in table:
                counts = pd.to_numeric(table[column], errors="coerce").dropna()
                assert ((counts == 0) | (counts >= 5)).all(), (name, column)


def test_an_empty_selection_still_gives_a_report_saying_so() -> None:
    content, analysis = report(filters=Filters(type_codes=["automation"], clinical_areas=["radiology"]), case_studies=[])
    assert analysis.is_empty
    # every section but the case studies, the track record and the method, which do not depend on the filters
    assert content.count("No technologies match the filters of this report.") == len(SECTIONS) - 3
    assert "No case study has been written yet." in content


def test_markdown_renderer_is_small_and_safe() -> None:
    rendered = markdown_to_html("# Title\n\nSome `code` and **bold** and *it*.\n\n* one\n  continued\n* two\n\n"
                                "| a | b |\n|---|---|\n| <x> | 2 |\n\n    α = b + s\n\n<script>bad()</script>\n")
    assert "<h3>Title</h3>" in rendered
    assert "<p>Some <code>code</code> and <strong>bold</strong> and <em>it</em>.</p>" in rendered
    assert "<ul><li>one continued</li><li>two</li></ul>" in rendered
    assert "<table><tr><th>a</th><th>b</th></tr><tr><td>&lt;x&gt;</td><td>2</td></tr></table>" in rendered
    assert "<pre>α = b + s</pre>" in rendered
    assert "<script>" not in rendered and "&lt;script&gt;bad()&lt;/script&gt;" in rendered


def test_the_real_method_page_renders() -> None:
    from streamlit_app.report import METHOD_PAGE

    rendered = markdown_to_html(METHOD_PAGE.read_text(encoding="utf-8"))
    assert "<h3>How the roadmap" in rendered
    assert rendered.count("<table>") >= 2


# --- command line ----------------------------------------------------------------------------------


@pytest.fixture
def catalogue_url(sqlite_url: str) -> str:
    engine = make_engine(sqlite_url)
    load_demo_catalogue(engine, count=8)
    create_technology(engine, TechnologyInput(name="=HYPERLINK(\"http://x\")", type_code="other"))
    engine.dispose()
    return sqlite_url


def exports_audited(url: str) -> list[tuple[str, dict]]:
    with read_session(make_engine(url)) as session:
        return [(e.target, e.details) for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "export"))]


def test_estimates_export_csv_is_formula_safe_and_audited(catalogue_url: str, tmp_path, capsys) -> None:
    path = tmp_path / "estimates.csv"
    assert main(["estimates", "export", str(path), "--database-url", catalogue_url, "--json"]) == 0
    printed = capsys.readouterr().out
    assert '"rows": 54' in printed and '"technologies": 9' in printed and '"disclosure_threshold": 5' in printed
    frame = pd.read_csv(path, encoding="utf-8-sig")
    assert len(frame) == 9 * 6
    assert frame["quantity"].value_counts().to_dict() == {q: 9 for q in frame["quantity"].unique()}
    assert "'=HYPERLINK(\"http://x\")" in set(frame["name"])
    assert exports_audited(catalogue_url) == [("estimates", {"format": "csv", "rows": 54, "as_of": f"{dt.date.today():%Y-%m-%d}"})]


def test_estimates_export_xlsx(catalogue_url: str, tmp_path) -> None:
    path = tmp_path / "estimates.xlsx"
    assert main(["estimates", "export", str(path), "--database-url", catalogue_url]) == 0
    sheet = load_workbook(io.BytesIO(path.read_bytes())).active
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert header[:4] == ["technology_id", "name", "type_code", "quantity"] and sheet.max_row == 1 + 54


def test_estimates_export_with_labels_keeps_every_code_and_puts_its_label_beside_it(catalogue_url: str, tmp_path) -> None:
    plain, labelled = tmp_path / "plain.csv", tmp_path / "labelled.csv"
    assert main(["estimates", "export", str(plain), "--database-url", catalogue_url]) == 0
    assert main(["estimates", "export", str(labelled), "--database-url", catalogue_url, "--labels"]) == 0
    codes, both = (pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False) for path in (plain, labelled))
    assert [c for c in both.columns if not c.endswith("_label")] == list(codes.columns)  # nothing else changes
    pd.testing.assert_frame_equal(both[list(codes.columns)], codes)
    for column in ("type_code", "quantity", "point", "lower", "upper"):
        assert list(both.columns).index(f"{column}_label") == list(both.columns).index(column) + 1
    rows = both.set_index(["technology_id", "quantity"])
    horizon = rows.xs("time_to_deployment", level="quantity").iloc[0]
    labels = with_fixed_labels(load_labels(make_engine(catalogue_url)))
    assert horizon["quantity_label"] == labels["quantity"]["time_to_deployment"] != "time_to_deployment"
    assert horizon["point_label"] == labels["deployment_horizon"][horizon["point"]] != horizon["point"]
    assert horizon["type_code_label"] == labels["technology_type"][horizon["type_code"]]
    minutes = rows.xs("minutes_per_case", level="quantity")
    assert (minutes["point_label"] == minutes["point"]).all()  # numbers have no label: the value itself


def test_estimates_export_refuses_an_unknown_extension(catalogue_url: str, tmp_path, capsys) -> None:
    assert main(["estimates", "export", str(tmp_path / "estimates.txt"), "--database-url", catalogue_url]) == 1
    assert "name it .csv or .xlsx" in capsys.readouterr().err


def test_a_bad_threshold_setting_stops_the_export(catalogue_url: str, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ROADMAP_DISCLOSURE_THRESHOLD", "0")
    assert main(["estimates", "export", str(tmp_path / "e.csv"), "--database-url", catalogue_url]) == 1
    assert "must be at least 1" in capsys.readouterr().err


def test_report_command_writes_the_html_report(catalogue_url: str, tmp_path, capsys) -> None:
    path = tmp_path / "report.html"
    assert main(["report", str(path), "--database-url", catalogue_url]) == 0
    assert "wrote the report (9 technologies" in capsys.readouterr().out
    content = path.read_text(encoding="utf-8")
    assert all(f'<section id="{anchor}">' in content for anchor, _ in SECTIONS)
    assert "This report contains demonstration data" in content
    assert exports_audited(catalogue_url) == [("report", {"format": "html", "technologies": 9, "as_of": f"{dt.date.today():%Y-%m-%d}"})]
    assert main(["report", str(tmp_path / "report.pdf"), "--database-url", catalogue_url]) == 1


# --- chart exports ---------------------------------------------------------------------------------


def test_chart_html_is_a_self_contained_page() -> None:
    from streamlit_app.charts import Labeller, distribution_figure, figure_html

    _, analysis = report()
    page = figure_html(distribution_figure(analysis.distribution, Labeller()))
    assert page.lower().startswith("<!doctype html>") and page.count(PLOTLY_BANNER) == 1
    assert not re.search(r"<script[^>]*\ssrc=", page)


def test_a_png_failure_becomes_one_clear_message(monkeypatch) -> None:
    import plotly.graph_objects as go

    from streamlit_app.charts import ChartExportError, figure_png

    def broken(self, *args, **kwargs):
        raise RuntimeError("no browser")

    monkeypatch.setattr(go.Figure, "to_image", broken)
    with pytest.raises(ChartExportError, match=r"could not be exported as PNG.*\(RuntimeError\).*HTML and the tables"):
        figure_png(go.Figure())


def test_empty_tables_give_a_figure_that_says_so() -> None:
    from streamlit_app import charts

    _, analysis = report(filters=Filters(type_codes=["automation"], clinical_areas=["radiology"]), case_studies=[])
    label = charts.Labeller()
    for figure in (charts.distribution_figure(analysis.distribution, label), charts.timeline_figure(analysis.timeline, label),
                   charts.workforce_figure(analysis.workforce, label), charts.evidence_gap_figure(analysis.evidence_gaps, label),
                   charts.equity_figure(analysis.equity, label)):
        assert figure.layout.annotations[0].text in ("No data for the current filters.",
                                                     "No technology is live or scaled anywhere for the current filters.")


def test_overview_matrix_cells_carry_their_codes_for_a_click() -> None:
    from analysis.views import CellTable
    from streamlit_app.charts import Labeller, overview_heatmap_figure

    counts = pd.DataFrame({"row": ["radiology", "radiology", "cardiology"],
                           "column": pd.Categorical(["within_1y", None, "over_3y"], categories=["within_1y", "over_3y"]),
                           "technologies": [3, 1, 2]})
    figure = overview_heatmap_figure(CellTable(counts, counts.iloc[:0]), "clinical_area",
                                     Labeller({"clinical_area": {"radiology": "Radiology", "cardiology": "Cardiology"},
                                               "deployment_horizon": {"within_1y": "Within 1 year", "over_3y": "More than 3 years"}}))
    heat, cells = figure.data
    assert heat.hoverinfo == "skip"  # the heatmap reports no click; the cell markers do
    assert list(heat.y) == ["Radiology", "Cardiology"] and list(heat.x) == ["Within 1 year", "More than 3 years", "no estimate"]
    clicked = {tuple(code): (x, y, int(n)) for code, x, y, n in zip(cells.customdata, cells.x, cells.y, cells.text, strict=True)}
    assert clicked == {
        ("radiology", "within_1y"): ("Within 1 year", "Radiology", 3),
        ("radiology", "over_3y"): ("More than 3 years", "Radiology", 0),
        ("radiology", ""): ("no estimate", "Radiology", 1),
        ("cardiology", "within_1y"): ("Within 1 year", "Cardiology", 0),
        ("cardiology", "over_3y"): ("More than 3 years", "Cardiology", 2),
        ("cardiology", ""): ("no estimate", "Cardiology", 0),
    }
    assert figure.layout.hoverdistance == -1  # a click anywhere in a cell snaps to that cell's marker



def test_ranked_bars_carry_their_code_for_a_click() -> None:
    from analysis.views import CellTable
    from streamlit_app.charts import ANY_TIME, Labeller, ranked_bar_figure

    members = pd.DataFrame({"row": ["radiology", "radiology", "radiology", "cardiology"], "column": ["within_1y", "over_3y", None, "over_3y"],
                            "technology_id": [1, 2, 3, 2]})
    counts = members.groupby(["row", "column"], dropna=False).size().rename("technologies").reset_index()
    [bars] = ranked_bar_figure(CellTable(counts, members), "clinical_area", Labeller()).data
    assert [list(code) for code in bars.customdata] == [["cardiology", ANY_TIME], ["radiology", ANY_TIME]]  # drawn bottom-up
    assert list(bars.x) == [1, 3]
