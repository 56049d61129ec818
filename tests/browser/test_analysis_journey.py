"""Journey 3: a lead imports a catalogue file (preview, then confirm), opens the roadmap analysis,
narrows it with a filter, downloads the printable report, clicks a cell of the AI overview's heat
matrix and a ranked bar to list the technologies behind them, opens the evidence behind one estimate
on the Estimates page and downloads it as CSV.

Every screen is saved to test-output/browser/journey3-*.png and checked with axe-core (WCAG 2.2
AA) when it is installed."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from storage.db import make_engine, read_session
from storage.demo import load_demo_catalogue
from storage.demo_evidence import load_demo_evidence
from storage.exports import table_bytes
from storage.migrate import upgrade_to_head
from storage.models.catalogue import Technology
from storage.models.survey import SurveyAnswer
from streamlit_app.report import SECTIONS
from tests.browser.conftest import sign_in, wait_for_app
from tests.browser.journey_checks import JourneyScreens

pytestmark = pytest.mark.browser
DEMO_COUNT = 40
SLOW = 60_000  # the first analysis run computes every estimate
EVIDENCE_HEADER = ["Source", "Reference", "Value", "Weight", "Used", "Note", "Date"]  # plain headings, labels in cells
IMPORTED = pd.DataFrame([
    {"catalogue_id": "JOURNEY-1", "name": "Journey chest X-ray triage", "company": "Journey Imaging Ltd",
     "short_description": "Flags abnormal chest X-rays for priority reporting", "type": "Diagnostics", "subtype": "Imaging",
     "clinical_areas": "Radiology", "workforce_groups": "Medic, Radiology; Radiographer, Radiology",
     "points_of_care": "Secondary care", "time_to_deployment": "Within 1 year", "impact_workforce": "High"},
    {"catalogue_id": "JOURNEY-2", "name": "Journey discharge letter drafting", "company": "Journey Text Ltd",
     "short_description": "Drafts discharge letters from the ward record", "type": "Automation", "subtype": "",
     "clinical_areas": "", "workforce_groups": "", "points_of_care": "Secondary care",
     "time_to_deployment": "More than 3 years", "impact_workforce": "Medium"},
])  # fmt: skip


def prepare_database(url: str) -> tuple[str, int]:
    """A small demo catalogue with its demo evidence; returns the demo diagnostics technology with the
    most survey answers on workforce impact (none of them "don't know") and that number of answers."""
    engine = make_engine(url)
    upgrade_to_head(engine)
    load_demo_catalogue(engine, count=DEMO_COUNT)
    load_demo_evidence(engine)
    impact = SurveyAnswer.variable == "tech_impact_workforce"
    with read_session(engine) as session:
        unsure = select(SurveyAnswer.technology_id).where(impact, SurveyAnswer.value == "dont_know")
        name, answers = session.execute(
            select(Technology.name, func.count(SurveyAnswer.id)).join(SurveyAnswer, SurveyAnswer.technology_id == Technology.id)
            .where(impact, Technology.type_code == "diagnostics", Technology.id.not_in(unsure))
            .group_by(Technology.id, Technology.name).order_by(func.count(SurveyAnswer.id).desc(), Technology.name).limit(1)
        ).one()
    engine.dispose()
    return name, answers


def open_page(page, link: str) -> None:
    more = page.get_by_role("button", name=re.compile(r"^View \d+ more$"))  # the sidebar folds long page lists
    if more.count():
        more.click()
    page.get_by_role("link", name=link).click()
    wait_for_app(page, SLOW)


def choose(page, combobox, option: str) -> None:
    """Type into a searchable select and pick the option with exactly this text."""
    combobox.click()
    combobox.press_sequentially(option[:12], delay=20)
    page.get_by_role("option", name=option, exact=True).first.click()
    page.keyboard.press("Escape")
    wait_for_app(page, SLOW)


def expect_technologies(page, count: int) -> None:
    """The headline count settles on ``count`` (retrying: a rerun replaces the figure)."""
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Technologies").locator("[data-testid='stMetricValue']")
    expect(metric.first).to_have_text(str(count), timeout=SLOW)


def diagnostics_count(url: str) -> int:
    engine = make_engine(url)
    with read_session(engine) as session:
        count = session.scalar(select(func.count()).select_from(Technology).where(Technology.type_code == "diagnostics"))
    engine.dispose()
    return count


def import_catalogue_file(page, screens: JourneyScreens) -> None:
    open_page(page, "Manage catalogue")
    page.get_by_role("tab", name="Import").click()
    page.get_by_role("tabpanel", name="Import").wait_for()
    screens(page, "import-tab")
    upload = page.locator("[data-testid='stFileUploader'] input[type='file']")
    upload.set_input_files(files=[{"name": "journey-catalogue.csv", "mimeType": "text/csv",
                                   "buffer": table_bytes(IMPORTED, "csv")}])
    wait_for_app(page)
    page.get_by_text("(template format, 2 rows): 2 to create, 0 to update, 0 unchanged.", exact=False).wait_for()
    screens(page, "import-preview")
    page.get_by_role("button", name="Confirm import").click()
    page.get_by_text("Imported journey-catalogue.csv: 2 created, 0 updated, 0 unchanged.").wait_for(timeout=SLOW)
    wait_for_app(page)
    screens(page, "import-done")


def click_until_picked(page, chart, element, offset: tuple[float, float], picker, expected: str) -> None:
    """Hover over a chart element, click it, and wait until the page has rerun and the picker
    shows ``expected``. Plotly reports a click only for the point it is hovering, and on a busy
    machine the hover may not be computed when the click lands (then nothing is selected), so
    the click is tried once more."""
    for attempt in range(2):
        element.scroll_into_view_if_needed()
        box = element.bounding_box()
        x, y = box["x"] + box["width"] / 2 + offset[0], box["y"] + box["height"] / 2 + offset[1]
        page.mouse.move(x, y)
        chart.locator(".hoverlayer .hovertext").first.wait_for(timeout=10_000)
        page.mouse.click(x, y)
        try:
            expect(picker).to_have_value(expected, timeout=SLOW if attempt else 15_000)
            break
        except AssertionError:
            if attempt:
                raise
    wait_for_app(page, SLOW)


def click_overview_cell(page, screens: JourneyScreens) -> None:
    """Click a heat-matrix cell, then a ranked bar, on the AI overview: the picker follows each click
    and the CSV of the technologies behind it has one row per technology counted there."""
    page.get_by_role("tab", name="AI overview").click()
    wait_for_app(page, SLOW)
    matrix = page.locator(".st-key-chart_overview_heat_clinical_area")
    cells = matrix.locator(".scatterlayer path.point")
    cells.first.wait_for(state="attached")
    drawn = matrix.locator(".js-plotly-plot").evaluate(
        "plot => ({x: plot.data[1].x, y: plot.data[1].y, n: Array.from(plot.data[1].text, Number)})")
    picker = page.locator(".st-key-overview_cell_clinical_area").get_by_role("combobox")
    default = picker.input_value()
    # The last non-empty cell that the picker does not already show, so the click has to move it.
    index = max(i for i, n in enumerate(drawn["n"])
                if n > 0 and not default.startswith(f"{drawn['y'][i]} × {drawn['x'][i]}:"))
    count = drawn["n"][index]
    click_until_picked(page, matrix, cells.nth(index), (25, 5),  # off-centre, still in the cell
                       picker, f"{drawn['y'][index]} × {drawn['x'][index]}: {count} technolog{'y' if count == 1 else 'ies'}")
    page.locator(".st-key-dl_overview_members_csv").scroll_into_view_if_needed()
    screens(page, "overview-cell")
    with page.expect_download() as members_download:
        page.locator(".st-key-dl_overview_members_csv").get_by_role("button", name="Table (CSV)").click()
    members = pd.read_csv(io.BytesIO(members_download.value.path().read_bytes()), encoding="utf-8-sig")
    assert len(members) == count and members["ID"].is_unique

    # A ranked bar stands for a whole row: its technologies at any time to deployment.
    bars_chart = page.locator(".st-key-chart_overview_ranked_clinical_area")
    bars = bars_chart.locator(".barlayer .point path")
    bars.first.wait_for(state="attached")
    drawn = bars_chart.locator(".js-plotly-plot").evaluate("plot => ({y: Array.from(plot.data[0].y), n: Array.from(plot.data[0].x, Number)})")
    index = len(drawn["n"]) - 2  # the second-longest bar (bars are drawn bottom-up)
    count = drawn["n"][index]
    click_until_picked(page, bars_chart, bars.nth(index), (0, 0), picker,
                       f"{drawn['y'][index]} (any time to deployment): {count} technolog{'y' if count == 1 else 'ies'}")
    with page.expect_download() as row_download:
        page.locator(".st-key-dl_overview_members_csv").get_by_role("button", name="Table (CSV)").click()
    assert len(pd.read_csv(io.BytesIO(row_download.value.path().read_bytes()), encoding="utf-8-sig")) == count


def test_lead_imports_filters_opens_evidence_and_downloads(browser, server_factory, sqlite_url: str) -> None:
    evidence_name, evidence_answers = prepare_database(sqlite_url)
    server = server_factory(sqlite_url)
    screens = JourneyScreens("journey3")
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.goto(server.url)
    sign_in(page, "Lead / analyst")
    import_catalogue_file(page, screens)

    open_page(page, "Roadmap analysis")
    expect_technologies(page, DEMO_COUNT + len(IMPORTED))  # the import shows at once
    screens(page, "analysis-all")
    choose(page, page.locator("[data-testid='stSidebar']").get_by_role("combobox", name="Technology type"), "Diagnostics")
    page.get_by_text("Filters: technology type: Diagnostics.").first.wait_for()
    diagnostics = diagnostics_count(sqlite_url)
    assert 1 < diagnostics < DEMO_COUNT
    expect_technologies(page, diagnostics)
    screens(page, "analysis-diagnostics")

    with page.expect_download(timeout=120_000) as report_download:
        page.get_by_role("button", name="Download the report (printable HTML)").click()
    report = report_download.value.path().read_text(encoding="utf-8")
    assert re.fullmatch(r"roadmap-report-\d{4}-\d{2}-\d{2}\.html", report_download.value.suggested_filename)
    assert "<h1>AI Workforce Roadmap: analysis report</h1>" in report
    assert "This report contains demonstration data" in report
    for anchor, title in SECTIONS:
        assert f'<section id="{anchor}">' in report and f"<h2>{title}</h2>" in report, anchor
    assert "<td>Filters</td><td>technology type: Diagnostics</td>" in report
    assert f"<td>Technologies in this report</td><td>{diagnostics} of {DEMO_COUNT + len(IMPORTED)}</td>" in report
    assert "Journey chest X-ray triage" in report and "Journey discharge letter drafting" not in report
    click_overview_cell(page, screens)

    open_page(page, "Estimates")
    page.get_by_text("Filters: technology type: Diagnostics.").first.wait_for()  # the filter carries over
    choose(page, page.get_by_role("combobox", name="Technology", exact=True), evidence_name)
    choose(page, page.locator(".st-key-est_evidence_quantity").get_by_role("combobox"), "Impact on the primary workforce group")
    page.get_by_role("heading", name="Evidence behind an estimate").wait_for()
    respondents = page.locator("[data-testid='stMetric']").filter(has_text="Survey respondents").locator("[data-testid='stMetricValue']")
    expect(respondents).to_have_text(str(evidence_answers), timeout=SLOW)
    page.locator(".st-key-dl_est_evidence_csv").scroll_into_view_if_needed()
    screens(page, "estimate-evidence")

    with page.expect_download() as evidence_download:
        page.locator(".st-key-dl_est_evidence_csv").get_by_role("button", name="Table (CSV)").click()
    evidence = pd.read_csv(io.BytesIO(evidence_download.value.path().read_bytes()), encoding="utf-8-sig")
    technology_id = evidence_download.value.suggested_filename.split("-")[1]
    assert evidence_download.value.suggested_filename == f"evidence-{technology_id}-impact_workforce.csv"
    assert list(evidence.columns) == EVIDENCE_HEADER
    survey = evidence[evidence["Source"] == "survey"]
    assert len(survey) == evidence_answers  # one row per response, listed by record number only
    assert set(survey["Value"]) <= {"Low", "Medium", "High"} and set(survey["Used"]) == {"yes"}
    assert "catalogue" in set(evidence["Source"])
    screens.assert_accessible()
