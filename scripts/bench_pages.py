"""Benchmark the analysis pages: AppTest re-render time after a filter change, with a warm cache.

For the demonstration data (a temporary SQLite database filled by the demo loaders, unless
``--database-url`` names one) it prints:

* compute: reading the six frames, blending the estimates and computing every view table;
* page: the Roadmap analysis page in AppTest as a lead: first render (cold cache), then
  re-renders after changing a filter between two values whose views are already cached (the
  case the < 0.5 s target is about), and after a change to values not seen yet (cache miss).

``--synthetic 10000 100000`` repeats the compute and page figures with 1,000 synthetic
technologies and that many survey responses (analysis/synthetic.py), fed to the page in place of
the database read, so the growth with the evidence is visible.

    python scripts/bench_pages.py
    python scripts/bench_pages.py --synthetic 10000 100000
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import streamlit  # noqa: E402
from streamlit import config  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from analysis import synthetic  # noqa: E402
from analysis.blending import BlendSettings  # noqa: E402
from analysis.views import Filters  # noqa: E402
from storage.analysis_inputs import AnalysisInputs, assemble_inputs, load_analysis_inputs  # noqa: E402
from storage.change_log import DataStamp  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.evidence_cache import Evidence, EvidenceCache  # noqa: E402
from storage.demo import load_demo_catalogue  # noqa: E402
from storage.migrate import upgrade_to_head  # noqa: E402
from streamlit_app import analysis_state  # noqa: E402
from streamlit_app.report import compute_analysis, compute_estimates  # noqa: E402

APP = str(ROOT / "streamlit_app" / "app.py")
REPEATS = 5
SYNTHETIC_TECHNOLOGIES = 1000


class SyntheticEvidence(EvidenceCache):
    """An evidence cache that always holds the given inputs (no database read)."""

    def __init__(self, inputs: AnalysisInputs) -> None:
        super().__init__()
        self._fixed = Evidence(DataStamp(inputs.data_version, 1), {}, inputs.responses, inputs.answers, {}, inputs)

    def current_evidence(self, engine: object) -> Evidence:
        self._evidence = self._fixed
        return self._fixed


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def demo_database() -> str:
    from streamlit_app.commands.demo import DEMO_EVIDENCE_LOADERS

    url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-pages-')}/demo.db"
    engine = make_engine(url)
    upgrade_to_head(engine)
    summary = load_demo_catalogue(engine, only_if_empty=True)
    for loader in DEMO_EVIDENCE_LOADERS:
        loader(engine, summary.skipped)
    engine.dispose()
    return url


def compute_figures(read: Callable[[], AnalysisInputs]) -> dict[str, float]:
    started = time.perf_counter()
    inputs = read()
    loaded = time.perf_counter()
    settings = BlendSettings()
    estimates = compute_estimates(inputs, settings)
    blended = time.perf_counter()
    compute_analysis(inputs, estimates, settings, Filters(), 5)
    done = time.perf_counter()
    return {"read": loaded - started, "estimates": blended - loaded, "views": done - blended,
            "answers": len(inputs.answers), "technologies": len(inputs.technologies)}


def page_figures(first: str, second: str, unseen: list[str], technologies: int) -> dict[str, float]:
    """AppTest timings of the Roadmap analysis page: filter changes between two cached values and
    to values not computed yet. ``first``/``second``/``unseen`` are technology type codes."""
    at = AppTest.from_file(APP, default_timeout=600)
    at.session_state["dev_role"] = "lead"
    at.run()
    at.switch_page("views/analysis_roadmap.py")
    cold = timed(at.run)
    if at.exception:
        raise RuntimeError([e.message for e in at.exception])
    shown = [m.value for m in at.metric if m.label == "Technologies"]
    if shown != [str(technologies)]:  # the page must be showing the data being measured
        raise RuntimeError(f"the page shows {shown} technologies, expected {technologies}")
    type_filter = lambda: at.multiselect(key="af_type_codes")  # noqa: E731 - re-found after every run
    type_filter().set_value([first]).run()
    type_filter().set_value([second]).run()  # both views now cached
    warm = [timed(type_filter().set_value([value]).run) for _ in range(REPEATS) for value in (first, second)]
    misses = [timed(type_filter().set_value([value]).run) for value in unseen]
    return {"cold": cold, "warm_median": statistics.median(warm), "warm_max": max(warm),
            "miss_median": statistics.median(misses) if misses else float("nan")}


def report(label: str, compute: dict[str, float], page: dict[str, float]) -> None:
    print(f"{label}: {compute['technologies']} technologies, {compute['answers']:,} answer rows")
    print(f"  compute: read {compute['read']:.2f} s, estimates {compute['estimates']:.2f} s, views {compute['views']:.2f} s")
    print(f"  page:    first render {page['cold']:.2f} s; filter change, warm cache: median {page['warm_median']:.3f} s, "
          f"max {page['warm_max']:.3f} s (target < 0.5 s); filter change, cache miss: median {page['miss_median']:.3f} s")
    print(f"  peak memory so far: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="measure this database instead of a fresh demo one")
    parser.add_argument("--synthetic", type=int, nargs="*", default=[], metavar="RESPONSES",
                        help="also measure 1,000 synthetic technologies with this many responses")
    args = parser.parse_args()
    config.set_option("server.address", "127.0.0.1")
    os.environ["ROADMAP_DEV_LOGIN"] = "1"
    os.environ.pop("ROADMAP_DEMO_ON_FIRST_START", None)

    url = args.database_url or demo_database()
    os.environ["ROADMAP_DATABASE_URL"] = url
    engine = make_engine(url)
    upgrade_to_head(engine)
    figures = compute_figures(lambda: load_analysis_inputs(engine))
    report("demo data", figures, page_figures("diagnostics", "automation", ["remote_monitoring", "therapeutic", "p4_medicine"],
                                              int(figures["technologies"])))

    for responses in args.synthetic:
        data = synthetic.generate(SYNTHETIC_TECHNOLOGIES, responses, seed=1)
        inputs = assemble_inputs({name: getattr(data, name) for name in
                                  ("technologies", "technology_links", "adoption", "responses", "answers", "workshop_results")},
                                 version=responses)
        # The page reads its inputs through the process's analysis cache; hand it the synthetic frames instead.
        streamlit.cache_data.clear()
        streamlit.cache_resource.clear()
        cache = analysis_state.AnalysisCache()
        cache.evidence = SyntheticEvidence(inputs)
        analysis_state.analysis_cache = lambda _url, cache=cache: cache
        types = inputs.technologies["type_code"].astype(str).value_counts().index.tolist()
        report(f"synthetic, {responses:,} responses", compute_figures(lambda inputs=inputs: inputs),
               page_figures(types[0], types[1], types[2:5], len(inputs.technologies)))


if __name__ == "__main__":
    main()
