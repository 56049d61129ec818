"""The layout shows the architecture: dependencies point one way (DESIGN.md section 5)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "analysis": {"streamlit", "sqlalchemy", "storage", "survey", "streamlit_app", "alembic"},
    "survey": {"streamlit", "sqlalchemy", "storage", "streamlit_app", "alembic"},
    "storage": {"streamlit", "streamlit_app"},
}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_upward(package: str) -> None:
    offenders = {}
    for path in (ROOT / package).rglob("*.py"):
        bad = imported_top_levels(path) & FORBIDDEN[package]
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_no_unsafe_html_with_data() -> None:
    """User text is never rendered as HTML: the app never turns unsafe_allow_html on."""
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "streamlit_app").rglob("*.py") if "unsafe_allow_html=True" in p.read_text(encoding="utf-8")]
    assert hits == []
