"""Every form field has a visible label (WCAG 2.2 AA 3.3.2 Labels or Instructions, 2.5.3 Label
in Name): no widget in our code hides its label. A hidden label is still read by a screen reader,
but sighted users, voice-control users and screen magnifier users lose it.

Found without a browser, by reading the source, so it runs everywhere.
"""

from __future__ import annotations

import re
from pathlib import Path

UI_ROOT = Path(__file__).resolve().parents[2] / "streamlit_app"
HIDDEN_LABEL = re.compile(r"""label_visibility\s*=\s*["'](collapsed|hidden)["']""")


def hidden_labels(root: Path = UI_ROOT) -> list[str]:
    """``file:line`` of every widget call that hides its label."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if HIDDEN_LABEL.search(line):
                found.append(f"{path.relative_to(root.parent)}:{number}")
    return found


def test_no_widget_hides_its_label():
    assert hidden_labels() == [], "give these fields a visible label (drop label_visibility, use the text shown above as the label)"


def test_the_check_finds_hidden_labels(tmp_path: Path):
    (tmp_path / "page.py").write_text('st.radio("Rating", [1, 2], label_visibility="collapsed")\n'
                                      "st.text_input('Name', label_visibility='hidden')\n"
                                      'st.text_input("Shown", label_visibility="visible")\n', encoding="utf-8")
    assert hidden_labels(tmp_path) == [f"{tmp_path.name}/page.py:1", f"{tmp_path.name}/page.py:2"]
