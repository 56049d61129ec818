"""Tables for people (pure pandas): the one function, :func:`for_people`, that turns any table into
what a reader sees or downloads as a view — vocabulary labels instead of codes, plain headings,
shares as percentages, dates as dates and flags as yes/no.

Every table shown in the app or the report, and every "for people" download, goes through it.
Machine exports (the estimates export, flat responses, the catalogue template) never do: they keep
the codes, which other tools read.

``labels`` maps a vocabulary name to {code: label} (the app reads it from the database); the fixed
names below (quantities, dimensions) are added by :func:`for_people` itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from analysis.schemas import UNCLASSIFIED_TYPE

Labels = Mapping[str, Mapping[str, str]]

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
DIMENSION_LABELS = {
    "region": "NHS region",
    "site_type": "Site type",
    "clinical_area": "Clinical area",
    "workforce_group": "Workforce group",
    "point_of_care": "Point of care",
}
# Names the code itself knows, beside the database's vocabularies.
FIXED_LABELS: dict[str, Mapping[str, str]] = {"quantity": QUANTITY_LABELS, "dimension": DIMENSION_LABELS,
                                              "technology_type": {UNCLASSIFIED_TYPE: "To classify"}}


def with_fixed_labels(labels: Labels | None) -> dict[str, dict[str, str]]:
    """The database's labels with the names the code knows (a database label wins)."""
    merged = {name: dict(mapping) for name, mapping in FIXED_LABELS.items()}
    for name, mapping in (labels or {}).items():
        merged[name] = {**merged.get(name, {}), **mapping}
    return merged


@dataclass(frozen=True)
class ByRow:
    """Cells whose vocabulary is named by another column of the same row: the value of ``column``
    itself, or what ``vocabulary_of`` maps it to (an estimate's point is read by its quantity)."""

    column: str
    vocabulary_of: Mapping[str, str] | None = None

    def vocabulary(self, value: object) -> str | None:
        if not isinstance(value, str):
            return None
        return self.vocabulary_of.get(value) if self.vocabulary_of is not None else value


BY_QUANTITY = ByRow("quantity", QUANTITY_VOCABULARY)

# Column name -> the vocabulary of its codes, wherever the column appears.
COLUMN_VOCABULARIES: dict[str, str | ByRow] = {
    "type_code": "technology_type",
    "subtype_code": "technology_subtype",
    "region": "region",
    "status": "adoption_status",
    "site_type": "site_type",
    "workforce_group": "workforce_group",
    "primary_workforce_group": "workforce_group",
    "clinical_area": "clinical_area",
    "point_of_care": "point_of_care",
    "staff_group": "staff_group",
    "archetype": "archetype",
    "training_type": "training_type",
    "horizon": "deployment_horizon",
    "horizon_lower": "deployment_horizon",
    "horizon_upper": "deployment_horizon",
    "time_to_deployment": "deployment_horizon",
    "quantity": "quantity",
    "dimension": "dimension",
    "code": ByRow("dimension"),
    **{f"{part}{side}": BY_QUANTITY for part in ("point", "lower", "upper")
       for side in ("", "_before", "_after", "_default", "_new")},
    "category": ByRow("question", QUANTITY_VOCABULARY),  # a workshop item's band, read by its question
}

# Plain headings; any other column reads as its name with spaces ("came true" -> "Came true").
HEADINGS = {
    "technology_id": "ID", "name": "Technology", "type_code": "Type", "subtype_code": "Subtype",
    "quantity": "Quantity", "point": "Estimate", "lower": "90% interval from", "upper": "90% interval to",
    "n_catalogue": "Catalogue evidence", "n_survey": "Survey respondents", "n_workshop": "Workshop results",
    "effective_n": "Weighted evidence", "agreement": "Agreement", "strength": "Evidence strength",
    "newest_evidence": "Newest evidence", "survey_note": "Survey evidence", "history_note": "History",
    "region": "NHS region", "status": "Status", "site_type": "Site type", "sites": "Sites",
    "technologies": "Technologies", "share": "Share", "type_technologies": "Technologies of the type",
    "type_share": "Share of all (type)", "denominator": "Technologies of the type",
    "workforce_group": "Workforce group", "primary_workforce_group": "Primary workforce group",
    "clinical_area": "Clinical area", "point_of_care": "Point of care",
    "horizon": "Time to deployment", "horizon_lower": "90% interval from", "horizon_upper": "90% interval to",
    "years": "Years", "years_lower": "Years from", "years_upper": "Years to",
    "dimension": "Dimension", "code": "Where", "live_elsewhere": "Live somewhere", "live_here": "Live here",
    "gap": "Live elsewhere, not here", "gap_share": "Share not live here",
    "row": "Row", "column": "Time to deployment", "live_or_scaled_sites": "Live or scaled sites",
    "technologies_within_1y": "Within 1 year", "technologies_within_3y": "Within 3 years",
    "technologies_within_5y": "Within 5 years", "weighted_within_1y": "Weighted impact within 1 year",
    "weighted_within_3y": "Weighted impact within 3 years", "weighted_within_5y": "Weighted impact within 5 years",
    "median_minutes_per_case": "Median minutes per case", "technologies_with_minutes": "Technologies with time evidence",
    "archetype": "Archetype", "training_type": "Training", "received": "Received", "needed": "Needed",
    "respondents": "Respondents", "suppression_note": "Note",
    "survey_answers": "Survey respondents", "survey_withheld": "Survey evidence withheld",
    "workshop_results": "Workshop results", "last_reviewed": "Last reviewed", "days_since_review": "Days since review",
    "no_survey": "No survey evidence", "no_workshop": "No workshop evidence", "stale": "Stale",
    "missing_score": "Missing evidence (of 3)", "rank": "Rank",
    "point_before": "Estimate before", "point_after": "Estimate after", "direction": "Moved",
    "interval_before": "90% interval before", "interval_after": "90% interval after",
    "strength_before": "Strength before", "strength_after": "Strength after",
    "effective_n_before": "Weighted evidence before", "effective_n_after": "Weighted evidence after",
    "survey_added": "Survey respondents added", "workshop_results_added": "Workshop results added",
    "sites_added": "Sites added", "catalogue_edits": "Catalogue edits", "counts_note": "Note",
    "point_default": "Estimate (defaults)", "point_new": "Estimate (your settings)",
    "strength_default": "Strength (defaults)", "strength_new": "Strength (your settings)",
    "interval_default": "90% interval (defaults)", "interval_new": "90% interval (your settings)",
    "shift": "Shift (categories)", "changed": "Changed",
    "default_settings": "Default settings", "your_settings": "Your settings", "change": "Change",
    "figure": "Figure", "value": "Value", "source": "Source", "reference": "Reference", "weight": "Weight",
    "used": "Used", "note": "Note", "date": "Date", "month": "Month",
    "bin": "Predicted chance", "predicted": "Predicted (mean)", "observed": "Came true",
    "calls": "Calls",
    # Workshop statistics (analysis.consensus): their usual short names.
    "n": "n", "n_low": "n low", "n_mid": "n mid", "n_high": "n high", "q1": "Q1", "q3": "Q3", "iqr": "IQR",
    "pct_low": "% low", "pct_mid": "% mid", "pct_high": "% high", "p30": "P30", "p70": "P70", "ipr": "IPR",
    "iprcp": "IPRCP", "ipras": "IPRAS", "category": "Band", "item": "Item", "group": "Group",
    "response_rate_pct": "Response rate (%)", "share_changed": "Share who changed", "iqr_previous": "IQR before",
    "iqr_current": "IQR now", "iqr_change": "IQR change", "depends_on_rule": "Depends on the rule",
    "dropped_after_round": "Dropped after round", "drop_reason": "Why dropped",
    "comet_70_15": "COMET 70/15", "comet_every_group": "COMET in every group", "ram": "RAND/UCLA",
    "workshop": "This workshop's rule",
}
# Chart positions and flags that only drive charts or code.
INTERNAL_COLUMNS = frozenset({"tile_row", "tile_col", "shares_can_exceed_100", "point_index", "point_index_default",
                              "point_index_new", "lower_index", "upper_index"})
# Fractions read as percentages, beside any column named "share", "..._share" or "share ...".
PERCENT_COLUMNS = frozenset({"predicted", "observed"})
DASH = "–"


def heading(column: object) -> str:
    """The plain heading of a column: its entry in HEADINGS, else its name with spaces, capitalised."""
    name = str(column)
    if name in HEADINGS:
        return HEADINGS[name]
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def label_codes(codes: pd.Series, mapping: Mapping[str, str], missing: object = None) -> pd.Series:
    """Codes as their labels; an unknown code stays as it is, an absent one reads ``missing``."""
    def one(code: object) -> object:
        if code is None or (not isinstance(code, str) and pd.isna(code)):
            return missing
        return mapping.get(str(code), code) if isinstance(code, str) else code
    return pd.Series([one(code) for code in codes], index=codes.index, dtype=object)


def _is_percent(column: str) -> bool:
    return column in PERCENT_COLUMNS or column == "share" or column.endswith("_share") or column.startswith(("share ", "share_"))


def _percent(value: object) -> object:
    if value is None or isinstance(value, str) or pd.isna(value):
        return value
    return f"{float(value):.1%}"


def _dates(values: pd.Series) -> pd.Series:
    """Datetimes as dates, or with the time of day (to the minute, or second) where any has one;
    missing stays missing."""
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    present = values.dropna()
    if (present != present.dt.floor("min")).any():  # seconds matter (the audit trail)
        shown = values.dt.strftime("%Y-%m-%d %H:%M:%S")
    elif (present != present.dt.normalize()).any():
        shown = values.dt.strftime("%Y-%m-%d %H:%M")
    else:
        shown = values.dt.date
    return shown.astype(object).where(values.notna(), None)


def value_text(value: object) -> str:
    """An estimate's value (or one end of its interval) as text: missing as a dash, minutes with their sign."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return DASH
    return f"{value:+.1f}" if isinstance(value, float) else str(value)


def _labelled(frame: pd.DataFrame, column: object, vocabulary: str | ByRow | None, every_label: Labels) -> pd.Series | None:
    """``frame[column]``'s codes as their labels, or None when the column has no vocabulary."""
    values = frame[column]
    if isinstance(vocabulary, ByRow) and vocabulary.column in frame:
        return pd.Series([
            every_label.get(vocabulary.vocabulary(by) or "", {}).get(code, code) if isinstance(code, str) else code
            for by, code in zip(frame[vocabulary.column], values, strict=True)], index=frame.index, dtype=object)
    if isinstance(vocabulary, str):
        return label_codes(values, every_label.get(vocabulary, {}))
    return None


def with_label_columns(frame: pd.DataFrame, labels: Labels | None) -> pd.DataFrame:
    """A machine export with, after each code column (COLUMN_VOCABULARIES), a ``<column>_label``
    column of its labels: the codes stay as they are for programs, the labels are there for people."""
    every_label = with_fixed_labels(labels)
    columns: dict[str, pd.Series] = {}
    for column in frame.columns:
        columns[column] = frame[column]
        labelled = _labelled(frame, column, COLUMN_VOCABULARIES.get(str(column)), every_label)
        if labelled is not None:
            columns[f"{column}_label"] = labelled
    return pd.DataFrame(columns, index=frame.index)


def for_people(frame: pd.DataFrame, labels: Labels | None, *,
               vocabularies: Mapping[str, str | ByRow | None] | None = None,
               headings: Mapping[str, str] | None = None,
               intervals: Mapping[str, tuple[str, str]] | None = None,
               columns: Iterable[str] | None = None) -> pd.DataFrame:
    """``frame`` as people read it.

    * codes become their labels: each column in COLUMN_VOCABULARIES (or ``vocabularies``, which
      adds to and overrides it; None leaves a column as it is);
    * ``intervals`` {new column: (from column, to column)} join two labelled columns as "from – to"
      (the two columns are dropped);
    * shares read as percentages ("6.9%"), datetimes as dates, true/false as yes/no;
    * chart-only columns are dropped, ``columns`` (when given) chooses and orders the rest;
    * headings are plain words (HEADINGS, ``headings``, else the name with spaces).

    Texts already in a cell ("suppressed (<5)", "withheld (<5)") are kept as they are.
    """
    every_label = with_fixed_labels(labels)
    spec = {**COLUMN_VOCABULARIES, **(vocabularies or {})}
    shown = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        labelled = _labelled(frame, column, spec.get(str(column)), every_label)
        if labelled is not None:
            shown[column] = labelled
        elif pd.api.types.is_bool_dtype(values.dtype):
            shown[column] = pd.Series([None if pd.isna(v) else "yes" if v else "no" for v in values], index=frame.index, dtype=object)
        elif pd.api.types.is_datetime64_any_dtype(values.dtype):
            shown[column] = _dates(values)
        elif _is_percent(str(column)) and pd.api.types.is_numeric_dtype(values.dtype):
            shown[column] = values.map(_percent).astype(object)
        else:
            shown[column] = values
    for name, (low, high) in (intervals or {}).items():
        shown[name] = [f"{value_text(a)} – {value_text(b)}" for a, b in zip(shown[low], shown[high], strict=True)]
        shown = shown.drop(columns=[low, high])
    shown = shown.drop(columns=[c for c in shown.columns if c in INTERNAL_COLUMNS])
    if columns is not None:
        shown = shown[[c for c in columns if c in shown.columns]]
    names = {**HEADINGS, **(headings or {})}
    return shown.rename(columns=lambda c: names.get(str(c), heading(c)))
