"""`roadmap consensus` on any ratings file and `roadmap workshop list|export` on the demo workshop."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from streamlit_app.cli import main

# Item a, round 1: 7 of 10 rate 7-9 and 1 of 10 rates 1-3 -> exactly 70% and 10% -> in.
# Item b, round 1: 2 of 4 rate 1-3 -> none under comet; median 3.5, so RAND/UCLA: uncertain.
RATINGS = "participant,group,item,round,rating\n" + "\n".join(
    [f"p{i},{'nurses' if i < 5 else 'doctors'},a,1,{value}" for i, value in enumerate([7, 8, 9, 7, 8, 9, 7, 5, 5, 2])]
    + [f"p{i},{'nurses' if i < 5 else 'doctors'},b,1,{value}" for i, value in enumerate([1, 3, 4, 6])]
) + "\n"


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_consensus_classifies_a_ratings_file(capsys, tmp_path: Path) -> None:
    path = tmp_path / "ratings.csv"
    path.write_text(RATINGS)
    code, out, _ = run(capsys, "consensus", str(path), "--rule", "comet", "--json")
    result = json.loads(out)
    assert code == 0 and result["ok"] is True
    rows = {row["item"]: row for row in result["rows"]}
    assert (rows["a"]["n"], rows["a"]["pct_high"], rows["a"]["pct_low"], rows["a"]["consensus"]) == (10, 70.0, 10.0, "in")
    assert (rows["b"]["n"], rows["b"]["median"], rows["b"]["consensus"]) == (4, 3.5, "none")
    assert result["counts"] == {"in": 1, "out": 0, "none": 1}

    code, out, _ = run(capsys, "consensus", str(path), "--rule", "custom", "--in", "75", "--out", "10")
    assert code == 0 and "Custom rule: consensus in if at least 75%" in out
    assert "0 in, 0 out, 2 no consensus" in out  # 70% < 75%

    code, out, _ = run(capsys, "consensus", str(path), "--rule", "comet", "--every-group", "--by-group", "--json")
    rows = json.loads(out)["rows"]
    by_group = {(row["item"], row["group"]): row["consensus"] for row in rows}
    # Nurses on a: 7, 8, 9, 7, 8 -> in; doctors: 9, 7, 5, 5, 2 -> 40% high -> none; so every-group overall: none.
    assert by_group[("a", "nurses")] == "in" and by_group[("a", "doctors")] == "none"
    assert by_group[("a", "(all groups)")] == "none"

    code, out, _ = run(capsys, "consensus", str(path), "--rule", "ram", "--json")
    rows = {row["item"]: row for row in json.loads(out)["rows"]}
    assert rows["b"]["appropriateness"] == "uncertain" and rows["a"]["consensus"] == "in"


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--rule", "ram", "--in", "70"], "the ram rule takes no --in/--out thresholds"),
        (["--rule", "custom", "--in", "70"], "the custom rule needs both --in and --out"),
        (["--rule", "custom", "--in", "10", "--out", "20"], "out_pct must be above 0 and at most in_pct"),
    ],
)
def test_consensus_rule_errors_are_one_line(capsys, tmp_path: Path, argv: list[str], reason: str) -> None:
    path = tmp_path / "ratings.csv"
    path.write_text(RATINGS)
    code, _out, err = run(capsys, "consensus", str(path), *argv)
    assert code == 1 and reason in err and err.count("\n") == 1


def test_consensus_names_the_bad_rows(capsys, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("participant,group,item,round,rating\np1,g,a,1,7\np2,g,a,one,7\np3,g,a,1,12\n")
    code, _out, err = run(capsys, "consensus", str(path), "--rule", "comet")
    assert code == 1 and err.count("\n") == 1
    assert "2 problem(s) in the ratings file: row 3, column round: 'one' is not a positive whole number" in err
    assert "row 4, column rating: 12 is outside the scale 1-9" in err
    code, _out, err = run(capsys, "consensus", str(tmp_path / "missing.csv"), "--rule", "comet")
    assert code == 1 and "no such file" in err


def test_workshop_list_and_exports(capsys, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    code, out, _ = run(capsys, "demo", "--database-url", url, "--json")
    loaded = json.loads(out)
    assert code == 0 and loaded["workshops"] == 1
    code, out, _ = run(capsys, "workshop", "list", "--database-url", url)
    assert code == 0 and out.startswith("1\tclosed\tDemo: regional AI adoption consensus workshop")

    ratings_path = tmp_path / "ratings.csv"
    code, out, _ = run(capsys, "workshop", "export", "1", str(ratings_path), "--database-url", url, "--json")
    result = json.loads(out)
    assert code == 0 and result["rows"] == loaded["workshop_ratings"]
    frame = pd.read_csv(io.BytesIO(ratings_path.read_bytes()), encoding="utf-8-sig")
    assert list(frame.columns) == ["workshop_id", "round", "item", "technology_id", "question", "participant", "group",
                                   "rating", "rating_label", "reason", "updated_at_utc"]
    assert set(frame["participant"].str[:1]) == {"P"}  # aliases, never tokens
    assert frame.groupby("round")["participant"].nunique().to_dict() == {1: 20, 2: 18}

    accord_path = tmp_path / "accord.xlsx"
    code, _out, _ = run(capsys, "workshop", "export", "1", str(accord_path), "--what", "accord", "--database-url", url)
    assert code == 0
    sheet = openpyxl.load_workbook(accord_path).active
    header = [cell.value for cell in sheet[1]]
    assert header[:4] == ["round", "invited", "responded", "response_rate_pct"]
    assert [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)] == [20, 18]

    code, _out, err = run(capsys, "workshop", "export", "99", str(tmp_path / "x.csv"), "--database-url", url)
    assert code == 1 and "Workshop 99 was not found" in err
    code, _out, err = run(capsys, "workshop", "export", "1", str(tmp_path / "x.txt"), "--database-url", url)
    assert code == 1 and err.count("\n") == 1
