"""`roadmap estimates export PATH [--labels]` (CSV or XLSX; codes, and their labels beside them with
``--labels``), `roadmap estimates compare` (what changed between
two days) and `roadmap report PATH` (the printable HTML report).

All cover every technology with the default blending settings and the disclosure threshold of
``ROADMAP_DISCLOSURE_THRESHOLD`` (default 5), today or as of a past day (``--as-of``); all are
audited as exports.
"""

from __future__ import annotations

import argparse

import pandas as pd
from sqlalchemy import Engine

from analysis.blending import BlendSettings
from analysis.labelling import with_label_columns
from storage.analysis_inputs import DisclosureSettingError, disclosure_threshold, load_analysis_inputs
from storage.audit import cli_actor, record_audit
from storage.catalogue_history import load_catalogue_history
from storage.db import write_session
from storage.exports import format_from_path, table_bytes
from streamlit_app.commands.common import CommandError, Result, open_database, write_output_file
from streamlit_app.report import compare_days, estimates_on_day, load_labels, past_day, report_for_database

REPORT_SUFFIXES = (".html", ".htm")


def _threshold() -> int:
    try:
        return disclosure_threshold()
    except DisclosureSettingError as error:
        raise CommandError(str(error)) from None


def _audit_export(engine: Engine, target: str, details: dict) -> None:
    with write_session(engine) as session:
        record_audit(session, cli_actor(), None, "export", target, "success", details)


def _file_format(path: str) -> str:
    try:
        return format_from_path(path)
    except ValueError as error:
        raise CommandError(str(error)) from None


def estimates_export(args: argparse.Namespace) -> Result:
    fmt = _file_format(args.path)
    threshold = _threshold()
    engine = open_database(args)
    inputs = load_analysis_inputs(engine)
    history = load_catalogue_history(engine) if past_day(args.as_of) is not None else None
    analysis = estimates_on_day(inputs, history, BlendSettings(), threshold, args.as_of)
    table = analysis.table.assign(as_of=f"{analysis.as_of:%Y-%m-%d}")
    if args.labels:
        table = with_label_columns(table, load_labels(engine))
    write_output_file(args.path, table_bytes(table, fmt, sheet_name="estimates"))
    _audit_export(engine, "estimates", {"format": fmt, "rows": len(table), "as_of": f"{analysis.as_of:%Y-%m-%d}"})
    technologies = int(table["technology_id"].nunique())
    return Result({"path": args.path, "format": fmt, "rows": len(table), "technologies": technologies,
                   "as_of": f"{analysis.as_of:%Y-%m-%d}", "data_version": inputs.data_version,
                   "disclosure_threshold": threshold},
                  [f"wrote {len(table)} estimates ({technologies} technologies, {analysis.as_of_text}) to {args.path}; "
                   f"survey evidence from fewer than {threshold} respondents withheld"])


def estimates_compare(args: argparse.Namespace) -> Result:
    fmt = _file_format(args.path)
    if args.first >= args.last:
        raise CommandError(f"--from ({args.first}) must be before --to ({args.last})")
    threshold = _threshold()
    engine = open_database(args)
    comparison = compare_days(load_analysis_inputs(engine), load_catalogue_history(engine), BlendSettings(), threshold,
                              pd.Timestamp(args.first), pd.Timestamp(args.last))
    table = comparison.changes
    write_output_file(args.path, table_bytes(table, fmt, sheet_name="changes"))
    _audit_export(engine, "estimates_compare", {"format": fmt, "rows": len(table), "from": str(args.first), "to": str(args.last)})
    technologies = int(table["technology_id"].nunique())
    return Result({"path": args.path, "format": fmt, "rows": len(table), "technologies": technologies,
                   "from": str(args.first), "to": str(args.last), "disclosure_threshold": threshold},
                  [f"wrote {len(table)} estimates that moved ({technologies} technologies) between {args.first} and "
                   f"{args.last} to {args.path}"])


def report(args: argparse.Namespace) -> Result:
    if not args.path.lower().endswith(REPORT_SUFFIXES):
        raise CommandError(f"the report is an HTML file: name it .html (got {args.path!r})")
    threshold = _threshold()
    engine = open_database(args)
    content, analysis = report_for_database(engine, threshold=threshold, as_of=args.as_of)
    write_output_file(args.path, content.encode("utf-8"))
    _audit_export(engine, "report", {"format": "html", "technologies": len(analysis.ids), "as_of": f"{analysis.as_of:%Y-%m-%d}"})
    newest = analysis.newest_evidence
    return Result({"path": args.path, "bytes": len(content.encode("utf-8")), "technologies": len(analysis.ids),
                   "as_of": f"{analysis.as_of:%Y-%m-%d}", "data_version": analysis.inputs.data_version,
                   "data_date": newest.isoformat() if newest is not None else None,
                   "disclosure_threshold": threshold, "contains_demo": analysis.inputs.contains_demo},
                  [f"wrote the report ({len(analysis.ids)} technologies, {analysis.as_of_text}, data version "
                   f"{analysis.inputs.data_version}) to {args.path}"])
