"""All six input frames of the analysis (analysis/schemas.py), read from the database once.

The frames are read at one data version (storage/evidence_cache.py); :func:`assemble_inputs`
also keeps only evidence about technologies in the technologies frame, so frames built by hand
always agree too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from analysis.disclosure import DEFAULT_THRESHOLD
from analysis.schemas import FRAME_SCHEMAS, UNCLASSIFIED_TYPE, validate_frame  # noqa: F401 (UNCLASSIFIED_TYPE: part of this module's interface)

ANALYSIS_FRAMES: tuple[str, ...] = ("technologies", "technology_links", "adoption", "responses", "answers", "workshop_results")
DISCLOSURE_THRESHOLD_ENV = "ROADMAP_DISCLOSURE_THRESHOLD"
# A threshold of 1 turns disclosure control off; it needs this acknowledgement, word for word.
DISCLOSURE_OFF_ENV = "ROADMAP_DISCLOSURE_OFF_ACKNOWLEDGED"
DISCLOSURE_OFF_ACKNOWLEDGEMENT = "individual answers can be identified"
# Type shown for catalogue entries still waiting for classification (the analysis needs a type).


class DisclosureSettingError(ValueError):
    """ROADMAP_DISCLOSURE_THRESHOLD is not a whole number of at least 2, or is 1 without the
    acknowledgement."""


def disclosure_threshold(environ: Mapping[str, str] | None = None) -> int:
    """The smallest number of respondents whose evidence may be published
    (``ROADMAP_DISCLOSURE_THRESHOLD``, default 5). 1 switches disclosure control off and is only
    accepted with ``ROADMAP_DISCLOSURE_OFF_ACKNOWLEDGED`` set to the acknowledgement sentence."""
    environ = os.environ if environ is None else environ
    raw = environ.get(DISCLOSURE_THRESHOLD_ENV, "").strip()
    if not raw:
        return DEFAULT_THRESHOLD
    try:
        value = int(raw)
    except ValueError:
        raise DisclosureSettingError(f"{DISCLOSURE_THRESHOLD_ENV}={raw!r} is not a whole number") from None
    if value < 1:
        raise DisclosureSettingError(f"{DISCLOSURE_THRESHOLD_ENV}={value} must be at least 1")
    if value == 1 and environ.get(DISCLOSURE_OFF_ENV, "").strip().lower() != DISCLOSURE_OFF_ACKNOWLEDGEMENT:
        raise DisclosureSettingError(
            f"{DISCLOSURE_THRESHOLD_ENV}=1 publishes every respondent's answers; to accept that, also set "
            f"{DISCLOSURE_OFF_ENV}=\"{DISCLOSURE_OFF_ACKNOWLEDGEMENT}\"")
    return value


@dataclass(frozen=True)
class AnalysisInputs:
    """The validated input frames (see analysis/schemas.py) and the data version they were read at."""

    technologies: pd.DataFrame
    technology_links: pd.DataFrame
    adoption: pd.DataFrame
    responses: pd.DataFrame
    answers: pd.DataFrame
    workshop_results: pd.DataFrame
    data_version: int

    def frames(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in ANALYSIS_FRAMES}

    @property
    def contains_demo(self) -> bool:
        """Whether any technology or survey response is demonstration data."""
        return bool(self.technologies["is_demo"].any() or self.responses["is_demo"].any())


def assemble_inputs(frames: Mapping[str, pd.DataFrame], version: int) -> AnalysisInputs:
    """Validate the six frames and drop evidence about technologies that are not in ``technologies``
    (links, adoption records, per-technology answers and workshop results). A technology without a
    type (waiting for classification) gets the type ``unclassified``."""
    missing = [name for name in ANALYSIS_FRAMES if name not in frames]
    if missing:
        raise ValueError(f"missing analysis frame(s): {', '.join(missing)}")
    frames = dict(frames)
    technologies = frames["technologies"]
    if technologies["type_code"].isna().any():
        frames["technologies"] = technologies.assign(type_code=technologies["type_code"].astype(object).fillna(UNCLASSIFIED_TYPE))
    validated = {name: validate_frame(frames[name], name) for name in ANALYSIS_FRAMES}
    known = pd.Index(validated["technologies"]["technology_id"])
    for name in ("technology_links", "adoption", "workshop_results"):
        frame = validated[name]
        validated[name] = _rows(frame, frame["technology_id"].isin(known).to_numpy(), name)
    answers = validated["answers"]
    about_known = answers["technology_id"].isna().to_numpy() | answers["technology_id"].isin(known).to_numpy()
    validated["answers"] = _rows(answers, about_known, "answers")
    return AnalysisInputs(**validated, data_version=int(version))


def _rows(frame: pd.DataFrame, keep: np.ndarray, frame_name: str) -> pd.DataFrame:
    """``frame[keep]``, without copying millions of rows when every row is kept. A code column
    without a fixed vocabulary has the codes present as its categories: those of the dropped rows
    go too, so a frame kept up to date incrementally and one read afresh agree whatever was dropped."""
    if keep.all():
        return frame
    # Numbered afresh: a cached frame and a fresh read may have held different rows before this
    # filter (results of a technology deleted since), and must still come out identical.
    kept = frame[keep].reset_index(drop=True)
    present_only = [spec.name for spec in FRAME_SCHEMAS[frame_name] if spec.kind == "code" and spec.codes is None]
    return kept.assign(**{name: kept[name].cat.remove_unused_categories() for name in present_only})


def load_analysis_inputs(engine: Engine) -> AnalysisInputs:
    """Read every analysis input once, all of them at one data version (the one returned with
    them): the survey evidence column-wise in bulk, the rest in one snapshot
    (storage/evidence_cache.py; the app keeps such a cache per database and refreshes it
    incrementally)."""
    from storage.evidence_cache import EvidenceCache  # here: that module builds on this one

    return EvidenceCache().current(engine)

