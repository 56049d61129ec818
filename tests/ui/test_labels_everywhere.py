"""People read labels, not codes: every table of the analysis pages, the catalogue browser and the
printable report shows vocabulary labels and plain headings (issue 13, "labels everywhere")."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pandas as pd
from streamlit.testing.v1 import AppTest

from analysis.schemas import UNCLASSIFIED_TYPE
from storage.db import make_engine, read_session
from storage.vocabularies import EDITABLE_VOCABULARIES, SEEDED_VOCABULARIES, labels
from streamlit_app.report import report_for_database
from tests.ui.helpers import open_app

ROADMAP_VIEWS = ["Distribution", "Use-case profiles", "Spread", "AI overview", "Roadmap timeline", "Workforce impact",
                 "Evidence base", "Case studies", "What changed", "Track record"]


def labelled_codes(url: str) -> set[str]:
    """Every code whose label differs from it, and the analysis's code for a technology still to
    classify. Codes without a lower-case letter ("1", "A": evidence levels and NICE tiers) are left
    out: as a cell they cannot be told from a count or a grade."""
    with read_session(make_engine(url)) as session:
        vocabularies = {name: labels(session, name) for name in set(SEEDED_VOCABULARIES) | set(EDITABLE_VOCABULARIES)}
    return {UNCLASSIFIED_TYPE} | {code for mapping in vocabularies.values() for code, label in mapping.items()
                                  if label != code and re.search("[a-z]", code)}


def codes_in(table: pd.DataFrame, codes: set[str]) -> set[str]:
    cells = {value for column in table.columns for value in table[column].tolist() if isinstance(value, str)}
    return (cells | {str(c) for c in table.columns}) & codes


def raw_headings(table: pd.DataFrame) -> set[str]:
    return {str(c) for c in table.columns if "_" in str(c)}


class _Cells(HTMLParser):
    """The text of every table cell (th and td) of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("td", "th"):
            self._open = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._open is not None:
            self.cells.append("".join(self._open).strip())
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)


def shown_tables(at: AppTest) -> list[pd.DataFrame]:
    assert not at.exception, [e.message for e in at.exception]
    return [frame.value for frame in at.dataframe]


def test_no_table_people_read_shows_a_code_where_a_label_exists(demo_url: str) -> None:
    codes = labelled_codes(demo_url)
    assert {"emergency_medicine", "1_3y", "over_3y", "diagnostics", "p4_medicine", "within_1y"} <= codes
    tables: dict[str, pd.DataFrame] = {}
    at = open_app("lead", "analysis_roadmap.py")
    for view in ROADMAP_VIEWS:
        at.session_state["analysis_view"] = view
        at.run()
        if view == "What changed":
            at.date_input(key="changes_from").set_value(dt.date(2026, 1, 1)).run()
            at.date_input(key="changes_to").set_value(dt.date(2026, 5, 1)).run()
        for index, table in enumerate(shown_tables(at)):
            tables[f"{view} {index}"] = table
        if view == "AI overview":
            for dimension in ("workforce_group", "point_of_care"):
                at.button_group(key="overview_dimension").set_value(dimension).run()
                for index, table in enumerate(shown_tables(at)):
                    tables[f"{view} by {dimension} {index}"] = table
    assert {"What changed 0", "Track record 0", "AI overview 1"} <= set(tables)  # the drill-downs and comparisons ran
    at = open_app("lead", "analysis_estimates.py")
    at.slider(key="sens_prior_strength").set_value(20.0).run()  # the sensitivity tables too
    for index, table in enumerate(shown_tables(at)):
        tables[f"Estimates {index}"] = table
    assert len(tables) > 25
    for name, table in tables.items():
        assert not codes_in(table, codes), (name, codes_in(table, codes))
        assert not raw_headings(table), (name, raw_headings(table))
    # The distribution's shares are percentages.
    assert all(re.fullmatch(r"\d+\.\d%", share) for share in tables["Distribution 0"]["Share"])

    report, _analysis = report_for_database(make_engine(demo_url))
    parser = _Cells()
    parser.feed(report[:report.index('<section id="method">')])  # the method page is documentation, not data
    assert len(parser.cells) > 1000
    assert not set(parser.cells) & codes, set(parser.cells) & codes
    assert {"Type", "Subtype", "Survey respondents", "Emergency medicine", "1–3 years", "More than 3 years"} <= set(parser.cells)


def test_the_catalogue_list_reads_labels(demo_url: str) -> None:
    codes = labelled_codes(demo_url)
    at = open_app("facilitator", "catalogue_browser.py")
    table = shown_tables(at)[0]
    # On screen the columns are named by their configuration; the cells are labels.
    assert not codes_in(table.drop(columns=["technology_id", "name", "company"]), codes)
