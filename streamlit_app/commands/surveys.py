"""`roadmap instrument import|export` and `roadmap responses import|export`.

The operator at the command line acts as ``cli_actor()``: trusted (no role check) but audited.
"""

from __future__ import annotations

import argparse

from storage.audit import cli_actor
from storage.exports import format_from_path
from storage.survey_io import (
    detect_instrument_format,
    export_instrument_dictionary,
    export_responses_file,
    import_responses,
    read_instrument_file,
)
from storage.surveys import SurveyError, next_instrument_version, save_instrument
from streamlit_app.commands.common import CommandError, Result, open_database, pseudonym_keys, read_input_file, write_output_file
from survey.flat_responses import ResponsesImportError
from survey.imports import InstrumentImportError


def instrument_import(args: argparse.Namespace) -> Result:
    data = read_input_file(args.path)
    try:
        result = read_instrument_file(args.path, data, args.format, name=args.name)
    except InstrumentImportError as error:
        raise CommandError(f"cannot import {args.path}: {error}") from None
    engine = open_database(args)
    instrument = result.instrument
    if args.new_version:
        instrument = instrument.model_copy(update={"version": next_instrument_version(engine, instrument.name)})
    source = detect_instrument_format(args.path, data) if args.format == "auto" else args.format
    try:
        instrument_id = save_instrument(engine, instrument, source, result.warnings, actor=cli_actor())
    except SurveyError as error:
        raise CommandError(str(error)) from None
    warnings = [str(warning) for warning in result.warnings]
    data_out = {"instrument_id": instrument_id, "name": instrument.name, "version": instrument.version,
                "questions": sum(1 for _ in instrument.answer_slots()), "warnings": warnings}
    lines = [f"imported instrument {instrument.name} version {instrument.version} "
             f"({data_out['questions']} questions, {len(warnings)} warnings)"] + [f"warning: {w}" for w in warnings]
    return Result(data_out, lines)


def instrument_export(args: argparse.Namespace) -> Result:
    engine = open_database(args)
    try:
        stored, text = export_instrument_dictionary(engine, args.name, args.version, actor=cli_actor())
    except SurveyError as error:
        raise CommandError(str(error)) from None
    write_output_file(args.path, text.encode("utf-8"))
    return Result({"path": args.path, "name": stored.name, "version": stored.version, "format": args.format},
                  [f"wrote {stored.name} version {stored.version} as a REDCap data dictionary to {args.path}"])


def responses_import(args: argparse.Namespace) -> Result:
    data = read_input_file(args.path)
    engine = open_database(args)
    try:
        summary = import_responses(engine, args.instrument, data, version=args.version, actor=cli_actor())
    except ResponsesImportError as error:
        detail = " | ".join(f"row {row}" + (f" column {column}" if column else "") + f": {message}" for row, column, message in error.errors[:20])
        more = f" | and {len(error.errors) - 20} more" if len(error.errors) > 20 else ""
        raise CommandError(f"nothing imported; {len(error.errors)} problem(s): {detail}{more}") from None
    except SurveyError as error:
        raise CommandError(str(error)) from None
    data_out = {"instrument": summary.instrument, "version": summary.version, "records": summary.records,
                "imported": summary.imported, "already_imported": summary.already_imported}
    return Result(data_out, [f"imported {summary.imported} of {summary.records} records into {summary.instrument} version "
                             f"{summary.version} ({summary.already_imported} already imported)"])


def responses_export(args: argparse.Namespace) -> Result:
    try:
        fmt = format_from_path(args.path)
    except ValueError as error:
        raise CommandError(str(error)) from None
    keyring = None
    if args.deidentified:
        keyring = pseudonym_keys()
    engine = open_database(args)
    try:
        exported = export_responses_file(engine, args.name, fmt, args.version, labels=args.labels, deidentified=args.deidentified,
                                         keyring=keyring, actor=cli_actor())
    except SurveyError as error:
        raise CommandError(str(error)) from None
    write_output_file(args.path, exported.content)
    return Result({"path": args.path, "records": exported.records, "rows": exported.rows, "format": fmt, "deidentified": args.deidentified},
                  [f"wrote {exported.records} responses ({exported.rows} rows) to {args.path}"])
