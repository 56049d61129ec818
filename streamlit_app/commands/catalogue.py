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


def register(groups: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    catalogue = groups.add_parser("catalogue", help="technology catalogue import and export")
    commands = catalogue.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    importer = commands.add_parser("import", parents=[common], help="import a catalogue file (all-or-nothing)")
    importer.add_argument("path", help="CSV or XLSX file")
    importer.add_argument("--format", choices=["auto", "template", "fda"], default="auto", help="file format (default: detect)")
    importer.add_argument("--dry-run", action="store_true", help="report what would change without writing")
    importer.set_defaults(handler=catalogue_import)
    exporter = commands.add_parser("export", parents=[common], help="export the catalogue in the import template")
    exporter.add_argument("path", help="output file ending .csv or .xlsx")
    exporter.set_defaults(handler=catalogue_export)
