"""`roadmap catalogue import|export` (the operator acts as ``cli_actor()``: trusted, audited)."""

from __future__ import annotations

import argparse

from storage.audit import cli_actor
from storage.catalogue import count_technologies
from storage.catalogue_io import CatalogueImportError, export_catalogue, import_catalogue
from storage.exports import format_from_path
from streamlit_app.commands.common import CommandError, Result, open_database, read_input_file, write_output_file


def catalogue_import(args: argparse.Namespace) -> Result:
    data = read_input_file(args.path)
    engine = open_database(args)
    try:
        report = import_catalogue(engine, data, fmt=args.format, dry_run=args.dry_run, source_name=args.path.rsplit("/", 1)[-1],
                                  actor=cli_actor())
    except CatalogueImportError as error:
        if args.json:
            # Scripts get every problem; people get the first few in the one-line reason.
            raise CommandError(str(error) + " | all problems: " + " | ".join(str(p) for p in error.problems)) from None
        raise CommandError(str(error)) from None
    summary = report.summary()
    verb = "would create" if args.dry_run else "created"
    lines = [f"{summary['format']} file, {summary['rows']} rows: {verb} {summary['created']}, "
             f"{'would update' if args.dry_run else 'updated'} {summary['updated']}, unchanged {summary['unchanged']}"]
    return Result(summary, lines)


def catalogue_export(args: argparse.Namespace) -> Result:
    try:
        fmt = format_from_path(args.path)
    except ValueError as error:
        raise CommandError(str(error)) from None
    engine = open_database(args)
    content = export_catalogue(engine, fmt, actor=cli_actor())
    write_output_file(args.path, content)
    rows = count_technologies(engine)
    return Result({"path": args.path, "rows": rows, "format": fmt}, [f"wrote {rows} technologies to {args.path}"])
