"""Catalogue files shaped like real registers: long semicolon-joined device names, pathway and
class spellings as registers write them, submission numbers with words around them."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.catalogue import TEXT_LIMITS, TechnologyInput, fda_pathway_code, fda_submission
from storage.catalogue_io import CatalogueImportError, import_catalogue, template_notes
from storage.db import read_session, write_session
from storage.models import ExternalId, Technology

FDA_HEADER = ["Date of Final Decision", "Submission Number", "Device", "Company", "Panel (Lead)", "Primary Product Code"]


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def model_list(rng: random.Random, length: int) -> str:
    """A device cell as the FDA list writes a family of models: names joined by semicolons."""
    models = []
    while len("; ".join(models)) < length:
        models.append(f"Vista{rng.choice('ABCDEFGH')}-{rng.randint(100, 999)} Ultra™ Scan Modüle {rng.randint(1, 99)}")
    return "; ".join(models)[:length].rstrip("; ")


def stored(engine) -> dict[str, tuple[str, str]]:
    with read_session(engine) as session:
        return {row.name: (row.company, row.fda_pathway) for row in session.execute(
            select(Technology.name, Technology.company, Technology.fda_pathway))}


def test_an_fda_list_with_long_semicolon_joined_device_names_imports_whole(engine) -> None:
    rng = random.Random(438)
    long_names = [model_list(rng, 333), model_list(rng, 438), model_list(rng, TEXT_LIMITS["name"])]
    company = "Consolidated Imaging Holdings, " * 66  # about 2,000 characters
    rows = [["05/30/2024", f"K24{index:04d}", name, company[:TEXT_LIMITS["company"]], "Radiology", "QIH"]
            for index, name in enumerate(long_names)]
    rows += [["11/02/2023", "DEN230002", "RhythmWatch", "Beta Cardio", "Cardiovascular", "QDA"]]
    data = csv_bytes(FDA_HEADER, rows)
    assert import_catalogue(engine, data).count("create") == 4
    saved = stored(engine)
    assert set(saved) == {*long_names, "RhythmWatch"}
    assert saved[long_names[2]] == (company[:TEXT_LIMITS["company"]].strip(), "510k")
    assert import_catalogue(engine, data).count("unchanged") == 4  # matched again, however long


def test_template_text_up_to_its_documented_limits_and_one_character_over(engine) -> None:
    limits = {column: TEXT_LIMITS[column] for column in ("name", "company", "short_description", "long_description",
                                                          "ai_technique", "input_data_type")}
    at_limit = [("x" * (limit - 1)) + "y" for limit in limits.values()]
    assert import_catalogue(engine, csv_bytes(list(limits), [at_limit])).count("create") == 1
    over = [text + "z" for text in at_limit]
    with pytest.raises(CatalogueImportError) as refused:
        import_catalogue(engine, csv_bytes(list(limits), [over]))
    reported = {problem.column: problem.message for problem in refused.value.problems}
    assert set(reported) == set(limits)
    assert reported["name"] == "String should have at most 2000 characters"
    assert reported["long_description"] == "String should have at most 100000 characters"


@pytest.mark.parametrize(("spelling", "number", "pathway"), [
    ("510(k)", "K201234", "510k"),
    ("510(k) cleared", "", "510k"),
    ("De Novo", "DEN200012", "de_novo"),
    ("De novo 510(k) cleared", "", "de_novo"),
    ("PMA", "", "pma"),
    ("PMA approved", "", "pma"),
    ("  pma   APPROVED ", "", "pma"),
    ("", "PMA P150043", "pma"),  # no pathway: it is read from the number's prefix
    ("", "K193456", "510k"),
    ("", "den180001", "de_novo"),
    ("", "P130020/S005", "pma"),
])
def test_pathway_spellings_and_numbers_registers_use(engine, spelling: str, number: str, pathway: str) -> None:
    data = csv_bytes(["name", "company", "fda_pathway", "fda_submission_number"], [["Reader", "Acme", spelling, number]])
    import_catalogue(engine, data)
    with read_session(engine) as session:
        row = session.execute(select(Technology.fda_pathway, Technology.fda_submission_number)).one()
    assert row.fda_pathway == pathway
    if number:
        assert row.fda_submission_number == number.replace("PMA ", "").upper()


def test_an_fda_list_cell_with_the_pathway_before_the_number(engine) -> None:
    import_catalogue(engine, csv_bytes(FDA_HEADER, [["01/15/2016", "PMA P150043", "ScreenPath", "Gamma Dx", "Pathology", "PZZ"]]))
    with read_session(engine) as session:
        assert session.scalar(select(ExternalId.value).where(ExternalId.scheme == "fda")) == "P150043"
    assert stored(engine)["ScreenPath"] == ("Gamma Dx", "pma")


def test_class_spellings_and_refusals_name_the_row_and_column(engine) -> None:
    rows = [["A", "Class IIa", "mdr"], ["B", "class iib", "MDR"], ["C", "IIa", ""], ["D", " Class III ", "IVDR"]]
    import_catalogue(engine, csv_bytes(["name", "ukca_ce_class", "ukca_ce_regime"], rows))
    with read_session(engine) as session:
        classes = dict(session.execute(select(Technology.name, Technology.ukca_ce_class)).all())
    assert classes == {"A": "IIa", "B": "IIb", "C": "IIa", "D": "III"}
    refused_rows = [["E", "Class IV", "", ""], ["F", "", "510(k) or PMA", ""], ["G", "", "Breakthrough", ""],
                    ["H", "", "PMA approved", "K123456"]]
    with pytest.raises(CatalogueImportError) as refused:
        import_catalogue(engine, csv_bytes(["name", "ukca_ce_class", "fda_pathway", "fda_submission_number"], refused_rows))
    where = {(problem.row, problem.column) for problem in refused.value.problems}
    assert where == {(2, "ukca_ce_class"), (3, "fda_pathway"), (4, "fda_pathway"), (5, "fda_pathway")}


def test_name_and_company_stay_unique_however_long(engine) -> None:
    name = "Model " * 400  # 2,400 bytes: past what a PostgreSQL index entry can hold as text
    with write_session(engine) as session:
        session.add_all([Technology(name=name, company="Acme " * 400), Technology(name=name, company="Other")])
    with pytest.raises(IntegrityError), write_session(engine) as session:
        session.add(Technology(name=name, company="Other"))
    with pytest.raises(ValidationError):
        TechnologyInput(name="n" * (TEXT_LIMITS["name"] + 1))


# --------------------------------------------------------------------------- property

PATHWAY_WORDS = {"510k": ["510(k)", "510 (k)", "510k", "510(K) cleared", "Traditional 510(k)", "premarket notification"],
                 "de_novo": ["De Novo", "de novo", "DE NOVO granted", "De novo 510(k) cleared", "denovo"],
                 "pma": ["PMA", "pma approved", "PMA Supplement", "Premarket Approval", "PMA P150043"]}


def respaced(draw, text: str) -> str:
    """Any case and spacing: each letter's case and the runs of spaces drawn at random."""
    cased = "".join(character.upper() if draw(st.booleans()) else character.lower() for character in text)
    spaces = " " * draw(st.integers(1, 3))
    return (" " * draw(st.integers(0, 2))) + spaces.join(cased.split(" ")) + (" " * draw(st.integers(0, 2)))


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_spelling_of_a_pathway_reads_as_that_pathway_and_mixtures_as_none(data) -> None:
    pathway = data.draw(st.sampled_from(sorted(PATHWAY_WORDS)))
    spelling = respaced(data.draw, data.draw(st.sampled_from(PATHWAY_WORDS[pathway])))
    assert fda_pathway_code(spelling) == pathway
    other = data.draw(st.sampled_from(PATHWAY_WORDS["pma" if pathway != "pma" else "510k"]))
    assert fda_pathway_code(f"{spelling} or {other}") is None


@settings(max_examples=150, deadline=None, database=None)
@given(st.sampled_from(["K", "DEN", "P"]), st.integers(0, 999_999), st.sampled_from(["", "PMA ", "510(k): ", "No. ", "("]),
       st.sampled_from(["", " ", ")", " (cleared)"]), st.booleans())
def test_a_submission_number_is_found_inside_a_cell(prefix: str, digits: int, before: str, after: str, lower: bool) -> None:
    number = f"{prefix}{digits:06d}"
    cell = before + (number.lower() if lower else number) + after
    assert fda_submission(cell) == number
    assert fda_submission(f"{cell}; {prefix}{(digits + 1) % 1_000_000:06d}") is None  # two numbers: ambiguous


def test_the_readme_and_the_template_notes_state_every_text_limit() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Catalogue files", 1)[1].split("\n## ", 1)[0]
    notes = " ".join(template_notes())
    for column, limit in TEXT_LIMITS.items():
        assert f"`{column}`" in section and f"{limit:,}" in section, column
        assert column in notes and f"{limit:,}" in notes, column
