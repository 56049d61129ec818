"""The `roadmap` command line: every command works, prints JSON with --json, and fails with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamlit_app.cli import main

TEMPLATE = "name,company,type\nTriage helper,Acme,Diagnostics\n"


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_db_upgrade_and_demo_with_json(capsys, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    code, out, _ = run(capsys, "db", "upgrade", "--database-url", url, "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    code, out, _ = run(capsys, "demo", "--database-url", url, "--json")
    result = json.loads(out)
    assert code == 0 and result["technologies"] == 160 and result["adoption_records"] > 100
    code, out, _ = run(capsys, "demo", "--database-url", url, "--if-empty")
    assert code == 0 and "not loaded" in out


def test_catalogue_import_dry_run_import_and_export(capsys, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    source = tmp_path / "catalogue.csv"
    source.write_text(TEMPLATE)
    code, out, _ = run(capsys, "catalogue", "import", str(source), "--dry-run", "--json", "--database-url", url)
    assert code == 0 and json.loads(out) == {"ok": True, "format": "template", "dry_run": True, "rows": 1, "created": 1, "updated": 0, "unchanged": 0}
    code, out, _ = run(capsys, "catalogue", "import", str(source), "--database-url", url)
    assert code == 0 and out.strip() == "template file, 1 rows: created 1, updated 0, unchanged 0"
    target = tmp_path / "out.xlsx"
    code, out, _ = run(capsys, "catalogue", "export", str(target), "--json", "--database-url", url)
    assert code == 0 and json.loads(out)["rows"] == 1 and target.stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["catalogue", "import", "missing.csv"], "roadmap: no such file: missing.csv"),
        (["catalogue", "export", "out.txt"], "roadmap: cannot tell the format of 'out.txt': name it .csv or .xlsx"),
    ],
)
def test_failures_exit_non_zero_with_one_line(capsys, tmp_path: Path, monkeypatch, argv: list[str], reason: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv, "--database-url", f"sqlite:///{tmp_path / 'cli.db'}")
    assert code == 1
    assert err.strip() == reason


def test_refused_import_reports_the_problem_rows(capsys, tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("name,type\nThing,Nonsense\n")
    code, out, err = run(capsys, "catalogue", "import", str(source), "--json", "--database-url", f"sqlite:///{tmp_path / 'cli.db'}")
    assert code == 1
    assert json.loads(out)["ok"] is False
    assert "row 2, column type: 'Nonsense' is not a known technology type" in err
    assert len(err.strip().splitlines()) == 1


def test_unreachable_database_is_one_line(capsys, tmp_path: Path) -> None:
    # A database server that does not answer is the realistic failure (SQLite creates its file).
    code, _, err = run(capsys, "db", "upgrade", "--database-url", "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert code == 1
    assert err.startswith("roadmap: cannot open the database:")
    assert len(err.strip().splitlines()) == 1
