"""`roadmap estimates export PATH` (CSV or XLSX) and `roadmap report PATH` (the printable HTML report).

Both cover every technology with the default blending settings and the disclosure threshold of
``ROADMAP_DISCLOSURE_THRESHOLD`` (default 5); both are audited as exports.
"""

from __future__ import annotations

import argparse

from sqlalchemy import Engine

from analysis.blending import BlendSettings
from analysis.views import Filters
from storage.analysis_inputs import DisclosureSettingError, disclosure_threshold, load_analysis_inputs
from storage.audit import cli_actor, record_audit
from storage.db import write_session
from storage.exports import format_from_path, table_bytes
from streamlit_app.commands.common import CommandError, Result, open_database, write_output_file
from streamlit_app.report import compute_analysis, compute_estimates, report_for_database

REPORT_SUFFIXES = (".html", ".htm")


def _threshold() -> int:
    try:
        return disclosure_threshold()
    except DisclosureSettingError as error:
        raise CommandError(str(error)) from None


def _audit_export(engine: Engine, target: str, details: dict) -> None:
    with write_session(engine) as session:
        record_audit(session, cli_actor(), None, "export", target, "success", details)


def estimates_export(args: argparse.Namespace) -> Result:
    try:
        fmt = format_from_path(args.path)
    except ValueError as error:
        raise CommandError(str(error)) from None
    threshold = _threshold()
    engine = open_database(args)
    settings = BlendSettings()
    inputs = load_analysis_inputs(engine)
    analysis = compute_analysis(inputs, compute_estimates(inputs, settings, threshold), settings, Filters(), threshold)
    table = analysis.estimates_table
    write_output_file(args.path, table_bytes(table, fmt, sheet_name="estimates"))
    _audit_export(engine, "estimates", {"format": fmt, "rows": len(table)})
    technologies = int(table["technology_id"].nunique())
    return Result({"path": args.path, "format": fmt, "rows": len(table), "technologies": technologies,
                   "data_version": inputs.data_version, "disclosure_threshold": threshold},
                  [f"wrote {len(table)} estimates ({technologies} technologies) to {args.path}; "
                   f"survey evidence from fewer than {threshold} respondents withheld"])


def report(args: argparse.Namespace) -> Result:
    if not args.path.lower().endswith(REPORT_SUFFIXES):
        raise CommandError(f"the report is an HTML file: name it .html (got {args.path!r})")
    threshold = _threshold()
    engine = open_database(args)
    content, analysis = report_for_database(engine, threshold=threshold)
    write_output_file(args.path, content.encode("utf-8"))
    _audit_export(engine, "report", {"format": "html", "technologies": len(analysis.ids)})
    newest = analysis.newest_evidence
    return Result({"path": args.path, "bytes": len(content.encode("utf-8")), "technologies": len(analysis.ids),
                   "data_version": analysis.inputs.data_version, "data_date": newest.isoformat() if newest is not None else None,
                   "disclosure_threshold": threshold, "contains_demo": analysis.inputs.contains_demo},
                  [f"wrote the report ({len(analysis.ids)} technologies, data version {analysis.inputs.data_version}) to {args.path}"])


def register(groups: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    estimates = groups.add_parser("estimates", help="blended impact estimates")
    commands = estimates.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    exporter = commands.add_parser("export", parents=[common],
                                   help="export every technology's estimates (formula-safe; survey evidence of too few respondents withheld)")
    exporter.add_argument("path", help="output file ending .csv or .xlsx")
    exporter.set_defaults(handler=estimates_export)
    reporter = groups.add_parser("report", parents=[common],
                                 help="write the printable HTML report of every view, the estimates, the case studies and the method")
    reporter.add_argument("path", help="output file ending .html")
    reporter.set_defaults(handler=report)
