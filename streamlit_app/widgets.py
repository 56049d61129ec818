"""Small UI pieces shared by pages: safe text, demo banner, downloads, problem lists, cached reads."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import streamlit as st
from sqlalchemy.exc import DBAPIError

from analysis.labelling import for_people
from storage.catalogue import load_frames
from storage.db import read_session
from storage.exports import MIME_TYPES, table_bytes
from storage.vocabularies import EDITABLE_VOCABULARIES, SEEDED_VOCABULARIES, labels, terms
from streamlit_app.auth import record_ui_event
from streamlit_app.runtime import current_data_version, database_unreachable, get_engine

_log = logging.getLogger(__name__)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


# Streamlit's date fields draw day and month as spin buttons narrower than WCAG 2.2's 24 px touch
# target; a clinician on a phone taps the wrong one. A fixed style sheet (no user text) widens them.
APP_STYLE = ("<style>[data-testid='stDateInput'] [role='spinbutton'] "
             "{ display: inline-block; min-width: 24px; text-align: center; }"
             # Each item of the workshop rating form starts below a rule (its rating widget's key
             # begins ws_rate_): drawn here rather than by a box element per item.
             "[class*='st-key-ws_rate_'] { border-top: 1px solid #d8dde0; padding-top: 0.75rem; }</style>")


def md_escape(text: object) -> str:
    """User text for a markdown element (title, caption...): shown literally, never as a link or markup."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


SHORT_NAME_LENGTH = 120


def shortened(text: str, limit: int = SHORT_NAME_LENGTH) -> str:
    """Text cut to ``limit`` characters with an ellipsis, for pickers and headings: real catalogue names
    can run to thousands of characters (lists of device models), which would bury a page."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


@st.cache_data(show_spinner=False, max_entries=4)
def _catalogue_frames(url: str, version: int) -> dict[str, pd.DataFrame]:
    return load_frames(get_engine())


def catalogue_frames() -> dict[str, pd.DataFrame]:
    """Catalogue frames, cached on the data version so edits and imports show on the next run."""
    engine = get_engine()
    return _catalogue_frames(engine.url.render_as_string(hide_password=False), current_data_version())


@st.cache_data(show_spinner=False, max_entries=4)
def _vocabulary_labels(url: str, version: int) -> dict[str, dict[str, str]]:
    with read_session(get_engine()) as session:
        names = set(SEEDED_VOCABULARIES) | set(EDITABLE_VOCABULARIES)
        return {name: labels(session, name) for name in names}


def vocabulary_labels() -> dict[str, dict[str, str]]:
    engine = get_engine()
    return _vocabulary_labels(engine.url.render_as_string(hide_password=False), current_data_version())


@st.cache_data(show_spinner=False, max_entries=64)
def _active_codes(url: str, version: int, vocabulary: str) -> list[str]:
    with read_session(get_engine()) as session:
        return [t.code for t in terms(session, vocabulary)]


def vocabulary_options(vocabulary: str) -> list[str]:
    """Active codes of a vocabulary in their display order (format them with vocabulary_labels);
    cached on the data version, which every vocabulary edit bumps."""
    engine = get_engine()
    return list(_active_codes(engine.url.render_as_string(hide_password=False), current_data_version(), vocabulary))


DATABASE_SAVE_FAILED = ("The database is not reachable just now — nothing was saved; your answers are still on this page. "
                        "Try again in a moment.")
DATABASE_READ_FAILED = ("The database is not reachable just now, so this part of the page cannot be shown. "
                        "It will come back by itself; try again in a moment.")


@contextmanager
def database_errors(message: str = DATABASE_SAVE_FAILED, *, stop: bool = False) -> Iterator[None]:
    """Show ``message`` as an error, instead of a traceback, when the database cannot be reached
    inside the block; the rest of the page still renders, so form answers stay on screen (with
    ``stop``, the page ends there: for reads nothing after the block can do without).

    Wrap every save (and any read a page cannot do without). Other database errors propagate.
    """
    try:
        yield
    except DBAPIError as error:
        if not database_unreachable(error):
            raise
        _log.warning("database unreachable: %s", error.__class__.__name__, exc_info=True)
        st.error(message, icon=":material/cloud_off:")
        if stop:
            st.stop()


def demo_banner(frame: pd.DataFrame) -> None:
    if "is_demo" in frame and frame["is_demo"].any():
        st.warning("This database contains **demonstration data** (records named “Demo: …”). It is synthetic and describes no real product.", icon=":material/science:")


def record_download(file_stem: str, fmt: str, rows: int) -> None:
    """Audit a download (the buttons' on_click callback): who took which table, in what format."""
    record_ui_event("download", f"file:{re.sub(r'[^A-Za-z0-9_.-]', '_', file_stem)[:120]}", {"format": fmt, "rows": rows})


def download_table(frame: pd.DataFrame, file_stem: str, *, key: str, label: str = "Download") -> None:
    """CSV and XLSX download buttons; both go through the formula-safe export, and each
    download is recorded in the audit trail."""
    left, right = st.columns(2)
    left.download_button(f"{label} (CSV)", table_bytes(frame, "csv"), file_name=f"{file_stem}.csv", mime=MIME_TYPES["csv"], key=f"{key}_csv",
                         on_click=record_download, args=(file_stem, "csv", len(frame)))
    right.download_button(f"{label} (XLSX)", table_bytes(frame, "xlsx", sheet_name=file_stem), file_name=f"{file_stem}.xlsx", mime=MIME_TYPES["xlsx"], key=f"{key}_xlsx",
                          on_click=record_download, args=(file_stem, "xlsx", len(frame)))


def people_table(frame: pd.DataFrame, *, column_config: dict | None = None, height: int | str = "auto", **options) -> pd.DataFrame:
    """A table as people read it (analysis.labelling.for_people ``options``: labels, plain headings,
    yes/no, dates; ``column_config`` is keyed by the plain headings); returns what was shown."""
    shown = for_people(frame, vocabulary_labels(), **options)
    st.dataframe(shown, hide_index=True, width="stretch", height=height, column_config=column_config)
    return shown


def show_problems(title: str, problems: list[str], *, limit: int = 200) -> None:
    """A list of problems as plain text (never markdown: it quotes the user's file)."""
    st.error(f"{title} ({len(problems)} problem{'s' if len(problems) != 1 else ''})")
    shown = problems[:limit]
    st.dataframe(pd.DataFrame({"problem": shown}), hide_index=True, width="stretch")
    if len(problems) > limit:
        st.caption(f"…and {len(problems) - limit} more.")
