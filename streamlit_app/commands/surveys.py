"""`roadmap instrument import|export|translations` and `roadmap responses import|export`.

The operator at the command line acts as ``cli_actor()``: trusted (no role check) but audited.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from storage.audit import cli_actor
from storage.exports import format_from_path
from storage.survey_io import (
    detect_instrument_format,
    export_instrument_file,
    export_responses_file,
    export_translations,
    import_responses,
    import_translations,
    read_instrument_file,
)
from storage.surveys import SurveyError, next_instrument_version, save_instrument
from streamlit_app.commands.common import CommandError, Result, open_database, pseudonym_keys, read_input_file, write_output_file
from survey.flat_responses import ResponsesImportError
from survey.imports import InstrumentImportError
from survey.translations import TranslationImportError


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


_FORMAT_NAMES = {"redcap": "a REDCap data dictionary", "xlsform": "an XLSForm"}


def instrument_export(args: argparse.Namespace) -> Result:
    engine = open_database(args)
    try:
        exported = export_instrument_file(engine, args.name, args.format, args.version, actor=cli_actor())
    except SurveyError as error:
        raise CommandError(str(error)) from None
    write_output_file(args.path, exported.content)
    stored = exported.stored
    return Result({"path": args.path, "name": stored.name, "version": stored.version, "format": args.format,
                   "languages": [language.code for language in stored.instrument.languages],
                   "warnings": list(exported.warnings)},
                  [f"wrote {stored.name} version {stored.version} as {_FORMAT_NAMES[args.format]} to {args.path}"]
                  + [f"warning: {warning}" for warning in exported.warnings])


def translations_export(args: argparse.Namespace) -> Result:
    engine = open_database(args)
    try:
        exported = export_translations(engine, args.name, args.version, actor=cli_actor())
    except SurveyError as error:
        raise CommandError(str(error)) from None
    write_output_file(args.path, exported.content)
    stored = exported.stored
    languages = [language.label for language in stored.instrument.languages]
    return Result({"path": args.path, "name": stored.name, "version": stored.version,
                   "languages": [language.code for language in stored.instrument.languages]},
                  [f"wrote the texts of {stored.name} version {stored.version} ({', '.join(languages)}) to {args.path}"])


def translations_import(args: argparse.Namespace) -> Result:
    data = read_input_file(args.path)
    engine = open_database(args)
    try:
        stored = import_translations(engine, args.name, data, actor=cli_actor())
    except TranslationImportError as error:
        raise CommandError(f"cannot import {args.path}: {error}") from None
    except SurveyError as error:
        raise CommandError(str(error)) from None
    languages = [language.label for language in stored.instrument.languages]
    return Result({"instrument_id": stored.id, "name": stored.name, "version": stored.version,
                   "languages": [language.code for language in stored.instrument.languages]},
                  [f"published {stored.name} version {stored.version} in {', '.join(languages)}"])


SHOWN_PROBLEMS = 20
SHOWN_COERCIONS = 20


def responses_import(args: argparse.Namespace) -> Result:
    # The file is streamed from disk (no size limit), not read into memory.
    if not Path(args.path).is_file():
        raise CommandError(f"no such file: {args.path}")
    engine = open_database(args)
    try:
        summary = import_responses(engine, args.instrument, Path(args.path), version=args.version, actor=cli_actor())
    except ResponsesImportError as error:
        shown = error.errors[:SHOWN_PROBLEMS]
        detail = " | ".join(f"row {row}" + (f" column {column}" if column else "") + f": {message}" for row, column, message in shown)
        more = f" | and {error.total - len(shown)} more" if error.total > len(shown) else ""
        raise CommandError(f"nothing imported; {error.total} problem(s): {detail}{more}") from None
    except SurveyError as error:
        raise CommandError(str(error)) from None
    data_out = {"instrument": summary.instrument, "version": summary.version, "records": summary.records,
                "imported": summary.imported, "already_imported": summary.already_imported,
                "coercions_total": summary.coercions_total,
                "coercion_counts": [{"column": c.column, "reason": c.reason, "count": c.count, "first_row": c.first.row}
                                    for c in summary.coercion_counts],
                "coercions": [{"row": c.row, "column": c.column, "from": c.original, "to": c.value, "reason": c.reason}
                              for c in summary.coercions]}
    lines = [f"imported {summary.imported} of {summary.records} records into {summary.instrument} version "
             f"{summary.version} ({summary.already_imported} already imported)"]
    lines += [f"warning: {coercion}" for coercion in summary.coercions[:SHOWN_COERCIONS]]
    if summary.coercions_total > SHOWN_COERCIONS:
        lines.append(f"warning: {summary.coercions_total - SHOWN_COERCIONS:,} more cell(s) read the same way; by column:")
        lines += [f"warning: {count}" for count in summary.coercion_counts]
    return Result(data_out, lines)


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
