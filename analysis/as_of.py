"""The evidence as it stood on a past day (docs/method.md, "As of a date").

Each source is dated differently:

* catalogue: the technology's revision in force that day (``catalogue_history``); a technology
  created later is absent, one deleted earlier too. Records older than the history carry a
  "baseline" revision dated when the history began: before it, their entry is taken as first
  recorded, and the output says so;
* adoption: each site at the status of its record in force that day (from its start date; a
  discontinued record from its end date). A record changed after the day may have said
  something else then: the output says so;
* workshops: results of rounds closed by the day;
* survey: answers submitted by the day, released in steps of the disclosure threshold
  (``analysis.blending.published_survey``), so the survey frames are not cut here.

Pure pandas: frames in, frames out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import schemas as s

UNKNOWN_COLUMNS = ("technology_id", "source", "note")


@dataclass(frozen=True)
class EvidenceAsOf:
    """The catalogue, adoption and workshop frames as of ``day``, and where their history is not
    known (``unknown``: technology_id, source, note)."""

    day: pd.Timestamp
    technologies: pd.DataFrame
    technology_links: pd.DataFrame
    adoption: pd.DataFrame
    workshop_results: pd.DataFrame
    unknown: pd.DataFrame


def day_end(day: pd.Timestamp | str) -> pd.Timestamp:
    """The last moment of a calendar day (naive UTC): evidence dated that day counts."""
    moment = pd.Timestamp(day)
    moment = moment.tz_convert(None) if moment.tzinfo else moment
    return moment.normalize() + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)


def evidence_as_of(frames: Mapping[str, pd.DataFrame], history: pd.DataFrame | None,
                   day: pd.Timestamp | str) -> EvidenceAsOf:
    """The catalogue (rebuilt from ``history``), adoption and workshop frames as of the end of ``day``."""
    end = day_end(day)
    technologies, links, unknown_catalogue = catalogue_as_of(history, frames["technologies"], end)
    adoption, unknown_adoption = adoption_as_of(frames["adoption"], end)
    adoption = adoption[adoption["technology_id"].isin(technologies["technology_id"]).to_numpy()]
    workshops = s.validate_frame(frames["workshop_results"], "workshop_results")
    workshops = workshops[(workshops["closed_at"] <= end).to_numpy()]
    unknown = pd.concat([unknown_catalogue, unknown_adoption], ignore_index=True)
    unknown = unknown[unknown["technology_id"].isin(technologies["technology_id"]).to_numpy()]
    return EvidenceAsOf(end, technologies, links, adoption, workshops, unknown.reset_index(drop=True))


def catalogue_as_of(history: pd.DataFrame | None, technologies: pd.DataFrame,
                    end: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Technologies and their links as of ``end``, from the revisions recorded by then.

    Columns not kept in the history (company, descriptions...) come from today's entry.
    Returns (technologies, technology_links, unknown).
    """
    technologies = s.validate_frame(technologies, "technologies")
    if history is None or history.empty:
        raise ValueError("the catalogue's history is needed to see the catalogue as of a past day")
    history = s.validate_frame(history, "catalogue_history").sort_values(["technology_id", "recorded_at"], kind="stable")
    recorded = history[(history["recorded_at"] <= end).to_numpy()].drop_duplicates("technology_id", keep="last")
    recorded = recorded[(recorded["kind"].astype(object) != "delete").to_numpy()]
    # No revision by then: a record older than the history counts at its baseline, if it existed.
    first = history.drop_duplicates("technology_id", keep="first")
    older = first[(first["kind"].astype(object) == "baseline").to_numpy()
                  & (first["created_at"].isna() | (first["created_at"] <= end)).to_numpy()
                  & ~first["technology_id"].isin(history.loc[(history["recorded_at"] <= end).to_numpy(), "technology_id"]).to_numpy()]
    chosen = pd.concat([recorded, older]).sort_values("technology_id", kind="stable")
    unknown = pd.DataFrame({
        "technology_id": older["technology_id"].to_numpy(),
        "source": "catalogue",
        "note": ["entry as first recorded on " + f"{moment:%Y-%m-%d}" + ": its earlier history is not known"
                 for moment in older["recorded_at"]],
    }, columns=list(UNKNOWN_COLUMNS))
    today = technologies.set_index("technology_id")
    rebuilt = chosen[["technology_id", "name", "type_code", "subtype_code", "time_to_deployment", "impact_workforce",
                      "impact_pathway", "impact_system", "last_reviewed", "is_demo"]].copy()
    rebuilt["type_code"] = rebuilt["type_code"].astype(object)
    rebuilt["updated_at"] = chosen["recorded_at"].to_numpy()
    for column in today.columns.difference(rebuilt.columns):
        rebuilt[column] = rebuilt["technology_id"].map(today[column]).to_numpy()
    rebuilt["name"] = rebuilt["name"].fillna(rebuilt["technology_id"].map(today["name"])).fillna(
        "technology " + rebuilt["technology_id"].astype(str))
    return rebuilt.reset_index(drop=True), _links_of(chosen), unknown


def _links_of(chosen: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for technology_id, text in zip(chosen["technology_id"], chosen["links"], strict=True):
        links = json.loads(text or "{}")
        primary = links.get("primary_workforce_group")
        for kind in s.LINK_KINDS:
            rows += [(int(technology_id), kind, code, kind == "workforce_group" and code == primary)
                     for code in links.get(kind, [])]
    frame = pd.DataFrame(rows, columns=["technology_id", "kind", "code", "is_primary"])
    return frame.astype({"technology_id": "int64", "is_primary": bool})


def adoption_as_of(adoption: pd.DataFrame, end: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Adoption records in force at ``end``: a record counts from its start date (a discontinued one
    from its end date; without dates, from when it was last changed), and is ongoing then unless it
    ended by then. Returns (adoption, unknown) where unknown lists records changed after ``end``."""
    adoption = s.validate_frame(adoption, "adoption")
    discontinued = (adoption["status"].astype(object) == "discontinued").to_numpy()
    effective = np.where(discontinued, adoption["end_date"].fillna(adoption["start_date"]), adoption["start_date"])
    effective = pd.Series(effective, index=adoption.index).astype("datetime64[ns]").fillna(adoption["updated_at"])
    in_force = adoption[(effective <= end).to_numpy()].copy()
    ends_later = in_force["end_date"] > end
    in_force.loc[ends_later & ~(in_force["status"].astype(object) == "discontinued"), "end_date"] = pd.NaT
    changed = in_force[(in_force["updated_at"] > end).to_numpy()]
    unknown = pd.DataFrame({
        "technology_id": changed["technology_id"].to_numpy(),
        "source": "adoption",
        "note": [f"site {site}: its record was changed on {moment:%Y-%m-%d}, so its status then may differ"
                 for site, moment in zip(changed["site_id"], changed["updated_at"], strict=True)],
    }, columns=list(UNKNOWN_COLUMNS))
    return in_force, unknown


def baseline_history(technologies: pd.DataFrame, technology_links: pd.DataFrame, since: pd.Timestamp | str) -> pd.DataFrame:
    """A catalogue history in which every technology has been as it is now since ``since``: one
    baseline revision each (for frames built without a history, e.g. in a notebook)."""
    technologies = s.validate_frame(technologies, "technologies")
    links = s.validate_frame(technology_links, "technology_links")
    grouped = {int(t): group for t, group in links.groupby("technology_id")}
    texts = []
    for technology_id in technologies["technology_id"]:
        group = grouped.get(int(technology_id), links.iloc[0:0])
        kinds = group["kind"].astype(object)
        primary = group.loc[(kinds == "workforce_group").to_numpy() & group["is_primary"].to_numpy(bool), "code"]
        texts.append(json.dumps({kind: [str(code) for code in group.loc[(kinds == kind).to_numpy(), "code"]] for kind in s.LINK_KINDS}
                                | {"primary_workforce_group": str(primary.iloc[0]) if len(primary) else None}, sort_keys=True))
    moment = pd.Timestamp(since)
    history = technologies[["technology_id", "name", "type_code", "subtype_code", "time_to_deployment", "impact_workforce",
                            "impact_pathway", "impact_system", "last_reviewed", "is_demo"]].copy()
    history.insert(1, "recorded_at", moment)
    history.insert(2, "kind", "baseline")
    history.insert(3, "created_at", moment)
    history["links"] = texts
    return s.validate_frame(history.astype({"type_code": object}), "catalogue_history")
