"""The catalogue browser's table and filters, on a hand-made three-technology catalogue."""

from __future__ import annotations

import pandas as pd

from analysis.catalogue_table import CatalogueFilters, catalogue_table, filter_catalogue

TECHNOLOGIES = pd.DataFrame({
    "technology_id": [1, 2, 3],
    "name": ["Chest X-ray triage", "Letter drafting", "Sepsis alert"],
    "company": ["Acme", "Beta", "Acme"],
    "short_description": ["Flags abnormal films", "", "Early warning"],
    "type_code": ["diagnostics", "automation", None],
    "subtype_code": ["imaging", None, None],
    "time_to_deployment": ["within_1y", "1_3y", None],
    "needs_classification": [False, False, True],
    "is_demo": [False, False, False],
    "updated_at": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"], utc=True),
})
LINKS = pd.DataFrame({
    "technology_id": [1, 1, 1, 2, 3],
    "kind": ["clinical_area", "point_of_care", "point_of_care", "point_of_care", "clinical_area"],
    "code": ["radiology", "secondary", "primary", "secondary", "emergency_medicine"],
    "is_primary": [False] * 5,
})
ADOPTION = pd.DataFrame({
    "technology_id": [1, 1, 2, 3],
    "site_id": [10, 11, 10, 12],
    "region": ["london", "north_west", "london", "midlands"],
    "status": ["live", "scaled", "discontinued", "piloting"],
})
LABELS = {"technology_type": {"diagnostics": "Diagnostics", "automation": "Automation"},
          "point_of_care": {"secondary": "Secondary care", "primary": "Primary care"}}


def ids(filters: CatalogueFilters) -> list[int]:
    return sorted(filter_catalogue(TECHNOLOGIES, LINKS, ADOPTION, filters).tolist())


def test_each_filter_on_its_own() -> None:
    assert ids(CatalogueFilters()) == [1, 2, 3]
    assert ids(CatalogueFilters(text="acme")) == [1, 3]  # company, case-insensitive
    assert ids(CatalogueFilters(text="warning")) == [3]  # short description
    assert ids(CatalogueFilters(type_codes=["automation", "diagnostics"])) == [1, 2]
    assert ids(CatalogueFilters(points_of_care=["primary"])) == [1]
    assert ids(CatalogueFilters(clinical_areas=["radiology", "emergency_medicine"])) == [1, 3]
    assert ids(CatalogueFilters(horizons=["1_3y"])) == [2]
    assert ids(CatalogueFilters(only_to_classify=True)) == [3]


def test_region_of_adoption_ignores_discontinued_sites() -> None:
    # Technology 2's only London site discontinued it, so London means technology 1 alone.
    assert ids(CatalogueFilters(regions=["london"])) == [1]
    assert ids(CatalogueFilters(regions=["midlands", "north_west"])) == [1, 3]


def test_filters_combine_with_and() -> None:
    assert ids(CatalogueFilters(text="acme", points_of_care=["secondary"])) == [1]
    assert ids(CatalogueFilters(type_codes=["automation"], regions=["london"])) == []


def test_table_shows_labels_joined_lists_and_live_sites() -> None:
    table = catalogue_table(TECHNOLOGIES, LINKS, ADOPTION, LABELS).set_index("technology_id")
    assert table.loc[1, "type"] == "Diagnostics"
    assert table.loc[3, "type"] == "To classify"
    assert table.loc[1, "points_of_care"] == "Secondary care; Primary care"
    assert table.loc[2, "clinical_areas"] == ""
    assert table["live_sites"].tolist() == [2, 0, 0]  # live + scaled at two sites; piloting does not count
