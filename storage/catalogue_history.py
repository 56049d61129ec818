"""The catalogue's history (table ``catalogue_revision``, part of the audit trail): written with
every catalogue change, read as the analysis frame ``catalogue_history`` (analysis/schemas.py) so
the analysis can rebuild the catalogue as it stood on any day (analysis/as_of.py).

Only what the analysis reads is kept: the classification, the desk assessment, the review date
and the links. Writers call :func:`record_revisions` in their own transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from storage.models.base import utcnow
from storage.models.catalogue import CatalogueRevision

REVISION_FIELDS = ("name", "type_code", "subtype_code", "time_to_deployment", "impact_workforce", "impact_pathway",
                   "impact_system", "last_reviewed", "is_demo")
HISTORY_COLUMNS = ("technology_id", "recorded_at", "kind", "created_at", *REVISION_FIELDS, "links")


def links_json(data: Any) -> str:
    """A technology's links (from a TechnologyInput or anything with the same fields) as JSON."""
    return json.dumps({
        "clinical_area": list(data.clinical_areas),
        "workforce_group": list(data.workforce_groups),
        "primary_workforce_group": data.primary_workforce_group,
        "point_of_care": list(data.points_of_care),
    }, sort_keys=True)


def record_revisions(session: Session, changes: Iterable[tuple[int, Any]], kind: str, *,
                     at: datetime | None = None, created_at: datetime | None = None) -> None:
    """Append one revision per (technology id, TechnologyInput) in the caller's transaction.

    ``kind`` is create, update or delete (a delete takes ``None`` for the input). ``at`` defaults
    to now; ``created_at`` is the technology's creation time when it is being created (or its
    stored one, which the caller passes for demo data written as of an earlier date)."""
    moment = at or utcnow()
    rows = []
    for technology_id, data in changes:
        row: dict[str, Any] = {"technology_id": technology_id, "recorded_at": moment, "kind": kind,
                               "created_at": created_at or (moment if kind == "create" else None)}
        if data is None:
            row.update({field: None for field in REVISION_FIELDS}, is_demo=False, links="{}")
        else:
            row.update({field: getattr(data, field) for field in REVISION_FIELDS}, links=links_json(data))
        rows.append(row)
    for start in range(0, len(rows), 1000):
        session.execute(insert(CatalogueRevision), rows[start:start + 1000])


def load_catalogue_history(engine: Engine) -> pd.DataFrame:
    """Every revision, oldest first, as the ``catalogue_history`` frame."""
    columns = [getattr(CatalogueRevision, name) for name in HISTORY_COLUMNS]
    with engine.connect() as connection:
        rows = connection.execute(select(*columns).order_by(CatalogueRevision.recorded_at, CatalogueRevision.id)).all()
    frame = pd.DataFrame([tuple(row) for row in rows], columns=list(HISTORY_COLUMNS))
    for column in ("recorded_at", "created_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_convert(None)
    frame["last_reviewed"] = pd.to_datetime(frame["last_reviewed"])
    frame["is_demo"] = frame["is_demo"].astype(bool)
    frame["technology_id"] = frame["technology_id"].astype("int64")
    return frame
