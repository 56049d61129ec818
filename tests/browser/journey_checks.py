"""Shared steps of the browser journeys: a screenshot and an axe-core check of every key screen,
and keyboard-only helpers (Tab until a control has the focus).

The journeys collect the accessibility problems of every screen and assert once at the end, so one
run reports all of them instead of stopping at the first screen."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.browser.accessibility import AXE_SCRIPT, blocking, run_axe
from tests.browser.conftest import screenshot

# Describes the focused element for assertion messages and focus searches.
_FOCUSED = """() => {
  const element = document.activeElement;
  if (!element) { return {tag: '', type: '', label: '', text: ''}; }
  const label = element.getAttribute('aria-label') || element.closest('label')?.innerText || '';
  return {tag: element.tagName.toLowerCase(), type: element.type || '', label: label.trim(), text: (element.innerText || '').trim()};
}"""


@dataclass
class JourneyScreens:
    """Screenshots (test-output/browser/<journey>-<name>.png) and axe results of a journey's screens."""

    journey: str
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __call__(self, page, name: str) -> None:
        screenshot(page, f"{self.journey}-{name}")
        self.checked.append(name)
        if AXE_SCRIPT.exists():
            self.problems += [f"{name}: {violation}" for violation in blocking(run_axe(page, context_selector=None))]

    def assert_accessible(self) -> None:
        """No serious or critical violation on any screen (Streamlit's documented issues aside)."""
        assert self.problems == [], "\n".join(self.problems)


def focused(page) -> dict[str, str]:
    """Tag, input type, accessible label and text of the element that has the keyboard focus."""
    return page.evaluate(_FOCUSED)


def tab_to(page, *, label: str | None = None, text: str | None = None, max_presses: int = 40) -> list[str]:
    """Press Tab until the focused control has this label (radio or input) or this text (button);
    returns the label or text of every stop on the way, the target last.

    Only the keyboard moves the focus; the page is read to know when to stop. Fails naming what
    was focused if the control cannot be reached within ``max_presses``."""
    stops: list[str] = []
    for _ in range(max_presses):
        page.keyboard.press("Tab")
        current = focused(page)
        stops.append(current["label"] or current["text"][:40] or current["tag"])
        if (label is not None and current["label"] == label) or (text is not None and current["text"] == text):
            return stops
    raise AssertionError(f"Tab never reached {label or text!r}; focus went through: {stops}")
