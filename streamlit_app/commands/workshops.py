"""`roadmap consensus RATINGS.csv ...` (any long-format ratings file) and `roadmap workshop list|export`.

The operator at the command line acts as ``cli_actor()``: trusted, so every workshop is reached, and audited.
"""

from __future__ import annotations

import argparse

import pandas as pd

from analysis.consensus import RatingsFileError, consensus_report, read_ratings_csv, rule_from_cli
from storage.audit import cli_actor
from storage.exports import format_from_path
from storage.workshops import WorkshopError, export_workshop_table, list_all_workshops
from streamlit_app.commands.common import CommandError, Result, open_database, read_input_file, write_output_file

SHOWN_PROBLEMS = 10


def _one_line(error: RatingsFileError) -> str:
    shown = error.problems[:SHOWN_PROBLEMS]
    more = len(error.problems) - len(shown)
    return (f"{len(error.problems)} problem(s) in the ratings file: " + "; ".join(shown)
            + (f"; ... and {more} more" if more else ""))


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows for JSON: missing values become null, numpy scalars plain numbers."""
    return [{key: (None if pd.isna(value) else value.item() if hasattr(value, "item") else value)
             for key, value in row.items()} for row in frame.to_dict(orient="records")]


def consensus(args: argparse.Namespace) -> Result:
    try:
        rule = rule_from_cli(args.rule, args.in_pct, args.out_pct, require_every_group=args.every_group)
    except ValueError as error:
        raise CommandError(str(error)) from None
    content = read_input_file(args.path)
    try:
        ratings = read_ratings_csv(content)
    except RatingsFileError as error:
        raise CommandError(_one_line(error)) from None
    report = consensus_report(ratings, rule, by_group=args.by_group)
    counts = report.loc[report.get("group", pd.Series("", index=report.index)).isin(["", "(all groups)"]), "consensus"]
    summary = {outcome: int((counts == outcome).sum()) for outcome in ("in", "out", "none")}
    lines = [report.to_string(index=False), "", f"Rule: {report.attrs['rule']}",
             f"Items x rounds: {summary['in']} in, {summary['out']} out, {summary['none']} no consensus"]
    data = {"rule": report.attrs["rule"], "rule_settings": rule.model_dump(mode="json"), "counts": summary,
            "rows": _records(report)}
    return Result(data, lines)


def workshop_export(args: argparse.Namespace) -> Result:
    try:
        fmt = format_from_path(args.path)
    except ValueError as error:
        raise CommandError(str(error)) from None
    engine = open_database(args)
    try:
        content, rows = export_workshop_table(engine, args.workshop_id, args.what, fmt, actor=cli_actor())
    except WorkshopError as error:
        raise CommandError(str(error)) from None
    write_output_file(args.path, content)
    return Result({"path": args.path, "what": args.what, "rows": rows, "format": fmt},
                  [f"wrote {rows} rows ({args.what}) of workshop {args.workshop_id} to {args.path}"])


def workshop_list(args: argparse.Namespace) -> Result:
    engine = open_database(args)
    frame = list_all_workshops(engine, actor=cli_actor())
    lines = [f"{row.workshop_id}\t{row.status}\t{row.title}" for row in frame.itertuples()] or ["no workshops"]
    return Result({"workshops": _records(frame.astype({"workshop_date": "str"}))}, lines)
