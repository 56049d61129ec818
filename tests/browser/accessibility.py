"""Run axe-core (the npm package, see package.json) inside a Playwright page and report violations.

NHS services must meet WCAG 2.2 AA. The tests assert that nothing serious or critical is found in
what our code renders. Streamlit's own markup has a few problems we cannot fix from the app;
each is listed in ``STREAMLIT_ISSUES`` by axe rule id and a selector that only matches
Streamlit's markup, and documented, with the workaround we use, in docs/accessibility.md. They
are excluded node by node, so the same rule still fails on anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
MAIN = "[data-testid='stMain']"
WCAG_22_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
BLOCKING = ("serious", "critical")


@dataclass(frozen=True)
class Violation:
    """One axe rule that failed, with the CSS targets of the failing nodes."""

    rule: str
    impact: str
    help: str
    help_url: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}): {self.help} — {', '.join(self.targets[:5])}"


@dataclass(frozen=True)
class KnownStreamlitIssue:
    """A violation in markup Streamlit generates: rule ``rule`` on nodes inside ``within`` (a CSS
    selector for a Streamlit-owned container) is not ours to fix."""

    rule: str
    within: str
    doc_section: str  # heading in docs/accessibility.md


# Each entry is explained, with what we do instead, in docs/accessibility.md under ``doc_section``.
STREAMLIT_ISSUES: tuple[KnownStreamlitIssue, ...] = (
    # The multipage navigation groups its <li> items in <div>s directly under the <ul>.
    KnownStreamlitIssue("list", "[data-testid='stSidebarNavItems']", "Sidebar navigation list markup"),
    KnownStreamlitIssue("listitem", "[data-testid='stSidebarNavItems']", "Sidebar navigation list markup"),
)


def require_axe() -> Path:
    """The axe-core script, or skip the calling test saying how to install it."""
    if not AXE_SCRIPT.exists():
        pytest.skip("axe-core not installed: run `npm ci` (package.json) in the project root; .ci/run does")
    return AXE_SCRIPT


_RUN_AXE = """
async ([selector, tags, known]) => {
  const context = selector ? document.querySelector(selector) : document;
  if (!context) { throw new Error(`no element matches ${selector}`); }
  const result = await axe.run(context, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'], elementRef: true});
  const isKnown = (rule, element) => known.some(([r, within]) => r === rule && element && element.closest(within));
  return result.violations.map(v => ({
    rule: v.id, impact: v.impact || 'minor', help: v.help, help_url: v.helpUrl,
    targets: v.nodes.filter(n => !isKnown(v.id, n.element))
                    .map(n => n.target.map(t => Array.isArray(t) ? t.join(' >>> ') : t).join(' ')),
  })).filter(v => v.targets.length > 0);
}
"""


def run_axe(page, context_selector: str | None = MAIN, *, tags: tuple[str, ...] = WCAG_22_AA,
            known: tuple[KnownStreamlitIssue, ...] = STREAMLIT_ISSUES) -> list[Violation]:
    """Inject axe-core (once per page) and return the violations inside ``context_selector``
    (None = the whole document), leaving out the nodes of known Streamlit issues."""
    script = require_axe()
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(script))
    found = page.evaluate(_RUN_AXE, [context_selector, list(tags), [[issue.rule, issue.within] for issue in known]])
    return [Violation(v["rule"], v["impact"], v["help"], v["help_url"], tuple(v["targets"])) for v in found]


def blocking(violations: list[Violation]) -> list[Violation]:
    """The serious and critical ones, which fail a test."""
    return [violation for violation in violations if violation.impact in BLOCKING]
