"""The README stays true: every CLI command and every ROADMAP_* setting the code reads is documented."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from streamlit_app.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = command_paths(sub, (*prefix, name))
                paths.extend(nested or [(*prefix, name)])
    return paths


def test_every_cli_command_is_in_the_readme() -> None:
    missing = [" ".join(path) for path in command_paths(build_parser()) if f"roadmap {' '.join(path)}" not in README]
    assert missing == []


def test_every_setting_the_code_reads_is_in_the_readme() -> None:
    used = set()
    for package in ("storage", "streamlit_app", "survey", "analysis"):
        for path in (ROOT / package).rglob("*.py"):
            used |= set(re.findall(r"\"(ROADMAP_[A-Z_]+)\"", path.read_text(encoding="utf-8")))
    missing = sorted(name for name in used if name not in README)
    assert missing == []


def test_readme_commands_exist() -> None:
    assert "scripts/run.sh" in README and (ROOT / "scripts" / "run.sh").exists()
    assert "scripts/test.sh" in README and (ROOT / "scripts" / "test.sh").exists()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test.sh" in ci, "CI must run the README's test command"


def test_every_audit_action_is_documented() -> None:
    from storage.audit import ACTIONS

    security = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert [action for action in ACTIONS if f"`{action}`" not in security] == []
