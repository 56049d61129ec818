"""The ``roadmap`` command line for administrators and scripts.

Every command is a thin wrapper over a plain Python function in ``storage``, ``survey`` or
``analysis`` (so scripts can call those directly). All commands take ``--database-url``
(default: ``ROADMAP_DATABASE_URL``, then the SQLite file in ``data/``) and ``--json``;
on failure they print a one-line reason to stderr and exit non-zero. The parser is built
without importing any command's dependencies (see :mod:`streamlit_app.commands.parsers`), so
``roadmap --help`` is instant and each command loads only what it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from streamlit_app.commands.common import CommandError, emit
from streamlit_app.commands.parsers import COMMAND_GROUPS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roadmap", description="AI Workforce Roadmap: administration and data commands.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", help="database URL (default: $ROADMAP_DATABASE_URL, else data/roadmap.db)")
    common.add_argument("--json", action="store_true", help="print the result as JSON for scripts")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    for register in COMMAND_GROUPS:
        register(groups, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.error("choose a command")
    try:
        result = handler(args)
    except CommandError as error:
        if getattr(args, "json", False):
            print(json.dumps({"ok": False, "error": str(error)}))
        print(f"roadmap: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("roadmap: interrupted", file=sys.stderr)
        return 130
    emit(args, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
