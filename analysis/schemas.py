"""Input frames of the analysis layer: column definitions, vocabularies and validation.

The storage layer produces exactly these frames; analysts can build them by hand in a notebook.
Every public function in ``analysis`` validates its inputs with :func:`validate_frame`, which
returns a normalised copy (integer ids, datetimes, categorical code columns) or raises
:class:`FrameValidationError` naming the frame, the row and the field at fault.

Frames (one row per ...):

``technologies`` (technology)
    technology_id int, name str, type_code str, subtype_code str|NA,
    time_to_deployment horizon code|NA, impact_workforce / impact_pathway / impact_system
    level code|NA (the catalogue's desk assessment), last_reviewed datetime|NaT,
    updated_at datetime, is_demo bool.
``technology_links`` (link between a technology and a vocabulary code)
    technology_id int, kind clinical_area|workforce_group|point_of_care, code str,
    is_primary bool (True for the primary workforce group).
``adoption`` (status record of a technology at a site; history rows allowed)
    technology_id int, site_id int, region code, site_type code, status code,
    start_date datetime|NaT, end_date datetime|NaT (NaT while ongoing), updated_at datetime.
``responses`` (submitted survey response)
    response_id int, instrument str, submitted_at datetime, region / site_type / staff_group
    code|NA (profile answers copied out for filtering), is_demo bool, language code|NA (ISO 639-1 code
    of the language the response was given in; optional).
``answers`` (one answer; one row per selected code for multiple choice)
    response_id int, technology_id int|NA (NA for profile questions), variable str, value str.
``catalogue_history`` (one revision of a technology's catalogue entry; optional, for views as of a past day)
    technology_id int, recorded_at datetime, kind baseline|create|update|delete, created_at
    datetime|NaT (the technology's creation), name, type_code, subtype_code, the desk assessment
    (time_to_deployment, impact_*), last_reviewed, is_demo, links (JSON: clinical_area,
    workforce_group, primary_workforce_group, point_of_care).
``workshop_results`` (result of one workshop round for one technology and quantity)
    workshop_id int, round int, technology_id int, quantity str, category code,
    consensus in|out|none, n_participants int, rule str, closed_at datetime.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

# --- vocabularies (codes match storage/seed/vocabularies.yaml) -------------------------------

HORIZONS: tuple[str, ...] = ("at_scale", "within_1y", "1_3y", "over_3y")
IMPACT_LEVELS: tuple[str, ...] = ("low", "medium", "high")
ADOPTION_STATUSES: tuple[str, ...] = ("exploring", "piloting", "live", "scaled", "discontinued")
# The ordinal maturity scale used by the adoption-stage estimate (discontinued sits outside it).
ADOPTION_STAGES: tuple[str, ...] = ("exploring", "piloting", "live", "scaled")
LIVE_STATUSES: tuple[str, ...] = ("live", "scaled")
REGIONS: tuple[str, ...] = (
    "east_of_england",
    "london",
    "midlands",
    "north_east_yorkshire",
    "north_west",
    "south_east",
    "south_west",
)
SITE_TYPES: tuple[str, ...] = (
    "acute_trust",
    "mental_health_trust",
    "community_provider",
    "ambulance_trust",
    "primary_care",
    "icb",
    "other",
)
LINK_KINDS: tuple[str, ...] = ("clinical_area", "workforce_group", "point_of_care")
CONSENSUS_VALUES: tuple[str, ...] = ("in", "out", "none")
# The type code the analysis gives a technology still to classify (it has none in the catalogue).
UNCLASSIFIED_TYPE = "unclassified"
ARCHETYPES: tuple[str, ...] = ("shaper", "driver", "creator", "embedder", "user")
TRAINING_TYPES: tuple[str, ...] = ("foundational", "archetype", "product", "none")

# Survey answer codes of the clinician survey's per-technology variables.
DONT_KNOW = "dont_know"
USE_FREQUENCIES: tuple[str, ...] = ("daily", "weekly", "monthly", "rarely", "not_used")
USER_FREQUENCIES: tuple[str, ...] = ("daily", "weekly", "monthly", "rarely")
TIME_EFFECTS: tuple[str, ...] = ("saved", "added", "no_change", DONT_KNOW)

# --- estimated quantities ---------------------------------------------------------------------

ORDINAL_QUANTITIES: tuple[str, ...] = (
    "time_to_deployment",
    "impact_workforce",
    "impact_pathway",
    "impact_system",
    "adoption_stage",
)
NUMERIC_QUANTITIES: tuple[str, ...] = ("minutes_per_case",)
QUANTITIES: tuple[str, ...] = ORDINAL_QUANTITIES + NUMERIC_QUANTITIES
# Quantities a workshop can rate (workshop_results.quantity).
WORKSHOP_QUANTITIES: tuple[str, ...] = (
    "time_to_deployment",
    "impact_workforce",
    "impact_pathway",
    "impact_system",
)

QUANTITY_CATEGORIES: dict[str, tuple[str, ...]] = {
    "time_to_deployment": HORIZONS,
    "impact_workforce": IMPACT_LEVELS,
    "impact_pathway": IMPACT_LEVELS,
    "impact_system": IMPACT_LEVELS,
    "adoption_stage": ADOPTION_STAGES,
}
# Survey variable feeding each ordinal quantity.
SURVEY_VARIABLE: dict[str, str] = {
    "time_to_deployment": "tech_time_to_scale",
    "impact_workforce": "tech_impact_workforce",
    "impact_pathway": "tech_impact_pathway",
    "impact_system": "tech_impact_system",
    "adoption_stage": "tech_stage",
}
# Catalogue (desk assessment) column feeding each quantity; adoption_stage uses adoption records.
CATALOGUE_COLUMN: dict[str, str] = {
    "time_to_deployment": "time_to_deployment",
    "impact_workforce": "impact_workforce",
    "impact_pathway": "impact_pathway",
    "impact_system": "impact_system",
}

VAR_USE_FREQUENCY = "tech_use_frequency"
VAR_STAGE = "tech_stage"
VAR_TIME_EFFECT = "tech_time_effect"
VAR_MINUTES = "tech_minutes_per_case"
VAR_TRAINING_RECEIVED = "tech_training_received"
VAR_TRAINING_NEEDED = "tech_training_needed"
VAR_ARCHETYPES = "archetypes"

STRENGTHS: tuple[str, ...] = ("thin", "moderate", "strong")
# Kinds of catalogue revision (storage.catalogue_history): "baseline" is the state found when the
# history began, for records older than it.
REVISION_KINDS: tuple[str, ...] = ("baseline", "create", "update", "delete")


class FrameValidationError(ValueError):
    """An input frame does not match its documented schema."""


@dataclass(frozen=True)
class ColumnSpec:
    """One documented input column.

    kind: ``int`` (integer ids and counts), ``str`` (free text), ``code`` (a vocabulary code from
    ``codes``; stored as a categorical), ``bool`` or ``datetime``.
    """

    name: str
    kind: Literal["int", "str", "code", "bool", "datetime"]
    nullable: bool = False
    codes: tuple[str, ...] | None = None
    ordered: bool = False
    # An absent optional column is added with every value missing (a nullable column added after
    # frames were first written, such as responses.language).
    optional: bool = False


# The catalogue's desk assessment, in the technologies frame and in each revision of its history.
DESK_ASSESSMENT: tuple[ColumnSpec, ...] = (
    ColumnSpec("time_to_deployment", "code", nullable=True, codes=HORIZONS, ordered=True),
    ColumnSpec("impact_workforce", "code", nullable=True, codes=IMPACT_LEVELS, ordered=True),
    ColumnSpec("impact_pathway", "code", nullable=True, codes=IMPACT_LEVELS, ordered=True),
    ColumnSpec("impact_system", "code", nullable=True, codes=IMPACT_LEVELS, ordered=True),
)

FRAME_SCHEMAS: dict[str, tuple[ColumnSpec, ...]] = {
    "technologies": (
        ColumnSpec("technology_id", "int"),
        ColumnSpec("name", "str"),
        ColumnSpec("type_code", "code"),
        ColumnSpec("subtype_code", "code", nullable=True),
        *DESK_ASSESSMENT,
        ColumnSpec("last_reviewed", "datetime", nullable=True),
        ColumnSpec("updated_at", "datetime"),
        ColumnSpec("is_demo", "bool"),
    ),
    "technology_links": (
        ColumnSpec("technology_id", "int"),
        ColumnSpec("kind", "code", codes=LINK_KINDS),
        ColumnSpec("code", "code"),
        ColumnSpec("is_primary", "bool"),
    ),
    "adoption": (
        ColumnSpec("technology_id", "int"),
        ColumnSpec("site_id", "int"),
        ColumnSpec("region", "code", codes=REGIONS),
        ColumnSpec("site_type", "code", codes=SITE_TYPES),
        ColumnSpec("status", "code", codes=ADOPTION_STATUSES),
        ColumnSpec("start_date", "datetime", nullable=True),
        ColumnSpec("end_date", "datetime", nullable=True),
        ColumnSpec("updated_at", "datetime"),
    ),
    "responses": (
        ColumnSpec("response_id", "int"),
        ColumnSpec("instrument", "str"),
        ColumnSpec("submitted_at", "datetime"),
        ColumnSpec("region", "code", nullable=True, codes=REGIONS),
        ColumnSpec("site_type", "code", nullable=True, codes=SITE_TYPES),
        ColumnSpec("staff_group", "code", nullable=True),
        ColumnSpec("is_demo", "bool"),
        ColumnSpec("language", "code", nullable=True, optional=True),
    ),
    "answers": (
        ColumnSpec("response_id", "int"),
        ColumnSpec("technology_id", "int", nullable=True),
        # Free vocabularies, stored as categoricals: the answers frame is the big one and every
        # consumer compares these codes.
        ColumnSpec("variable", "code"),
        ColumnSpec("value", "code"),
    ),
    "workshop_results": (
        ColumnSpec("workshop_id", "int"),
        ColumnSpec("round", "int"),
        ColumnSpec("technology_id", "int"),
        ColumnSpec("quantity", "code", codes=WORKSHOP_QUANTITIES),
        ColumnSpec("category", "code", nullable=True),  # empty when consensus is out/none
        ColumnSpec("consensus", "code", codes=CONSENSUS_VALUES),
        ColumnSpec("n_participants", "int"),
        ColumnSpec("rule", "str"),
        ColumnSpec("closed_at", "datetime"),
    ),
    "catalogue_history": (
        ColumnSpec("technology_id", "int"),
        ColumnSpec("recorded_at", "datetime"),
        ColumnSpec("kind", "code", codes=REVISION_KINDS),
        ColumnSpec("created_at", "datetime", nullable=True),
        ColumnSpec("name", "str", nullable=True),
        ColumnSpec("type_code", "code", nullable=True),
        ColumnSpec("subtype_code", "code", nullable=True),
        *DESK_ASSESSMENT,
        ColumnSpec("last_reviewed", "datetime", nullable=True),
        ColumnSpec("is_demo", "bool"),
        ColumnSpec("links", "str"),
    ),
}


def empty_frame(frame_name: str) -> pd.DataFrame:
    """An empty, valid frame of the named kind (for sources with no data yet)."""
    columns = {spec.name: pd.Series([], dtype=object) for spec in _schema(frame_name)}
    return validate_frame(pd.DataFrame(columns), frame_name)


def validate_frame(frame: pd.DataFrame, frame_name: str) -> pd.DataFrame:
    """Check ``frame`` against the documented schema of ``frame_name`` and return a normalised copy.

    Normalisation: ids become ``int64`` (``Int64`` when nullable), dates ``datetime64[ns]``,
    booleans ``bool``, code columns ``category`` (ordered for ordinal scales); extra columns are
    kept unchanged. Raises :class:`FrameValidationError` naming the row label and field of the
    first offending value, e.g. ``adoption row 3, field 'status': 'Live' is not one of ...``.
    """
    if not isinstance(frame, pd.DataFrame):
        raise FrameValidationError(f"{frame_name}: expected a pandas DataFrame, got {type(frame).__name__}")
    specs = _schema(frame_name)
    absent = [spec.name for spec in specs if spec.optional and spec.name not in frame.columns]
    if absent:
        frame = frame.assign(**{name: pd.Series(pd.NA, index=frame.index, dtype="object") for name in absent})
    missing = [spec.name for spec in specs if spec.name not in frame.columns]
    if missing:
        raise FrameValidationError(f"{frame_name}: missing column(s) {', '.join(repr(m) for m in missing)}")
    if frame.attrs.get(VALIDATED_MARK) == frame_name and all(
            _already_normalised(frame[spec.name], spec) for spec in specs):
        # Validated before (the mark survives filtering and copies) and still normalised: code
        # columns are categoricals that cannot hold unknown codes, ids still integers.
        return frame
    # Shallow: copy-on-write keeps the caller's frame as it is, and a deep copy would hold every
    # column twice (hundreds of megabytes for the answers at national scale).
    result = frame.copy(deep=False)
    for spec in specs:
        result[spec.name] = _normalise_column(result[spec.name], spec, frame_name)
    result.attrs[VALIDATED_MARK] = frame_name
    return result


VALIDATED_MARK = "analysis_validated_as"


def _schema(frame_name: str) -> tuple[ColumnSpec, ...]:
    try:
        return FRAME_SCHEMAS[frame_name]
    except KeyError:
        known = ", ".join(FRAME_SCHEMAS)
        raise FrameValidationError(f"unknown frame {frame_name!r}; known frames: {known}") from None


def _fail(frame_name: str, column: pd.Series, bad_mask: np.ndarray | pd.Series, problem: str) -> None:
    bad_mask = np.asarray(bad_mask, dtype=bool)
    if not bad_mask.any():
        return
    position = int(np.flatnonzero(bad_mask)[0])
    label = column.index[position]
    raw = column.iloc[position]
    count = int(bad_mask.sum())
    more = f" ({count - 1} more row(s) with the same problem)" if count > 1 else ""
    shown = "value" if _is_missing(raw) else repr(raw)
    raise FrameValidationError(f"{frame_name} row {label}, field {column.name!r}: {shown} {problem}{more}")


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _normalise_column(column: pd.Series, spec: ColumnSpec, frame_name: str) -> pd.Series:
    if _already_normalised(column, spec):
        # Fast path for frames that were validated before: only the required-field check remains.
        if not spec.nullable:
            _fail(frame_name, column, column.isna().to_numpy(), "is missing but the field is required")
        return column
    missing = column.isna().to_numpy()
    if not spec.nullable:
        _fail(frame_name, column, missing, "is missing but the field is required")
    if spec.kind == "int":
        return _as_int(column, spec, frame_name, missing)
    if spec.kind == "datetime":
        return _as_datetime(column, spec, frame_name, missing)
    if spec.kind == "bool":
        return _as_bool(column, frame_name)
    if spec.kind == "code":
        return _as_code(column, spec, frame_name)
    return _as_text(column, frame_name)


@lru_cache(maxsize=None)
def _code_dtype(spec: ColumnSpec) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(spec.codes or ()), ordered=spec.ordered)


def _already_normalised(column: pd.Series, spec: ColumnSpec) -> bool:
    dtype = column.dtype
    if spec.kind == "int":
        return dtype == ("Int64" if spec.nullable else np.int64)
    if spec.kind == "datetime":
        return dtype == "datetime64[ns]"
    if spec.kind == "bool":
        return dtype == bool
    if spec.kind == "code":
        if not isinstance(dtype, pd.CategoricalDtype):
            return False
        return spec.codes is None or dtype == _code_dtype(spec)
    return pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype)


def _as_int(column: pd.Series, spec: ColumnSpec, frame_name: str, missing: np.ndarray) -> pd.Series:
    if pd.api.types.is_integer_dtype(column.dtype):
        return column.astype("Int64" if spec.nullable else "int64")
    numbers = pd.to_numeric(column, errors="coerce")
    _fail(frame_name, column, numbers.isna().to_numpy() & ~missing, "is not a number")
    values = numbers.to_numpy(dtype=float, na_value=np.nan)
    _fail(frame_name, column, ~np.isnan(values) & (values != np.round(values)), "is not a whole number")
    return numbers.astype("Int64" if spec.nullable else "int64")


def _as_datetime(column: pd.Series, spec: ColumnSpec, frame_name: str, missing: np.ndarray) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        converted = column
    else:
        converted = pd.to_datetime(column, errors="coerce", format="mixed")
        _fail(frame_name, column, converted.isna().to_numpy() & ~missing, "is not a date")
    if getattr(converted.dt, "tz", None) is not None:
        converted = converted.dt.tz_convert("UTC").dt.tz_localize(None)
    return converted.astype("datetime64[ns]")


_TRUE_WORDS = {"true", "1", "yes", "y", "t"}
_FALSE_WORDS = {"false", "0", "no", "n", "f"}


def _as_bool(column: pd.Series, frame_name: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.astype(bool)
    words = column.astype(str).str.strip().str.lower()
    truthy = words.isin(_TRUE_WORDS).to_numpy()
    falsy = words.isin(_FALSE_WORDS).to_numpy()
    _fail(frame_name, column, ~(truthy | falsy), "is not true/false")
    return pd.Series(truthy, index=column.index, name=column.name)


def _as_text(column: pd.Series, frame_name: str) -> pd.Series:
    if isinstance(column.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(column.dtype):
        return column
    if column.dtype == object:
        not_text = ~column.map(lambda v: isinstance(v, str) or v is None or v is pd.NA or v != v).to_numpy(bool)
        _fail(frame_name, column, not_text, "is not text")
        return column
    return column.astype(str)


def _as_code(column: pd.Series, spec: ColumnSpec, frame_name: str) -> pd.Series:
    if spec.codes is None:
        if isinstance(column.dtype, pd.CategoricalDtype):
            return column
        return _as_text(column, frame_name).astype("category")
    target = _code_dtype(spec)
    if isinstance(column.dtype, pd.CategoricalDtype) and column.dtype == target:
        return column
    # Factorise first: the lookup then runs once per distinct value, whatever the string storage.
    codes, uniques = pd.factorize(column)
    positions = np.append(pd.Index(list(spec.codes), dtype=object).get_indexer(np.asarray(uniques, dtype=object)), -1)
    category_codes = positions[codes]
    _fail(frame_name, column, (category_codes < 0) & (codes >= 0), f"is not one of {', '.join(spec.codes)}")
    return pd.Series(pd.Categorical.from_codes(category_codes, dtype=target), index=column.index, name=column.name)


def check_known_technologies(frame: pd.DataFrame, frame_name: str, technology_ids: pd.Index) -> None:
    """Raise if ``frame.technology_id`` refers to a technology missing from ``technologies``."""
    ids = frame["technology_id"]
    present = ids.notna().to_numpy()
    unknown = present & ~ids.isin(technology_ids).to_numpy()
    _fail(frame_name, ids, unknown, "is not a technology_id in technologies")


def check_unique(frame: pd.DataFrame, frame_name: str, columns: list[str]) -> None:
    """Raise if the key ``columns`` repeat (e.g. two rows for one technology_id)."""
    duplicated = frame.duplicated(subset=columns, keep="first").to_numpy()
    _fail(frame_name, frame[columns[0]], duplicated, f"repeats the key ({', '.join(columns)})")
