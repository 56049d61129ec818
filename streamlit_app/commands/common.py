"""Shared plumbing for CLI commands: errors, output, the database connection.

The command line imports this module to build its parser and report errors, so it imports
nothing heavy at the top: the database and key-ring helpers import what they need when called.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from storage.security import PseudonymKeyRing


class CommandError(Exception):
    """A failure to report as one line, with the process exit code."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Result:
    """What a command returns: data for ``--json`` and lines for people."""

    data: dict
    lines: list[str] = field(default_factory=list)


def emit(args: argparse.Namespace, result: Result) -> None:
    if getattr(args, "json", False):
        print(json.dumps({"ok": True, **result.data}, default=str, ensure_ascii=False))
    else:
        for line in result.lines:
            print(line)


def counts_text(counts: dict[str, int]) -> str:
    """``{"survey_responses": 3}`` as "3 survey responses"."""
    return ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in counts.items())


def open_database(args: argparse.Namespace) -> Engine:
    """The engine for ``--database-url``, upgraded to the current schema."""
    from sqlalchemy.exc import OperationalError

    from storage.db import make_engine
    from storage.migrate import upgrade_to_head

    try:
        engine = make_engine(args.database_url)
        upgrade_to_head(engine)
    except OperationalError as error:
        raise CommandError(f"cannot open the database: {str(error.orig).splitlines()[0]}") from None
    return engine


def pseudonym_keys() -> PseudonymKeyRing:
    """The pseudonym key ring from the environment, or a one-line refusal naming what is missing."""
    from storage.security import InsecureConfiguration, pseudonym_keyring
    from storage.settings import env_flag

    try:
        return pseudonym_keyring(development=env_flag("ROADMAP_DEV_LOGIN"))
    except InsecureConfiguration as error:
        raise CommandError("; ".join(error.problems)) from None


def read_input_file(path: str) -> bytes:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"no such file: {path}")
    return file.read_bytes()


def write_output_file(path: str, content: bytes) -> None:
    file = Path(path)
    if file.parent and not file.parent.exists():
        raise CommandError(f"folder does not exist: {file.parent}")
    file.write_bytes(content)
