"""`roadmap db upgrade` and `roadmap demo`."""

from __future__ import annotations

import argparse

from storage.case_studies import load_demo_case_studies
from storage.catalogue import count_technologies
from storage.demo import load_demo_catalogue
from storage.demo_evidence import load_demo_evidence
from storage.demo_workshop import load_demo_workshop
from storage.migrate import head_revision
from streamlit_app.commands.common import Result, open_database


def db_upgrade(args: argparse.Namespace) -> Result:
    engine = open_database(args)
    return Result({"revision": head_revision(), "database": engine.url.render_as_string(hide_password=True)},
                  [f"database at revision {head_revision()} ({engine.url.render_as_string(hide_password=True)})"])


def demo(args: argparse.Namespace) -> Result:
    engine = open_database(args)
    summary = load_demo_catalogue(engine, only_if_empty=args.if_empty)
    data = {"technologies": summary.technologies, "sites": summary.sites, "adoption_records": summary.adoption_records, "skipped": summary.skipped}
    for loader in DEMO_EVIDENCE_LOADERS:
        data.update(loader(engine, summary.skipped))
    if summary.skipped:
        reason = "the database already has technologies" if args.if_empty else "demo data is already loaded"
        return Result(data, [f"demo data not loaded: {reason} ({count_technologies(engine)} technologies)"])
    counts = ", ".join(f"{value} {key.replace('_', ' ')}" for key, value in data.items() if key != "skipped")
    return Result(data, [f"loaded demo data (labelled demo): {counts}"])


# Later features register demo evidence loaders here: f(engine, catalogue_skipped) -> dict of counts.
DEMO_EVIDENCE_LOADERS: list = []
DEMO_EVIDENCE_LOADERS.append(load_demo_evidence)
DEMO_EVIDENCE_LOADERS.append(load_demo_workshop)
DEMO_EVIDENCE_LOADERS.append(load_demo_case_studies)  # after the survey and workshop loaders: it links to them


def register(groups: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    db = groups.add_parser("db", help="database set-up and migration")
    db_commands = db.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    upgrade = db_commands.add_parser("upgrade", parents=[common], help="create or migrate the database to the current schema")
    upgrade.set_defaults(handler=db_upgrade)

    demo_parser = groups.add_parser("demo", parents=[common], help="load the demonstration catalogue and evidence (labelled demo)")
    demo_parser.add_argument("--if-empty", action="store_true", help="only load when the catalogue is empty (used on first start)")
    demo_parser.set_defaults(handler=demo)
