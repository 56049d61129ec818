"""Roadmap view tables: pure functions over the input frames and the blended estimates.

Every view takes ``ids``, the filtered technology id set from :func:`apply_filters`, and returns
tables ready to draw. Conventions:

* Adoption counts use each site's current status (see ``blending.current_site_status``); they
  count sites, not respondents, so they are not disclosure-controlled.
* Tables that expose respondent counts go through ``disclosure.suppress_small_counts``.
* Multi-valued fields (clinical areas, workforce groups, points of care) give shares whose
  denominator is the number of technologies; such shares can add up past 100%, and the tables
  say so in a ``shares_can_exceed_100`` column next to the ``denominator`` column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from analysis import schemas as s
from analysis.blending import category_positions, current_site_status
from analysis.disclosure import (
    DEFAULT_THRESHOLD,
    SINGLES_OUT,
    RespondentFilter,
    as_of_cutoffs,
    differencing_guard,
    suppress_small_counts,
)

# Years from now used to place a horizon on the roadmap time axis (the middle of each bucket;
# "over 3 years" is drawn at 4 years). Leads can pass their own mapping.
HORIZON_YEARS: dict[str, float] = {"at_scale": 0.0, "within_1y": 0.5, "1_3y": 2.0, "over_3y": 4.0}
# Horizons that count as arriving within 1, 3 and 5 years (over_3y is taken as by year 5).
HORIZONS_WITHIN: dict[int, tuple[str, ...]] = {
    1: ("at_scale", "within_1y"),
    3: ("at_scale", "within_1y", "1_3y"),
    5: ("at_scale", "within_1y", "1_3y", "over_3y"),
}
IMPACT_WEIGHTS: dict[str, float] = {"low": 1.0, "medium": 2.0, "high": 3.0}
# Tile-map grid (row, column) of the seven NHS England regions, approximating geography:
# north at the top, west on the left.
REGION_TILE_GRID: dict[str, tuple[int, int]] = {
    "north_west": (0, 1),
    "north_east_yorkshire": (0, 2),
    "midlands": (1, 1),
    "east_of_england": (1, 2),
    "south_west": (2, 0),
    "south_east": (2, 1),
    "london": (2, 2),
}
STRENGTH_RANK: dict[str, int] = {code: rank for rank, code in enumerate(s.STRENGTHS)}


class Filters(BaseModel):
    """Global filters shared by all views. An empty list means "no filter"; values within one
    filter are alternatives (OR), different filters must all hold (AND)."""

    model_config = ConfigDict(extra="forbid")

    type_codes: list[str] = Field(default_factory=list)
    clinical_areas: list[str] = Field(default_factory=list)
    workforce_groups: list[str] = Field(default_factory=list)
    points_of_care: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list, description="Technologies with a current adoption record in one of these regions.")
    horizons: list[str] = Field(default_factory=list, description="Blended time to deployment (point estimate).")
    min_strength: Literal["thin", "moderate", "strong"] | None = Field(
        None, description="Minimum evidence strength of the blended time-to-deployment estimate.")
    # Which survey respondents count (their own answers about where and as what they work, and
    # when they answered); the estimates and training needs are computed over them.
    respondent_regions: list[str] = Field(default_factory=list, description="Respondents working in these regions.")
    respondent_site_types: list[str] = Field(default_factory=list, description="Respondents working for these organisation types.")
    staff_groups: list[str] = Field(default_factory=list, description="Respondents in these staff groups.")
    languages: list[str] = Field(default_factory=list, description="Respondents who answered in these languages (ISO 639-1 codes).")
    submitted_from: str | None = Field(None, pattern=r"^\d{4}-\d{2}$", description="Responses submitted in this month or later.")
    submitted_to: str | None = Field(None, pattern=r"^\d{4}-\d{2}$", description="Responses submitted in this month or earlier.")

    def respondent_filter(self) -> RespondentFilter:
        """The respondent part of the filters (the technology part does not change who counts)."""
        return RespondentFilter(regions=tuple(self.respondent_regions), site_types=tuple(self.respondent_site_types),
                                staff_groups=tuple(self.staff_groups), languages=tuple(self.languages),
                                submitted_from=self.submitted_from,
                                submitted_to=self.submitted_to)


@dataclass(frozen=True)
class CellTable:
    """A count table and, for drill-down, the technologies behind each cell.

    ``counts`` has the cell key columns plus a count; ``members`` has the same key columns plus
    technology_id (one row per technology in the cell).
    """

    counts: pd.DataFrame
    members: pd.DataFrame


# --- helpers -----------------------------------------------------------------------------------


def _ids(ids: Iterable[int]) -> pd.Index:
    return pd.Index(sorted(set(int(i) for i in ids)), dtype="int64", name="technology_id")


def _estimate_of(estimates: pd.DataFrame, quantity: str, ids: pd.Index) -> pd.DataFrame:
    rows = estimates[(estimates["quantity"] == quantity) & estimates["technology_id"].isin(ids)]
    return rows.set_index("technology_id")


def _links_of(technology_links: pd.DataFrame, kind: str, ids: pd.Index) -> pd.DataFrame:
    links = s.validate_frame(technology_links, "technology_links")
    rows = links[(links["kind"].astype(object) == kind) & links["technology_id"].isin(ids)]
    return rows.assign(code=rows["code"].astype(str)).drop_duplicates(["technology_id", "code"])


def _current_adoption(adoption: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    adoption = s.validate_frame(adoption, "adoption")
    return current_site_status(adoption[adoption["technology_id"].isin(ids)])


def _multi_valued_shares(links: pd.DataFrame, denominator: int, label: str) -> pd.DataFrame:
    counts = links.groupby("code").size().rename("technologies").reset_index().rename(columns={"code": label})
    counts = counts.sort_values(["technologies", label], ascending=[False, True], ignore_index=True)
    counts["denominator"] = denominator
    counts["share"] = counts["technologies"] / denominator if denominator else np.nan
    counts["shares_can_exceed_100"] = True
    return counts


# --- filters -----------------------------------------------------------------------------------


def apply_filters(filters: Filters, technologies: pd.DataFrame, technology_links: pd.DataFrame,
                  adoption: pd.DataFrame, estimates: pd.DataFrame) -> pd.Index:
    """Technology ids passing every filter (sorted ``Index`` named technology_id)."""
    technologies = s.validate_frame(technologies, "technologies")
    keep = pd.Series(True, index=technologies["technology_id"].to_numpy())
    if filters.type_codes:
        keep &= technologies["type_code"].astype(object).isin(filters.type_codes).to_numpy()
    all_ids = _ids(technologies["technology_id"])
    for kind, wanted in (("clinical_area", filters.clinical_areas), ("workforce_group", filters.workforce_groups),
                         ("point_of_care", filters.points_of_care)):
        if wanted:
            links = _links_of(technology_links, kind, all_ids)
            keep &= keep.index.isin(links.loc[links["code"].isin(wanted), "technology_id"])
    if filters.regions:
        current = _current_adoption(adoption, all_ids)
        keep &= keep.index.isin(current.loc[current["region"].astype(object).isin(filters.regions), "technology_id"])
    horizon = _estimate_of(estimates, "time_to_deployment", all_ids)
    if filters.horizons:
        keep &= keep.index.isin(horizon.index[horizon["point"].isin(filters.horizons)])
    if filters.min_strength:
        strong_enough = horizon["strength"].map(STRENGTH_RANK) >= STRENGTH_RANK[filters.min_strength]
        keep &= keep.index.isin(horizon.index[strong_enough])
    return _ids(keep.index[keep.to_numpy()])


# --- 1 distribution ----------------------------------------------------------------------------


def taxonomy_distribution(technologies: pd.DataFrame, ids: Iterable[int]) -> pd.DataFrame:
    """Type -> subtype counts for a sunburst/treemap.

    Columns: type_code, subtype_code (NA when the technology has no subtype), technologies,
    share (of the filtered total), type_technologies, type_share. Ordered by type size, then
    subtype size.
    """
    ids = _ids(ids)
    technologies = s.validate_frame(technologies, "technologies")
    chosen = technologies[technologies["technology_id"].isin(ids)]
    total = len(chosen)
    table = (chosen.assign(type_code=chosen["type_code"].astype(object), subtype_code=chosen["subtype_code"].astype(object))
             .groupby(["type_code", "subtype_code"], dropna=False).size().rename("technologies").reset_index())
    table["share"] = table["technologies"] / total if total else np.nan
    table["type_technologies"] = table.groupby("type_code")["technologies"].transform("sum")
    table["type_share"] = table["type_technologies"] / total if total else np.nan
    return table.sort_values(["type_technologies", "type_code", "technologies"], ascending=[False, True, False],
                             ignore_index=True)


def headline_figures(technologies: pd.DataFrame, technology_links: pd.DataFrame, estimates: pd.DataFrame,
                     ids: Iterable[int]) -> dict[str, int]:
    """The headline strip: technologies, deployable within a year (blended time to deployment
    at_scale or within_1y), distinct workforce groups and clinical areas affected."""
    ids = _ids(ids)
    horizon = _estimate_of(estimates, "time_to_deployment", ids)
    return {
        "technologies": len(ids),
        "deployable_within_year": int(horizon["point"].isin(HORIZONS_WITHIN[1]).sum()),
        "workforce_groups_affected": int(_links_of(technology_links, "workforce_group", ids)["code"].nunique()),
        "clinical_areas_affected": int(_links_of(technology_links, "clinical_area", ids)["code"].nunique()),
    }


# --- 2 use-case profile ------------------------------------------------------------------------


def use_case_profile(type_code: str, technologies: pd.DataFrame, technology_links: pd.DataFrame,
                     adoption: pd.DataFrame, estimates: pd.DataFrame, ids: Iterable[int],
                     top_n: int = 5) -> dict[str, pd.DataFrame]:
    """Profile of one technology type within the filtered set.

    Returns tables keyed:
    * ``workforce_groups`` / ``clinical_areas`` (top ``top_n``) and ``points_of_care`` (all):
      code column, technologies, denominator (technologies of the type), share,
      shares_can_exceed_100 (True: multi-valued);
    * ``time_to_deployment``: horizon, technologies, share (one blended horizon per technology);
    * ``regions``: region, live_or_scaled_sites, technologies, ordered so the leading region
      (most live or scaled adoptions) comes first.
    """
    ids = _ids(ids)
    technologies = s.validate_frame(technologies, "technologies")
    of_type = _ids(technologies.loc[technologies["technology_id"].isin(ids)
                                    & (technologies["type_code"].astype(object) == type_code), "technology_id"])
    denominator = len(of_type)
    profile = {
        "workforce_groups": _multi_valued_shares(_links_of(technology_links, "workforce_group", of_type),
                                                 denominator, "workforce_group").head(top_n),
        "clinical_areas": _multi_valued_shares(_links_of(technology_links, "clinical_area", of_type),
                                               denominator, "clinical_area").head(top_n),
        "points_of_care": _multi_valued_shares(_links_of(technology_links, "point_of_care", of_type),
                                               denominator, "point_of_care"),
    }
    horizon = _estimate_of(estimates, "time_to_deployment", of_type)["point"]
    split = horizon.value_counts().reindex(list(s.HORIZONS), fill_value=0)
    profile["time_to_deployment"] = pd.DataFrame({
        "horizon": list(s.HORIZONS),
        "technologies": split.to_numpy(),
        "share": split.to_numpy() / denominator if denominator else np.nan,
    })
    live = _current_adoption(adoption, of_type)
    live = live[live["status"].astype(object).isin(s.LIVE_STATUSES)]
    regions = live.assign(region=live["region"].astype(object)).groupby("region").agg(
        live_or_scaled_sites=("site_id", "size"), technologies=("technology_id", "nunique")).reset_index()
    profile["regions"] = regions.sort_values(["live_or_scaled_sites", "technologies", "region"],
                                             ascending=[False, False, True], ignore_index=True)
    return profile


# --- 3 spread ----------------------------------------------------------------------------------


def adoption_by_region(adoption: pd.DataFrame, ids: Iterable[int]) -> pd.DataFrame:
    """Sites by region and current status, with tile-map positions.

    Columns: region, status, sites, technologies (distinct), tile_row, tile_col. All 7 regions
    x 5 statuses are present (zeros included).
    """
    current = _current_adoption(adoption, _ids(ids))
    grid = pd.MultiIndex.from_product([s.REGIONS, s.ADOPTION_STATUSES], names=["region", "status"])
    counts = current.assign(region=current["region"].astype(object), status=current["status"].astype(object)).groupby(
        ["region", "status"]).agg(sites=("site_id", "size"), technologies=("technology_id", "nunique"))
    table = counts.reindex(grid, fill_value=0).reset_index()
    table["tile_row"] = table["region"].map(lambda r: REGION_TILE_GRID[r][0])
    table["tile_col"] = table["region"].map(lambda r: REGION_TILE_GRID[r][1])
    return table


def adoption_heatmap(adoption: pd.DataFrame, ids: Iterable[int]) -> pd.DataFrame:
    """Sites by status, region and site type (all combinations, zeros included).

    Columns: status, region, site_type, sites. Pivot one status for a region x site-type heat map.
    """
    current = _current_adoption(adoption, _ids(ids))
    grid = pd.MultiIndex.from_product([s.ADOPTION_STATUSES, s.REGIONS, s.SITE_TYPES],
                                      names=["status", "region", "site_type"])
    keyed = current.assign(**{c: current[c].astype(object) for c in ("status", "region", "site_type")})
    counts = keyed.groupby(["status", "region", "site_type"]).size().rename("sites")
    return counts.reindex(grid, fill_value=0).reset_index()


def equity_gaps(adoption: pd.DataFrame, ids: Iterable[int]) -> CellTable:
    """Where technologies that are live (live or scaled) somewhere have no live adoption.

    ``counts`` columns: dimension (region | site_type), code, live_elsewhere (technologies live
    somewhere), live_here, gap (live elsewhere but not here), gap_share (gap / live_elsewhere),
    ranked by gap (largest first) within each dimension. ``members``: dimension, code,
    technology_id for each gap.
    """
    current = _current_adoption(adoption, _ids(ids))
    live = current[current["status"].astype(object).isin(s.LIVE_STATUSES)]
    live_ids = pd.Index(live["technology_id"].unique())
    counts, members = [], []
    for dimension, codes in (("region", s.REGIONS), ("site_type", s.SITE_TYPES)):
        present = pd.MultiIndex.from_frame(live[["technology_id"]].assign(code=live[dimension].astype(object)))
        every = pd.MultiIndex.from_product([live_ids, list(codes)], names=["technology_id", "code"])
        gaps = every.difference(present).to_frame(index=False).assign(dimension=dimension)
        gap_count = gaps.groupby("code").size().reindex(list(codes), fill_value=0)
        live_here = live.groupby(live[dimension].astype(object))["technology_id"].nunique().reindex(list(codes), fill_value=0)
        table = pd.DataFrame({"dimension": dimension, "code": list(codes), "live_elsewhere": len(live_ids),
                              "live_here": live_here.to_numpy(), "gap": gap_count.to_numpy()})
        table["gap_share"] = table["gap"] / len(live_ids) if len(live_ids) else np.nan
        counts.append(table.sort_values(["gap", "code"], ascending=[False, True]))
        members.append(gaps[["dimension", "code", "technology_id"]])
    return CellTable(pd.concat(counts, ignore_index=True),
                     pd.concat(members, ignore_index=True).sort_values(["dimension", "code", "technology_id"],
                                                                       ignore_index=True))


# --- 4 AI overview -----------------------------------------------------------------------------


def overview_matrix(dimension: Literal["clinical_area", "workforce_group", "point_of_care"],
                    technologies: pd.DataFrame, technology_links: pd.DataFrame, estimates: pd.DataFrame,
                    ids: Iterable[int], across: Literal["type_code", "time_to_deployment"] | None = None) -> CellTable:
    """Technologies by a linked dimension, optionally across type or blended time to deployment.

    ``counts`` columns: row (code of ``dimension``), column (type code, horizon, or "all"),
    technologies; ranked by row total then count. ``members``: row, column, technology_id.
    Point of care x time to deployment is ``overview_matrix("point_of_care", ..., across="time_to_deployment")``.
    A technology appears once per linked code (multi-valued), so row totals can exceed the number
    of technologies.
    """
    if dimension not in s.LINK_KINDS:
        raise ValueError(f"dimension must be one of {', '.join(s.LINK_KINDS)}, got {dimension!r}")
    ids = _ids(ids)
    links = _links_of(technology_links, dimension, ids)
    members = links[["technology_id", "code"]].rename(columns={"code": "row"})
    if across is None:
        members = members.assign(column="all")
    elif across == "type_code":
        technologies = s.validate_frame(technologies, "technologies")
        types = technologies.set_index("technology_id")["type_code"].astype(object)
        members = members.assign(column=members["technology_id"].map(types))
    elif across == "time_to_deployment":
        horizon = _estimate_of(estimates, "time_to_deployment", ids)["point"]
        members = members.assign(column=members["technology_id"].map(horizon))
    else:
        raise ValueError(f"across must be None, 'type_code' or 'time_to_deployment', got {across!r}")
    counts = members.groupby(["row", "column"]).size().rename("technologies").reset_index()
    counts["row_total"] = counts.groupby("row")["technologies"].transform("sum")
    counts = counts.sort_values(["row_total", "row", "technologies"], ascending=[False, True, False], ignore_index=True)
    return CellTable(counts.drop(columns="row_total"),
                     members[["row", "column", "technology_id"]].sort_values(["row", "column", "technology_id"],
                                                                             ignore_index=True))


# --- 5 roadmap timeline ------------------------------------------------------------------------


def roadmap_timeline(technologies: pd.DataFrame, estimates: pd.DataFrame, ids: Iterable[int],
                     horizon_years: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per technology for the swimlane timeline.

    Columns: technology_id, name, type_code (lane), horizon (blended point), horizon_lower,
    horizon_upper (90% interval), years, years_lower, years_upper (via ``horizon_years``,
    default HORIZON_YEARS), strength, effective_n. Ordered by lane, then years, then name.
    """
    years_of = horizon_years or HORIZON_YEARS
    unknown = set(s.HORIZONS) - set(years_of)
    if unknown:
        raise ValueError(f"horizon_years has no value for {', '.join(sorted(unknown))}")
    ids = _ids(ids)
    technologies = s.validate_frame(technologies, "technologies").set_index("technology_id")
    horizon = _estimate_of(estimates, "time_to_deployment", ids)
    table = pd.DataFrame({
        "technology_id": horizon.index,
        "name": technologies["name"].reindex(horizon.index).to_numpy(),
        "type_code": technologies["type_code"].astype(object).reindex(horizon.index).to_numpy(),
        "horizon": horizon["point"].to_numpy(),
        "horizon_lower": horizon["lower"].to_numpy(),
        "horizon_upper": horizon["upper"].to_numpy(),
    })
    for column, source in (("years", "horizon"), ("years_lower", "horizon_lower"), ("years_upper", "horizon_upper")):
        table[column] = table[source].map(years_of).astype(float)
    table["strength"] = horizon["strength"].to_numpy()
    table["effective_n"] = horizon["effective_n"].to_numpy()
    return table.sort_values(["type_code", "years", "name"], ignore_index=True)


# --- 6 workforce impact ------------------------------------------------------------------------


def workforce_impact(technology_links: pd.DataFrame, estimates: pd.DataFrame, ids: Iterable[int]) -> pd.DataFrame:
    """Per workforce group: technologies affecting it within 1, 3 and 5 years, weighted by impact.

    A technology affects every workforce group it is linked to; its weight is IMPACT_WEIGHTS of
    its blended impact on the workforce (low 1, medium 2, high 3); it arrives within N years when
    its blended time to deployment is in HORIZONS_WITHIN[N].
    Columns: workforce_group, technologies, technologies_within_1y/3y/5y,
    weighted_within_1y/3y/5y, median_minutes_per_case (median of the technologies' blended
    minutes per case, + saved / - added, over those with time-per-case evidence) and
    technologies_with_minutes. Ordered by weighted_within_5y, largest first.
    """
    ids = _ids(ids)
    links = _links_of(technology_links, "workforce_group", ids)
    horizon = _estimate_of(estimates, "time_to_deployment", ids)["point"]
    impact = _estimate_of(estimates, "impact_workforce", ids)["point"].map(IMPACT_WEIGHTS)
    minutes = pd.to_numeric(_estimate_of(estimates, "minutes_per_case", ids)["point"], errors="coerce")
    rows = links[["code", "technology_id"]].rename(columns={"code": "workforce_group"})
    rows = rows.assign(weight=rows["technology_id"].map(impact).fillna(0.0),
                       horizon=rows["technology_id"].map(horizon),
                       minutes=rows["technology_id"].map(minutes))
    aggregations: dict[str, tuple[str, str]] = {"technologies": ("technology_id", "nunique")}
    for years, horizons in HORIZONS_WITHIN.items():
        arrives = rows["horizon"].isin(horizons)
        rows[f"technologies_within_{years}y"] = arrives.astype(int)
        rows[f"weighted_within_{years}y"] = np.where(arrives, rows["weight"], 0.0)
        aggregations[f"technologies_within_{years}y"] = (f"technologies_within_{years}y", "sum")
        aggregations[f"weighted_within_{years}y"] = (f"weighted_within_{years}y", "sum")
    aggregations["median_minutes_per_case"] = ("minutes", "median")
    aggregations["technologies_with_minutes"] = ("minutes", "count")
    table = rows.groupby("workforce_group").agg(**aggregations).reset_index()
    return table.sort_values(["weighted_within_5y", "workforce_group"], ascending=[False, True], ignore_index=True)


def training_needs(answers: pd.DataFrame, responses: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD,
                   respondent_filter: RespondentFilter | None = None, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Training received and needed by archetype and training type, disclosure-controlled.

    Counts respondents (distinct responses in ``responses``, inside ``respondent_filter``) who hold
    the archetype (profile question ``archetypes``, multi) and selected the training type for at
    least one technology. Columns: archetype, training_type, received, needed, respondents
    (respondents holding the archetype), each count with ``<col>_suppressed``, and
    suppression_note. Counts below ``threshold`` are suppressed with their complements within
    each archetype, and so is any count that a neighbouring respondent filter would single out
    (:func:`analysis.disclosure.differencing_guard`). ``as_of`` (the end of a past day): respondents
    who had answered by then, released per cell in steps of ``threshold`` counted back from today
    (:func:`analysis.disclosure.as_of_cutoffs`); respondent filters apply to today's table only.
    """
    if as_of is not None and respondent_filter is not None and respondent_filter.active:
        raise ValueError("respondent filters apply to today's figures only, not to a view as of a past day")
    answers = s.validate_frame(answers, "answers")
    responses = s.validate_frame(responses, "responses")
    variables = (s.VAR_ARCHETYPES, s.VAR_TRAINING_RECEIVED, s.VAR_TRAINING_NEEDED)
    variable = category_positions(answers["variable"], variables)
    rows = np.flatnonzero(variable >= 0)
    variable = variable[rows]
    # Respondent position in `responses`; answers of other responses (-1) are not counted.
    respondent = pd.Index(responses["response_id"].to_numpy(dtype=np.int64)).get_indexer(
        answers["response_id"].to_numpy(dtype=np.int64)[rows])
    value = answers["value"].iloc[rows]

    def selected(of_variable: int, vocabulary: tuple[str, ...]) -> np.ndarray:
        """Respondent x code indicator matrix: did the respondent choose the code (at least once)?"""
        code = category_positions(value, vocabulary)
        keep = (variable == of_variable) & (code >= 0) & (respondent >= 0)
        chosen = np.zeros((len(responses), len(vocabulary)), dtype=bool)
        chosen[respondent[keep], code[keep]] = True
        return chosen

    holds = selected(0, s.ARCHETYPES)
    n_cells = len(s.ARCHETYPES) * len(s.TRAINING_TYPES)
    count_columns = ("received", "needed", "respondents")
    # Each respondent is a member of every cell they count in: key = column * n_cells + table row.
    member_response, member_key = [], []
    for column, of_variable in ((0, 1), (1, 2)):
        both = holds[:, :, None] & selected(of_variable, s.TRAINING_TYPES)[:, None, :]
        who, archetype, training = np.nonzero(both)
        member_response.append(who)
        member_key.append(column * n_cells + archetype * len(s.TRAINING_TYPES) + training)
    who, archetype = np.nonzero(holds)
    for training in range(len(s.TRAINING_TYPES)):  # the archetype's respondents, repeated on each of its rows
        member_response.append(who)
        member_key.append(2 * n_cells + archetype * len(s.TRAINING_TYPES) + training)
    response_ids = responses["response_id"].to_numpy(dtype=np.int64)
    member_response, member_key = np.concatenate(member_response), np.concatenate(member_key)
    if as_of is not None:
        submitted = responses["submitted_at"].to_numpy(dtype="datetime64[ns]")[member_response]
        cutoff = as_of_cutoffs(member_key, submitted, 3 * n_cells, as_of, threshold)[member_key]
        released = ~np.isnat(cutoff) & (submitted <= cutoff)
        member_response, member_key = member_response[released], member_key[released]
    # Each (respondent, cell) pair is made once above (from boolean indicator matrices).
    guard = differencing_guard(response_ids[member_response], member_key, 3 * n_cells, responses, respondent_filter,
                               threshold, distinct=True)
    table = pd.DataFrame({
        "archetype": np.repeat(s.ARCHETYPES, len(s.TRAINING_TYPES)),
        "training_type": np.tile(s.TRAINING_TYPES, len(s.ARCHETYPES)),
    })
    singles_out = {}
    for column, name in enumerate(count_columns):
        table[name] = guard.n[column * n_cells:(column + 1) * n_cells]
        singles_out[name] = guard.reason[column * n_cells:(column + 1) * n_cells] == SINGLES_OUT
    return suppress_small_counts(table, list(count_columns), threshold=threshold, by="archetype", also_hide=singles_out)


# --- 7 evidence base ---------------------------------------------------------------------------


STALE_AFTER_DAYS = 365  # a catalogue entry not reviewed for a year is stale


def is_stale(last_reviewed: pd.Series, today: pd.Timestamp | str, stale_after_days: int = STALE_AFTER_DAYS) -> pd.Series:
    """Whether each entry is stale: never reviewed, or last reviewed more than ``stale_after_days``
    before ``today``."""
    reviewed = pd.to_datetime(last_reviewed)
    if reviewed.dt.tz is not None:  # the catalogue's own frames carry UTC; the analysis inputs are naive
        reviewed = reviewed.dt.tz_convert("UTC").dt.tz_localize(None)
    today = pd.Timestamp(today)
    days = ((today.tz_convert("UTC").tz_localize(None) if today.tzinfo else today) - reviewed).dt.days
    return (days.isna() | (days > stale_after_days)).astype(bool)


def evidence_gaps(technologies: pd.DataFrame, estimates: pd.DataFrame, ids: Iterable[int],
                  as_of: pd.Timestamp | str | None = None, stale_after_days: int = STALE_AFTER_DAYS,
                  threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Technologies ranked by how much evidence is missing.

    Missing evidence score = no survey evidence + no workshop evidence + stale entry (never
    reviewed, or last_reviewed more than ``stale_after_days`` before ``as_of``, default today).
    Survey evidence withheld by disclosure control counts as missing. Ties are broken by fewer
    survey answers, then older review. Columns: technology_id, name, type_code, survey_answers
    (respondents behind the technology's best-covered estimate, as used by the estimates: 0 or
    at least the threshold), survey_withheld (some of its survey evidence is withheld), workshop_results, no_survey, no_workshop, last_reviewed,
    days_since_review, stale, missing_score, rank, plus survey_answers_suppressed and
    suppression_note.
    """
    if stale_after_days < 0:
        raise ValueError(f"stale_after_days must not be negative, got {stale_after_days}")
    ids = _ids(ids)
    technologies = s.validate_frame(technologies, "technologies")
    chosen = technologies[technologies["technology_id"].isin(ids)].set_index("technology_id")
    evidence = estimates[estimates["technology_id"].isin(ids)].groupby("technology_id").agg(
        survey_answers=("n_survey", "max"), survey_withheld=("survey_withheld", "any"),
        workshop_results=("n_workshop", "sum"))
    evidence = evidence.reindex(chosen.index, fill_value=0)
    today = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp.now().normalize()
    days = (today - chosen["last_reviewed"]).dt.days
    table = pd.DataFrame({
        "technology_id": chosen.index,
        "name": chosen["name"].to_numpy(),
        "type_code": chosen["type_code"].astype(object).to_numpy(),
        "survey_answers": evidence["survey_answers"].astype(int).to_numpy(),
        "survey_withheld": evidence["survey_withheld"].astype(bool).to_numpy(),
        "workshop_results": evidence["workshop_results"].astype(int).to_numpy(),
        "last_reviewed": chosen["last_reviewed"].to_numpy(),
        "days_since_review": days.astype("Int64").to_numpy(),
    })
    table["no_survey"] = table["survey_answers"] == 0
    table["no_workshop"] = table["workshop_results"] == 0
    table["stale"] = is_stale(chosen["last_reviewed"], today, stale_after_days).to_numpy()
    table["missing_score"] = table[["no_survey", "no_workshop", "stale"]].sum(axis=1).astype(int)
    table = table.sort_values(["missing_score", "survey_answers", "last_reviewed", "technology_id"],
                              ascending=[False, True, True, True], na_position="first", ignore_index=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return suppress_small_counts(table, ["survey_answers"], threshold=threshold)


def estimates_table(technologies: pd.DataFrame, estimates: pd.DataFrame, ids: Iterable[int]) -> pd.DataFrame:
    """The estimates of the filtered technologies with their name and type_code, ready to show or
    export. The estimates are already disclosure-safe (``blending.published_survey``): n_survey
    is 0 or at least the threshold, and survey_note says where survey evidence was left out."""
    ids = _ids(ids)
    technologies = s.validate_frame(technologies, "technologies").set_index("technology_id")
    table = estimates[estimates["technology_id"].isin(ids)].reset_index(drop=True)
    table.insert(1, "name", table["technology_id"].map(technologies["name"]))
    table.insert(2, "type_code", table["technology_id"].map(technologies["type_code"].astype(object)))
    return table
