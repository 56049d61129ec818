"""The `roadmap` command tree: every command's arguments, and the handler that runs it, by name.

Building this tree imports nothing but ``argparse``: a handler is a :class:`Handler` naming a
function in a command module (``streamlit_app.commands.<module>``), imported only when that one
command runs. So ``roadmap --help`` and every command's argument errors answer at once, and a
command loads only what it needs (pandas, SQLAlchemy, the survey engine...).

Choice lists are written out here for the same reason; ``tests/test_cli.py`` checks that they
match the constants the commands use.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
from dataclasses import dataclass

from streamlit_app.commands.common import Result

# The same values as storage.permissions.ROLES, storage.survey_io.INSTRUMENT_FORMATS (and its
# INSTRUMENT_EXPORT_FORMATS),
# storage.workshops.EXPORT_TABLES and storage.catalogue_io.ImportFormat (checked by a test).
ROLE_CHOICES = ("respondent", "facilitator", "lead", "admin")
NO_ROLE = "none"
INSTRUMENT_FORMAT_CHOICES = ("auto", "redcap", "xlsform")
INSTRUMENT_EXPORT_CHOICES = ("redcap", "xlsform")
WORKSHOP_TABLE_CHOICES = ("ratings", "summary", "accord")
CATALOGUE_FORMAT_CHOICES = ("auto", "template", "fda")


@dataclass(frozen=True)
class Handler:
    """A command's function, named by module and function, imported when the command runs."""

    module: str
    function: str

    def resolve(self):  # noqa: ANN201 - a command function: (argparse.Namespace) -> Result
        return getattr(importlib.import_module(f"streamlit_app.commands.{self.module}"), self.function)

    def __call__(self, args: argparse.Namespace) -> Result:
        return self.resolve()(args)


Groups = argparse._SubParsersAction


def _subcommands(groups: Groups, name: str, help_text: str) -> Groups:
    group = groups.add_parser(name, help=help_text)
    return group.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")


def _db(groups: Groups, common: argparse.ArgumentParser) -> None:
    commands = _subcommands(groups, "db", "database set-up and migration")
    upgrade = commands.add_parser("upgrade", parents=[common], help="create or migrate the database to the current schema")
    upgrade.set_defaults(handler=Handler("db", "db_upgrade"))
    status = commands.add_parser("status", parents=[common], help="check the database without changing it: reachable, schema "
                                 "current (exit 2 if it needs an upgrade), SQLite integrity, row counts")
    status.set_defaults(handler=Handler("db", "db_status"))
    backup = commands.add_parser("backup", parents=[common], help="copy a live SQLite database to a new file, checked "
                                 "(PostgreSQL: use pg_dump)")
    backup.add_argument("path", help="the backup file to write (must not exist yet)")
    backup.set_defaults(handler=Handler("db", "db_backup"))

    demo = groups.add_parser("demo", parents=[common], help="load the demonstration catalogue and evidence (labelled demo)")
    demo.add_argument("--if-empty", action="store_true", help="only load when the catalogue is empty (used on first start)")
    demo.set_defaults(handler=Handler("demo", "demo"))


def _catalogue(groups: Groups, common: argparse.ArgumentParser) -> None:
    commands = _subcommands(groups, "catalogue", "technology catalogue import and export")
    importer = commands.add_parser("import", parents=[common], help="import a catalogue file (all-or-nothing)")
    importer.add_argument("path", help="CSV or XLSX file")
    importer.add_argument("--format", choices=CATALOGUE_FORMAT_CHOICES, default="auto", help="file format (default: detect)")
    importer.add_argument("--dry-run", action="store_true", help="report what would change without writing")
    importer.set_defaults(handler=Handler("catalogue", "catalogue_import"))
    exporter = commands.add_parser("export", parents=[common], help="export the catalogue in the import template")
    exporter.add_argument("path", help="output file ending .csv or .xlsx")
    exporter.set_defaults(handler=Handler("catalogue", "catalogue_export"))


def _surveys(groups: Groups, common: argparse.ArgumentParser) -> None:
    commands = _subcommands(groups, "instrument", "survey instrument import and export")
    importer = commands.add_parser("import", parents=[common], help="import a REDCap data dictionary or an XLSForm")
    importer.add_argument("path", help="REDCap data dictionary CSV, XLSForm .xlsx or its CSV form")
    importer.add_argument("--format", choices=INSTRUMENT_FORMAT_CHOICES, default="auto", help="file format (default: detect)")
    importer.add_argument("--name", help="instrument name for a REDCap dictionary (default: the file name)")
    importer.add_argument("--new-version", action="store_true", help="publish as the next version of an existing instrument")
    importer.set_defaults(handler=Handler("surveys", "instrument_import"))
    exporter = commands.add_parser("export", parents=[common], help="export an instrument as a REDCap data dictionary "
                                   "(default language only) or an XLSForm (every language)")
    exporter.add_argument("name", help="instrument name")
    exporter.add_argument("path", help="output file: CSV for redcap, .xlsx for xlsform")
    exporter.add_argument("--format", choices=INSTRUMENT_EXPORT_CHOICES, default="redcap", help="output format")
    exporter.add_argument("--version", type=int, help="instrument version (default: latest)")
    exporter.set_defaults(handler=Handler("surveys", "instrument_export"))
    translations = commands.add_parser("translations", help="the translator's workbook: every text, a column per language")
    actions = translations.add_subparsers(dest="translations_command", required=True, metavar="SUBCOMMAND")
    exporter = actions.add_parser("export", parents=[common], help="write an .xlsx with one row per text and a column "
                                  "per language (empty where a translation is missing)")
    exporter.add_argument("name", help="instrument name")
    exporter.add_argument("path", help="output .xlsx file")
    exporter.add_argument("--version", type=int, help="instrument version (default: latest)")
    exporter.set_defaults(handler=Handler("surveys", "translations_export"))
    importer = actions.add_parser("import", parents=[common], help="publish the next version with the workbook's "
                                  "translations (all-or-nothing; every rejected row is named)")
    importer.add_argument("name", help="instrument name")
    importer.add_argument("path", help="the filled-in .xlsx workbook")
    importer.set_defaults(handler=Handler("surveys", "translations_import"))

    commands = _subcommands(groups, "responses", "survey response import and export")
    importer = commands.add_parser("import", parents=[common], help="import REDCap-style flat responses (all-or-nothing)")
    importer.add_argument("path", help="flat CSV (or XLSX) file")
    importer.add_argument("--instrument", required=True, help="instrument name")
    importer.add_argument("--version", type=int, help="instrument version (default: latest)")
    importer.set_defaults(handler=Handler("surveys", "responses_import"))
    exporter = commands.add_parser("export", parents=[common], help="export responses as a REDCap-style flat file")
    exporter.add_argument("name", help="instrument name")
    exporter.add_argument("path", help="output file ending .csv or .xlsx")
    exporter.add_argument("--version", type=int, help="instrument version (default: latest)")
    exporter.add_argument("--deidentified", action="store_true", help="drop identifiers and free text; pseudonymise record ids")
    exporter.add_argument("--labels", action="store_true", help="write choice labels instead of codes")
    exporter.set_defaults(handler=Handler("surveys", "responses_export"))


def _workshops(groups: Groups, common: argparse.ArgumentParser) -> None:
    parser = groups.add_parser(
        "consensus", help="classify a long-format ratings file (participant, group, item, round, rating) by a consensus rule"
    )
    parser.add_argument("path", help="CSV with columns participant, group, item, round, rating (1-9)")
    parser.add_argument("--rule", required=True, choices=["comet", "ram", "custom"],
                        help="comet (>=70%% in the top band, <15%% in the bottom), ram (RAND/UCLA) or custom thresholds")
    parser.add_argument("--in", dest="in_pct", type=float, help="percentage for consensus (comet default 70)")
    parser.add_argument("--out", dest="out_pct", type=float, help="percentage the opposite band must stay under (comet default 15)")
    parser.add_argument("--every-group", action="store_true", help="require the result within every stakeholder group")
    parser.add_argument("--by-group", action="store_true", help="add one row per stakeholder group under each item and round")
    parser.add_argument("--json", action="store_true", help="print the result as JSON for scripts")
    parser.set_defaults(handler=Handler("workshops", "consensus"))

    commands = _subcommands(groups, "workshop", "consensus workshop exports")
    lister = commands.add_parser("list", parents=[common], help="list workshops with their ids")
    lister.set_defaults(handler=Handler("workshops", "workshop_list"))
    exporter = commands.add_parser("export", parents=[common], help="export a workshop's ratings, summary or ACCORD table")
    exporter.add_argument("workshop_id", type=int, help="workshop id (see `roadmap workshop list`)")
    exporter.add_argument("path", help="output file ending .csv or .xlsx")
    exporter.add_argument("--what", choices=WORKSHOP_TABLE_CHOICES, default="ratings",
                          help="ratings (raw, one row per rating), summary (per item and round) or accord (per round)")
    exporter.set_defaults(handler=Handler("workshops", "workshop_export"))


def _users(groups: Groups, common: argparse.ArgumentParser) -> None:
    role_choices = [*ROLE_CHOICES, NO_ROLE]
    commands = _subcommands(groups, "user", "user accounts and roles")

    add = commands.add_parser("add", parents=[common], help="create a user (password prompted, or from --password-stdin)")
    add.add_argument("name", help="user name (lower case; an e-mail address is fine)")
    add.add_argument("--role", required=True, choices=role_choices, help="role to grant ('none' = no access yet)")
    add.add_argument("--email", help="e-mail address that single sign-on users are matched by")
    add.add_argument("--display-name", default="", help="name shown in the app")
    source = add.add_mutually_exclusive_group()
    source.add_argument("--password-stdin", action="store_true", help="read the password from the first line of standard input")
    source.add_argument("--no-password", action="store_true", help="single sign-on only (needs --email)")
    add.set_defaults(handler=Handler("users", "user_add"))

    change = commands.add_parser("set-role", parents=[common], help="change a user's role (ends their sessions)")
    change.add_argument("name")
    change.add_argument("role", choices=role_choices)
    change.set_defaults(handler=Handler("users", "user_set_role"))

    disable = commands.add_parser("disable", parents=[common], help="disable an account (ends its sessions)")
    disable.add_argument("name")
    disable.set_defaults(handler=Handler("users", "user_disable"))

    password = commands.add_parser("set-password", parents=[common],
                                   help="set a new password (prompted, or from --password-stdin); lifts a lockout, ends sessions")
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true", help="read the password from the first line of standard input")
    password.set_defaults(handler=Handler("users", "user_set_password"))

    enable = commands.add_parser("enable", parents=[common], help="re-enable a disabled account (lifts a lockout)")
    enable.add_argument("name")
    enable.set_defaults(handler=Handler("users", "user_enable"))

    listing = commands.add_parser("list", parents=[common], help="list accounts")
    listing.set_defaults(handler=Handler("users", "user_list"))

    commands = _subcommands(groups, "retention", "data protection: retention purge and erasure")
    purge = commands.add_parser("purge", parents=[common], help="purge drafts, raw free text and ended sessions older than N days")
    purge.add_argument("--days", type=int, help="retention period in days (default: $ROADMAP_RETENTION_DAYS, else 365)")
    purge.set_defaults(handler=Handler("users", "retention_purge"))
    erase = commands.add_parser("erase", parents=[common], help="erase a named person's data (user name or e-mail)")
    erase.add_argument("person")
    erase.add_argument("--yes", action="store_true", help="confirm: erasure cannot be undone")
    erase.set_defaults(handler=Handler("users", "retention_erase"))


def day_argument(text: str) -> dt.date:
    """A YYYY-MM-DD day, not in the future (argparse type)."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day written YYYY-MM-DD") from None
    if day > dt.date.today():
        raise argparse.ArgumentTypeError(f"{text} is in the future: the roadmap can be seen as of today or earlier")
    return day


def _analysis(groups: Groups, common: argparse.ArgumentParser) -> None:
    as_of = argparse.ArgumentParser(add_help=False)
    as_of.add_argument("--as-of", type=day_argument, default=None, metavar="YYYY-MM-DD",
                       help="the roadmap as it stood at the end of that day (default: today)")
    commands = _subcommands(groups, "estimates", "blended impact estimates")
    exporter = commands.add_parser("export", parents=[common, as_of],
                                   help="export every technology's estimates (formula-safe; survey evidence of too few "
                                        "respondents withheld)")
    exporter.add_argument("path", help="output file ending .csv or .xlsx")
    exporter.add_argument("--labels", action="store_true",
                          help="after each code column add <column>_label with its label (the codes are kept)")
    exporter.set_defaults(handler=Handler("analysis", "estimates_export"))
    comparer = commands.add_parser("compare", parents=[common], help="write the estimates whose point or 90%% interval moved "
                                   "between two days, with the evidence that arrived")
    comparer.add_argument("--from", dest="first", type=day_argument, required=True, metavar="YYYY-MM-DD", help="the earlier day")
    comparer.add_argument("--to", dest="last", type=day_argument, required=True, metavar="YYYY-MM-DD", help="the later day")
    comparer.add_argument("path", help="output file ending .csv or .xlsx")
    comparer.set_defaults(handler=Handler("analysis", "estimates_compare"))
    reporter = groups.add_parser("report", parents=[common, as_of], help="write the printable HTML report of every view, the "
                                 "estimates, the track record, the case studies and the method")
    reporter.add_argument("path", help="output file ending .html")
    reporter.set_defaults(handler=Handler("analysis", "report"))


# In the order `roadmap --help` lists them.
COMMAND_GROUPS = [_db, _catalogue, _surveys, _workshops, _users, _analysis]
