"""The `roadmap` command line: every command works, prints JSON with --json, and fails with one line."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from streamlit_app.cli import build_parser, main
from streamlit_app.commands import parsers
from streamlit_app.commands.parsers import Handler

ROOT = Path(__file__).resolve().parents[1]

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


# --------------------------------------------------------------------------- fast start-up

HEAVY_MODULES = ("pandas", "numpy", "sqlalchemy", "streamlit", "pydantic", "alembic", "storage", "survey", "analysis")


def _loaded_by(argv: list[str]) -> tuple[int, list[str]]:
    """Run the CLI's entry point with ``argv`` in a fresh interpreter; (exit code, heavy packages it imported)."""
    probe = (
        "import json, sys\n"
        "from streamlit_app.cli import main\n"
        "try:\n"
        f"    code = main({argv!r})\n"
        "except SystemExit as stop:\n"
        "    code = stop.code\n"
        f"heavy = sorted({{name.split('.')[0] for name in sys.modules}} & set({HEAVY_MODULES!r}))\n"
        "print(json.dumps([code, heavy]), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    code, heavy = json.loads(done.stderr.strip().splitlines()[-1])
    return code, heavy


def test_help_imports_no_command_dependencies() -> None:
    assert _loaded_by(["--help"]) == (0, [])


@pytest.mark.parametrize("argv", [["responses", "import", "--help"], ["catalogue", "import"], ["estimates", "export", "--help"]])
def test_a_command_s_help_and_usage_errors_import_nothing_heavy(argv: list[str]) -> None:
    code, heavy = _loaded_by(argv)
    assert code in (0, 2) and heavy == []


def test_a_command_loads_only_its_own_group(tmp_path: Path) -> None:
    code, heavy = _loaded_by(["db", "status", "--database-url", f"sqlite:///{tmp_path / 'new.db'}"])
    assert code in (1, 2) and "storage" in heavy
    assert not {"streamlit", "analysis", "survey"} & set(heavy)


def _commands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _commands(sub) or [sub]
    return found


def test_every_command_names_a_handler_that_exists() -> None:
    handlers = [command.get_default("handler") for command in _commands(build_parser())]
    assert len(handlers) > 20 and all(isinstance(handler, Handler) for handler in handlers)
    assert all(callable(handler.resolve()) for handler in handlers)


def test_choice_lists_match_what_the_commands_accept() -> None:
    from typing import get_args

    from storage.catalogue_io import ImportFormat
    from storage.permissions import ROLES
    from storage.survey_io import INSTRUMENT_EXPORT_FORMATS, INSTRUMENT_FORMATS
    from storage.workshops import EXPORT_TABLES

    assert parsers.ROLE_CHOICES == ROLES
    assert parsers.INSTRUMENT_FORMAT_CHOICES == INSTRUMENT_FORMATS
    assert parsers.INSTRUMENT_EXPORT_CHOICES == INSTRUMENT_EXPORT_FORMATS
    assert parsers.WORKSHOP_TABLE_CHOICES == EXPORT_TABLES
    assert parsers.CATALOGUE_FORMAT_CHOICES == get_args(ImportFormat)
