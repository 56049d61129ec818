"""`roadmap demo`: the demonstration catalogue and evidence, labelled demo."""

from __future__ import annotations

import argparse

from storage.case_studies import load_demo_case_studies
from storage.catalogue import count_technologies
from storage.demo import load_demo_catalogue
from storage.demo_evidence import load_demo_evidence
from storage.demo_workshop import load_demo_workshop
from streamlit_app.commands.common import Result, counts_text, open_database


def demo(args: argparse.Namespace) -> Result:
    engine = open_database(args)
    summary = load_demo_catalogue(engine, only_if_empty=args.if_empty)
    data = {"technologies": summary.technologies, "sites": summary.sites, "adoption_records": summary.adoption_records, "skipped": summary.skipped}
    for loader in DEMO_EVIDENCE_LOADERS:
        data.update(loader(engine, summary.skipped))
    if summary.skipped:
        reason = "the database already has technologies" if args.if_empty else "demo data is already loaded"
        return Result(data, [f"demo data not loaded: {reason} ({count_technologies(engine)} technologies)"])
    counts = counts_text({key: value for key, value in data.items() if key != "skipped"})
    return Result(data, [f"loaded demo data (labelled demo): {counts}"])


# Later features register demo evidence loaders here: f(engine, catalogue_skipped) -> dict of counts.
DEMO_EVIDENCE_LOADERS: list = []
DEMO_EVIDENCE_LOADERS.append(load_demo_evidence)
DEMO_EVIDENCE_LOADERS.append(load_demo_workshop)
DEMO_EVIDENCE_LOADERS.append(load_demo_case_studies)  # after the survey and workshop loaders: it links to them
