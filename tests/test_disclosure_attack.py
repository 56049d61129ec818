"""The derivation attack (tests/disclosure_attack.py) against every published output.

Random worlds (hypothesis): each technology has a random desk assessment, sites and workshop
consensus, and either 1 to N-1 survey respondents (to be withheld) or at least N of whom a small
group are non-users (to be weighted alike). Two versions of a world differ only in what must stay
hidden: the few respondents' number, answers, use of the technology and dates, and which of the
many are users. Every output (estimates export, view tables, drill-downs, the report; with and
without a respondent filter) must be identical in both: then nothing about them can be recovered,
by the recipe or any other. The recipe itself is shown to work when disclosure control is off.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from analysis import schemas as s
from analysis.disclosure import DEFAULT_THRESHOLD as N
from analysis.views import Filters
from storage.analysis_inputs import assemble_inputs
from storage.db import make_engine
from tests.disclosure_attack import differences, published_outputs, recover_answers

ORDINAL_VARIABLES = {quantity: s.SURVEY_VARIABLE[quantity] for quantity in s.ORDINAL_QUANTITIES}


def respondent_answers(draw, response_id: int, technology_id: int, frequency: str) -> list[tuple]:
    """Every question answered (not "don't know"), so each question keeps its few non-users in
    both versions: whether a class is empty is shown like any zero, its members are not."""
    rows = [(response_id, technology_id, s.VAR_USE_FREQUENCY, frequency)]
    for quantity, variable in ORDINAL_VARIABLES.items():
        rows.append((response_id, technology_id, variable, draw(st.sampled_from(s.QUANTITY_CATEGORIES[quantity]))))
    rows.append((response_id, technology_id, s.VAR_TIME_EFFECT, draw(st.sampled_from(s.TIME_EFFECTS))))
    rows.append((response_id, technology_id, s.VAR_MINUTES, str(draw(st.integers(0, 60)))))
    return rows


@st.composite
def worlds(draw) -> tuple[dict, dict, Filters]:
    """Two versions of one world that differ only in what disclosure control must hide."""
    n_tech = draw(st.integers(1, 3))
    when = pd.Timestamp("2026-01-10")
    technologies = pd.DataFrame({
        "technology_id": range(1, n_tech + 1),
        "name": [f"Tool {i}" for i in range(1, n_tech + 1)],
        "type_code": [draw(st.sampled_from(["diagnostics", "automation"])) for _ in range(n_tech)],
        "subtype_code": None,
        "time_to_deployment": [draw(st.sampled_from([*s.HORIZONS, None])) for _ in range(n_tech)],
        **{column: [draw(st.sampled_from([*s.IMPACT_LEVELS, None])) for _ in range(n_tech)]
           for column in ("impact_workforce", "impact_pathway", "impact_system")},
        "last_reviewed": when, "updated_at": when, "is_demo": False,
    })
    links = pd.DataFrame({"technology_id": range(1, n_tech + 1), "kind": "workforce_group", "code": "nurse:general_practice",
                          "is_primary": True})
    adoption = pd.DataFrame([{"technology_id": t, "site_id": 100 * t + site, "region": draw(st.sampled_from(s.REGIONS)),
                              "site_type": "acute_trust", "status": draw(st.sampled_from(s.ADOPTION_STATUSES)),
                              "start_date": when, "end_date": pd.NaT, "updated_at": when}
                             for t in range(1, n_tech + 1) for site in range(draw(st.integers(0, 3)))],
                            columns=["technology_id", "site_id", "region", "site_type", "status", "start_date",
                                     "end_date", "updated_at"])
    workshops = pd.DataFrame([{"workshop_id": t, "round": 1, "technology_id": t, "quantity": quantity,
                               "category": draw(st.sampled_from(s.QUANTITY_CATEGORIES[quantity])), "consensus": "in",
                               "n_participants": 12, "rule": "COMET", "closed_at": when}
                              for t in range(1, n_tech + 1) for quantity in s.WORKSHOP_QUANTITIES if draw(st.booleans())],
                             columns=["workshop_id", "round", "technology_id", "quantity", "category", "consensus",
                                      "n_participants", "rule", "closed_at"])
    kinds = [draw(st.sampled_from(["few", "many"])) for _ in range(n_tech)]

    # The many: fixed answers, fixed ids and dates; only who is a user may differ (a few non-users).
    many, people = [], []
    next_id = 1
    for technology_id, kind in enumerate(kinds, start=1):
        if kind != "many":
            continue
        size = draw(st.integers(N, N + 4))
        for _ in range(size):
            many.append((next_id, technology_id, respondent_answers(draw, next_id, technology_id, "daily")))
            people.append(next_id)
            next_id += 1

    def version(hidden_seed: int) -> dict:
        rng = np.random.default_rng(hidden_seed)
        rows, responses = [], []
        for response_id in people:
            responses.append((response_id, pd.Timestamp("2026-02-01") + pd.Timedelta(days=response_id)))
        by_technology: dict[int, list] = {}
        for response_id, technology_id, answers in many:
            by_technology.setdefault(technology_id, []).append((response_id, answers))
        for technology_id, group in by_technology.items():
            aware = set(rng.choice([r for r, _ in group], size=int(rng.integers(1, N)), replace=False).tolist())
            for response_id, answers in group:
                frequency = "not_used" if response_id in aware else str(rng.choice(s.USER_FREQUENCIES))
                rows += [(r, t, v, frequency if v == s.VAR_USE_FREQUENCY else value) for r, t, v, value in answers]
        response_id = next_id
        for technology_id, kind in enumerate(kinds, start=1):
            if kind != "few":
                continue
            for _ in range(int(rng.integers(1, N))):  # 1 to N-1 respondents, all answers and dates random
                frequency = str(rng.choice(s.USE_FREQUENCIES))
                rows.append((response_id, technology_id, s.VAR_USE_FREQUENCY, frequency))
                for quantity, variable in ORDINAL_VARIABLES.items():
                    rows.append((response_id, technology_id, variable, str(rng.choice(s.QUANTITY_CATEGORIES[quantity]))))
                rows.append((response_id, technology_id, s.VAR_TIME_EFFECT, str(rng.choice(["saved", "added"]))))
                rows.append((response_id, technology_id, s.VAR_MINUTES, str(int(rng.integers(1, 90)))))
                responses.append((response_id, pd.Timestamp("2026-03-01") + pd.Timedelta(days=int(rng.integers(0, 300)))))
                response_id += 1
        return {
            "technologies": technologies, "technology_links": links, "adoption": adoption, "workshop_results": workshops,
            "answers": pd.DataFrame(rows, columns=["response_id", "technology_id", "variable", "value"]),
            "responses": pd.DataFrame({
                "response_id": [r for r, _ in responses], "instrument": "clinician_experience",
                "submitted_at": [d for _, d in responses], "region": "london", "site_type": "acute_trust",
                "staff_group": "nurse", "is_demo": False,
            }),
        }

    seeds = draw(st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=2, unique=True))
    view = draw(st.sampled_from([Filters(), Filters(staff_groups=["nurse"]), Filters(respondent_regions=["london"])]))
    return version(seeds[0]), version(seeds[1]), view


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(world=worlds())
def test_nothing_published_depends_on_what_must_stay_hidden(world) -> None:
    first, second, view = world
    inputs = [assemble_inputs(version, 1) for version in (first, second)]
    outputs = [published_outputs(each, N, view) for each in inputs]
    assert differences(*outputs) == []
    # So the recipe finds the same in both: nothing about the hidden respondents.
    recovered = [recover_answers(pd.read_csv(StringIO(each["estimates export"])), world_inputs.technologies)
                 for each, world_inputs in zip(outputs, inputs, strict=True)]
    pd.testing.assert_frame_equal(*recovered)


def small_world(respondents: list[tuple[str, str]]) -> dict:
    """One technology (desk time to deployment 1_3y) and respondents' (use frequency, horizon)."""
    when = pd.Timestamp("2026-01-10")
    rows = []
    for response_id, (frequency, horizon) in enumerate(respondents, start=1):
        rows += [(response_id, 1, s.VAR_USE_FREQUENCY, frequency), (response_id, 1, "tech_time_to_scale", horizon)]
    empty = {name: pd.DataFrame(columns=[spec.name for spec in s.FRAME_SCHEMAS[name]])
             for name in ("technology_links", "adoption", "workshop_results")}
    return {
        **empty,
        "technologies": pd.DataFrame({"technology_id": [1], "name": ["Tool"], "type_code": ["diagnostics"], "subtype_code": [None],
                                      "time_to_deployment": ["1_3y"], "impact_workforce": [None], "impact_pathway": [None],
                                      "impact_system": [None], "last_reviewed": [when], "updated_at": [when], "is_demo": [False]}),
        "answers": pd.DataFrame(rows, columns=["response_id", "technology_id", "variable", "value"]),
        "responses": pd.DataFrame({"response_id": range(1, len(respondents) + 1), "instrument": "clinician_experience",
                                   "submitted_at": pd.Timestamp("2026-02-01"), "region": None, "site_type": None,
                                   "staff_group": None, "is_demo": False}),
    }


def recovered_horizons(threshold: int, respondents: list[tuple[str, str]]) -> dict[str, tuple]:
    inputs = assemble_inputs(small_world(respondents), 1)
    estimates = pd.read_csv(StringIO(published_outputs(inputs, threshold)["estimates export"]))
    found = recover_answers(estimates[estimates["quantity"] == "time_to_deployment"], inputs.technologies)
    return {row.category: (row.users, row.aware) for row in found.itertuples()}


def test_the_recipe_recovers_two_answers_when_disclosure_control_is_off() -> None:
    # Two radiographers: one user says "within 1 year", one non-user says "at scale".
    respondents = [("daily", "within_1y"), ("not_used", "at_scale")]
    unprotected = recovered_horizons(1, respondents)
    assert unprotected["within_1y"] == (1, 0) and unprotected["at_scale"] == (0, 1)
    protected = recovered_horizons(N, respondents)
    assert all(found == (0, 0) for found in protected.values())  # nothing but the desk value is left


def test_the_recipe_cannot_split_a_small_group_of_non_users() -> None:
    # Six users and one non-user: the non-user's answer would be the 0.4 on "at scale".
    respondents = [("daily", "within_1y")] * 6 + [("not_used", "at_scale")]
    assert recovered_horizons(1, respondents)["at_scale"] == (0, 1)
    protected = recovered_horizons(N, respondents)
    assert protected["at_scale"][1] != 1  # weighted alike at 0.7: no 0.4 to find


def test_the_command_line_exports_and_report_ignore_withheld_answers(tmp_path: Path, sqlite_template: Path) -> None:
    """End to end on the demonstration database: change the answers of every withheld group
    (values and use of the technology) and the exported estimates and report stay byte for byte."""
    roadmap = [sys.executable, "-m", "streamlit_app.cli"]
    database = tmp_path / "first.db"
    shutil.copy(sqlite_template, database)
    url = f"sqlite:///{database}"
    subprocess.run([*roadmap, "demo", "--database-url", url], check=True, capture_output=True)
    subprocess.run([*roadmap, "estimates", "export", str(tmp_path / "first.csv"), "--database-url", url], check=True,
                   capture_output=True)
    estimates = pd.read_csv(tmp_path / "first.csv")
    withheld = estimates[estimates["survey_withheld"] & (estimates["quantity"] != "minutes_per_case")]
    assert len(withheld) > 20
    changed = tmp_path / "second.db"
    shutil.copy(database, changed)
    engine = make_engine(f"sqlite:///{changed}")
    with engine.begin() as connection:
        for row in withheld.itertuples():
            variable = s.SURVEY_VARIABLE[row.quantity]
            categories = s.QUANTITY_CATEGORIES[row.quantity]
            # Every non-"don't know" answer moves one category along (so the count stays below N).
            for category, replacement in zip(categories, categories[1:] + categories[:1], strict=True):
                connection.execute(text("UPDATE survey_answer SET value = :new || '#' WHERE technology_id = :t "
                                        "AND variable = :v AND value = :old"),
                                   {"new": replacement, "t": int(row.technology_id), "v": variable, "old": category})
            connection.execute(text("UPDATE survey_answer SET value = replace(value, '#', '') WHERE technology_id = :t "
                                    "AND variable = :v"), {"t": int(row.technology_id), "v": variable})
        technologies = [int(t) for t in withheld["technology_id"].unique()
                        if estimates[(estimates["technology_id"] == t)]["survey_withheld"].all()]
        connection.execute(text("UPDATE survey_answer SET value = CASE value WHEN 'not_used' THEN 'daily' ELSE 'not_used' END "
                                f"WHERE variable = 'tech_use_frequency' AND technology_id IN ({','.join(map(str, technologies))})"))
    engine.dispose()
    second = f"sqlite:///{changed}"
    subprocess.run([*roadmap, "estimates", "export", str(tmp_path / "second.csv"), "--database-url", second], check=True,
                   capture_output=True)
    assert (tmp_path / "first.csv").read_bytes() == (tmp_path / "second.csv").read_bytes()
    for name, address in (("first", url), ("second", second)):
        subprocess.run([*roadmap, "report", str(tmp_path / f"{name}.html"), "--database-url", address], check=True,
                       capture_output=True)

    def comparable(path: Path) -> str:
        content = path.read_text(encoding="utf-8")
        return pd.Series([content]).str.replace(r"<td>Generated</td><td>[^<]*</td>", "", regex=True).iloc[0]

    assert comparable(tmp_path / "first.html") == comparable(tmp_path / "second.html")
