"""The catalogue browser's table: one row per technology, and its filters (pure pandas).

Inputs are the frames documented in ``analysis/schemas.py`` (``technologies``,
``technology_links``, ``adoption``) plus ``labels``: vocabulary name -> {code: label}.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import pandas as pd

from analysis.labelling import label_codes

LINK_COLUMNS = {"clinical_area": "clinical_areas", "workforce_group": "workforce_groups", "point_of_care": "points_of_care"}
LIVE_STATUSES = ("live", "scaled")
# Headings of the catalogue table, on screen and in its download.
CATALOGUE_HEADINGS = {
    "technology_id": "ID", "name": "Name", "company": "Developer / company", "type": "Type", "subtype": "Subtype",
    "clinical_areas": "Clinical areas", "workforce_groups": "Workforce groups", "points_of_care": "Points of care",
    "time_to_deployment": "Time to deployment", "live_sites": "Live sites", "needs_classification": "To classify",
    "is_demo": "Demo", "updated_at": "Updated",
}


@dataclass(frozen=True)
class CatalogueFilters:
    text: str = ""
    type_codes: Collection[str] = field(default_factory=tuple)
    subtype_codes: Collection[str] = field(default_factory=tuple)
    clinical_areas: Collection[str] = field(default_factory=tuple)
    workforce_groups: Collection[str] = field(default_factory=tuple)
    points_of_care: Collection[str] = field(default_factory=tuple)
    horizons: Collection[str] = field(default_factory=tuple)
    regions: Collection[str] = field(default_factory=tuple)  # adopted (not discontinued) in any of these
    only_to_classify: bool = False


def filter_catalogue(technologies: pd.DataFrame, links: pd.DataFrame, adoption: pd.DataFrame, filters: CatalogueFilters) -> pd.Index:
    """Ids of the technologies matching every filter (within one filter, any selected value matches)."""
    keep = pd.Series(True, index=technologies.index)
    if filters.text.strip():
        needle = filters.text.strip().lower()
        haystack = (
            technologies["name"].fillna("") + " " + technologies["company"].fillna("") + " " + technologies["short_description"].fillna("")
        ).str.lower()
        keep &= haystack.str.contains(needle, regex=False)
    for column, selected in (("type_code", filters.type_codes), ("subtype_code", filters.subtype_codes), ("time_to_deployment", filters.horizons)):
        if selected:
            keep &= technologies[column].isin(list(selected))
    if filters.only_to_classify:
        keep &= technologies["needs_classification"].astype(bool)
    ids = technologies.loc[keep, "technology_id"]
    for kind, column in LINK_COLUMNS.items():
        selected = getattr(filters, column)
        if selected:
            matching = links.loc[(links["kind"] == kind) & links["code"].isin(list(selected)), "technology_id"]
            ids = ids[ids.isin(matching)]
    if filters.regions:
        current = adoption.loc[adoption["region"].isin(list(filters.regions)) & (adoption["status"] != "discontinued"), "technology_id"]
        ids = ids[ids.isin(current)]
    return pd.Index(ids)


def catalogue_table(technologies: pd.DataFrame, links: pd.DataFrame, adoption: pd.DataFrame, labels: dict[str, dict[str, str]]) -> pd.DataFrame:
    """One display row per technology: labels instead of codes, multi-valued fields joined with '; ',
    and the number of sites where it is live or scaled."""
    table = technologies[["technology_id", "name", "company", "type_code", "subtype_code", "time_to_deployment", "needs_classification", "is_demo", "updated_at"]].copy()
    table["type"] = label_codes(table["type_code"], labels.get("technology_type", {}), "To classify")
    table["subtype"] = label_codes(table["subtype_code"], labels.get("technology_subtype", {}), "")
    table["time_to_deployment"] = label_codes(table["time_to_deployment"], labels.get("deployment_horizon", {}), "Not assessed")
    for kind, column in LINK_COLUMNS.items():
        subset = links[links["kind"] == kind]
        mapping = labels.get(kind, {})
        names = subset["code"].map(lambda code: mapping.get(code, code))
        joined = names.groupby(subset["technology_id"]).agg("; ".join)
        table[column] = table["technology_id"].map(joined).astype(object).fillna("")
    live = adoption[adoption["status"].isin(LIVE_STATUSES)].groupby("technology_id")["site_id"].nunique()
    table["live_sites"] = table["technology_id"].map(live).fillna(0).astype(int)
    return table[["technology_id", "name", "company", "type", "subtype", "clinical_areas", "workforce_groups", "points_of_care",
                  "time_to_deployment", "live_sites", "needs_classification", "is_demo", "updated_at"]]
