"""Journey: a lead opens the roadmap analysis in the system Chromium, narrows it with a filter,
downloads a view table as CSV and the printable report."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from storage.db import make_engine
from storage.demo import load_demo_catalogue
from storage.demo_evidence import load_demo_evidence
from tests.browser.conftest import screenshot, sign_in, wait_for_app


@pytest.mark.browser
def test_filter_the_analysis_and_download_a_table_and_the_report(browser, server_factory, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    load_demo_catalogue(engine, count=60)
    load_demo_evidence(engine)
    engine.dispose()
    server = server_factory(sqlite_url)
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.goto(server.url)
    sign_in(page, "Lead / analyst")
    more = page.get_by_role("button", name=re.compile(r"^View \d+ more$"))  # the sidebar folds long page lists
    if more.count():
        more.click()
    page.get_by_role("link", name="Roadmap analysis").click()
    wait_for_app(page, 60_000)
    technologies = page.locator("[data-testid='stMetric']").filter(has_text="Technologies").locator("[data-testid='stMetricValue']")
    assert technologies.inner_text() == "60"
    screenshot(page, "analysis-all")

    # Filter: diagnostics only, chosen with the keyboard in the sidebar's type filter.
    picker = page.locator("[data-testid='stSidebar'] [data-testid='stMultiSelect']").filter(has_text="Technology type").locator("input")
    picker.click()
    picker.press_sequentially("Diagnostics", delay=30)
    page.get_by_role("option", name="Diagnostics").first.click()
    page.keyboard.press("Escape")
    wait_for_app(page, 60_000)
    page.get_by_text("Filters: technology type: Diagnostics.").wait_for()
    shown = int(technologies.inner_text())
    assert 0 < shown < 60
    screenshot(page, "analysis-diagnostics")

    with page.expect_download() as table_download:
        page.get_by_role("button", name="Table (CSV)").first.click()
    table = pd.read_csv(io.BytesIO(table_download.value.path().read_bytes()), encoding="utf-8-sig")
    assert table_download.value.suggested_filename == "distribution.csv"
    assert set(table["type_code"]) == {"diagnostics"} and table["technologies"].sum() == shown

    with page.expect_download(timeout=120_000) as report_download:
        page.get_by_role("button", name="Download the report (printable HTML)").click()
    report = report_download.value.path().read_text(encoding="utf-8")
    assert report_download.value.suggested_filename.startswith("roadmap-report-")
    assert "AI Workforce Roadmap: analysis report" in report
    assert "&quot;type_codes&quot;: [&quot;diagnostics&quot;]" in report
    assert f"<td>Technologies in this report</td><td>{shown} of 60</td>" in report
    assert "This report contains demonstration data" in report
