"""National-scale evidence for the from-the-database benchmarks, built through the public CLI.

A database gets 1,000 technologies from a generated catalogue template (``roadmap catalogue
import``) and N clinician survey responses from generated REDCap-style flat files in the
documented layout (``roadmap responses import``, files of ``--per-file`` responses written by the
project's own flat exporter). Each response is about three technologies and gives about 25 answer
rows, with the profile answers (staff group, region, site type) the filters use.

Building is slow (the import validates every record), so a database that already holds the
wanted evidence is reused: the benchmark says whether it built or reused it. ``--in-process``
calls ``storage.survey_io.import_responses`` (the function behind ``roadmap responses import``)
in this process instead of starting the CLI once per file, for the million-response database.

    .venv/bin/python scripts/national_evidence.py sqlite:///data/bench/n100000.db --responses 100000
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from sqlalchemy import func, select  # noqa: E402

from storage.db import make_engine, read_session  # noqa: E402
from storage.migrate import upgrade_to_head  # noqa: E402
from storage.models import Technology  # noqa: E402
from storage.models.survey import SurveyResponse  # noqa: E402
from survey.flat_responses import FlatRecord, export_flat  # noqa: E402
from survey.instrument import builtin_instruments  # noqa: E402

TECHNOLOGIES = 1000
PER_FILE = 10_000  # under the 20 MB file limit of `roadmap responses import`
INSTRUMENT = "clinician_experience"
ROADMAP = str(Path(sys.executable).with_name("roadmap"))
STAFF_GROUPS = ("medic", "nurse", "midwife", "ahp", "healthcare_scientist", "pharmacy", "paramedic", "non_clinical")
REGIONS = ("east_of_england", "london", "midlands", "north_east_yorkshire", "north_west", "south_east", "south_west")
SITE_TYPES = ("acute_trust", "mental_health_trust", "community_provider", "ambulance_trust", "primary_care", "icb", "other")
ARCHETYPES = ("shaper", "driver", "creator", "embedder", "user")
FREQUENCIES = ("daily", "weekly", "monthly", "rarely", "not_used")
STAGES = ("exploring", "piloting", "live", "scaled", "discontinued", "dont_know")
TIME_EFFECTS = ("saved", "added", "no_change", "dont_know")
IMPACTS = ("low", "medium", "high", "dont_know")
HORIZONS = ("at_scale", "within_1y", "1_3y", "over_3y", "dont_know")
TRAINING = ("foundational", "archetype", "product", "none")
START = datetime(2025, 1, 1, tzinfo=UTC)


def response_document(rng: random.Random, technology_ids: list[int]) -> dict:
    """One clinician response about three technologies (about 25 answer rows)."""
    answers = {"consent": "yes", "staff_group": rng.choice(STAFF_GROUPS), "region": rng.choice(REGIONS),
               "site_type": rng.choice(SITE_TYPES), "archetypes": sorted(rng.sample(ARCHETYPES, rng.choice((1, 1, 2))))}
    technologies = {}
    for technology_id in rng.sample(technology_ids, 3):
        effect = rng.choice(TIME_EFFECTS)
        values = {"tech_use_frequency": rng.choice(FREQUENCIES), "tech_stage": rng.choice(STAGES), "tech_time_effect": effect,
                  "tech_impact_workforce": rng.choice(IMPACTS), "tech_time_to_scale": rng.choice(HORIZONS)}
        if effect in ("saved", "added"):
            values["tech_minutes_per_case"] = round(rng.uniform(0.5, 30.0), 1)
        if rng.random() < 0.3:
            values["tech_impact_pathway"] = rng.choice(IMPACTS)
        if rng.random() < 0.3:
            values["tech_impact_system"] = rng.choice(IMPACTS)
        technologies[str(technology_id)] = values
    return {"answers": answers, "technologies": technologies}


def write_response_files(directory: Path, responses: int, technology_ids: list[int], *, per_file: int = PER_FILE,
                         seed: int = 11) -> list[Path]:
    """Flat CSV files of ``responses`` generated responses, ``per_file`` records each."""
    instrument = builtin_instruments()[INSTRUMENT]
    rng = random.Random(seed)
    paths = []
    for start in range(0, responses, per_file):
        count = min(per_file, responses - start)
        records = [FlatRecord(f"R{start + i:07d}", response_document(rng, technology_ids),
                              START + timedelta(minutes=3 * (start + i))) for i in range(count)]
        path = directory / f"responses-{start // per_file:04d}.csv"
        export_flat(instrument, records).to_csv(path, index=False)
        paths.append(path)
    return paths


def catalogue_file(directory: Path, technologies: int = TECHNOLOGIES) -> Path:
    from bench_catalogue import make_file  # the catalogue benchmark's template generator

    path = directory / "catalogue.csv"
    path.write_bytes(make_file(technologies))
    return path


def cli(*arguments: str, url: str) -> None:
    completed = subprocess.run([ROADMAP, *arguments, "--database-url", url], capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"roadmap {' '.join(arguments)} failed: {completed.stderr.strip()[-500:]}")


def counts(url: str) -> tuple[int, int]:
    """(technologies, imported responses) in the database."""
    engine = make_engine(url)
    try:
        upgrade_to_head(engine)
        with read_session(engine) as session:
            technologies = session.scalar(select(func.count()).select_from(Technology)) or 0
            responses = session.scalar(select(func.count()).select_from(SurveyResponse).where(SurveyResponse.source == "import")) or 0
    finally:
        engine.dispose()
    return technologies, responses


def build(url: str, responses: int, *, in_process: bool = False, per_file: int = PER_FILE) -> dict:
    """Make sure ``url`` holds 1,000 technologies and ``responses`` imported responses; returns what was done."""
    technologies, present = counts(url)
    # A page benchmark adds one response per run (the "after one new response" figure): a few
    # more than asked for is the same database.
    if technologies == TECHNOLOGIES and responses <= present <= responses + 100:
        return {"built": False, "seconds": 0.0}
    if technologies or present:
        raise RuntimeError(f"{url} holds other data ({technologies} technologies, {present} responses): give an empty database")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="national-evidence-") as folder:
        directory = Path(folder)
        cli("catalogue", "import", str(catalogue_file(directory)), url=url)
        engine = make_engine(url)
        with read_session(engine) as session:
            ids = list(session.scalars(select(Technology.id).order_by(Technology.id)))
        files = write_response_files(directory, responses, ids, per_file=per_file)
        generated = time.perf_counter()
        if in_process:
            from storage.survey_io import import_responses

            for path in files:
                import_responses(engine, INSTRUMENT, path.read_bytes())
        else:
            for path in files:
                cli("responses", "import", str(path), "--instrument", INSTRUMENT, url=url)
        engine.dispose()
    done = time.perf_counter()
    return {"built": True, "seconds": round(done - started, 1), "import_seconds": round(done - generated, 1),
            "responses_per_second": round(responses / (done - generated), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="database URL (an empty database, or one this script filled before)")
    parser.add_argument("--responses", type=int, required=True)
    parser.add_argument("--per-file", type=int, default=PER_FILE)
    parser.add_argument("--in-process", action="store_true", help="call the import function instead of the CLI per file")
    args = parser.parse_args()
    print(build(args.url, args.responses, in_process=args.in_process, per_file=args.per_file))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
