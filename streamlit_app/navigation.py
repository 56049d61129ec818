"""The page list, built per role. A page not in a role's list cannot be reached by URL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

VIEWS = Path(__file__).resolve().parent / "views"


@dataclass(frozen=True)
class PageSpec:
    file: str
    title: str
    icon: str
    url_path: str
    section: str
    roles: tuple[str, ...]


# "anonymous" = not signed in: survey respondents and workshop participants, whose link or
# join code is their credential, use those pages without an account.
ANONYMOUS = "anonymous"
EVERYONE = (ANONYMOUS, "respondent", "facilitator", "lead", "admin")
SIGNED_IN = ("respondent", "facilitator", "lead", "admin")
# Pages a whole room opens at once (a workshop's participants joining and saving together): their
# runs take turns in each process (streamlit_app/runtime.room_turn).
CROWD_PAGES = ("join",)

PAGES: list[PageSpec] = [
    PageSpec("home.py", "Home", ":material/home:", "home", "Overview", SIGNED_IN),
    PageSpec("my_account.py", "My account", ":material/manage_accounts:", "account", "Overview", SIGNED_IN),
    PageSpec("catalogue_browser.py", "Technology catalogue", ":material/search:", "catalogue", "Catalogue", ("facilitator", "lead", "admin")),
    PageSpec("catalogue_admin.py", "Manage catalogue", ":material/edit_note:", "manage-catalogue", "Catalogue", ("lead",)),
    PageSpec("admin_users.py", "Users and roles", ":material/group:", "admin-users", "Administration", ("admin",)),
    PageSpec("admin_audit.py", "Audit trail", ":material/policy:", "admin-audit", "Administration", ("admin",)),
    PageSpec("admin_settings.py", "Settings", ":material/settings:", "admin-settings", "Administration", ("admin",)),
    PageSpec("survey_take.py", "Take a survey", ":material/assignment:", "take-survey", "Surveys", EVERYONE),
    PageSpec("survey_my_submissions.py", "My submissions", ":material/receipt_long:", "my-submissions", "Surveys", EVERYONE),
    PageSpec("survey_instruments.py", "Instruments", ":material/list_alt:", "instruments", "Surveys", ("lead",)),
    PageSpec("survey_campaigns.py", "Campaigns", ":material/campaign:", "campaigns", "Surveys", ("lead",)),
    PageSpec("workshop_setup.py", "Workshops", ":material/groups:", "workshops", "Workshops", ("facilitator", "lead")),
    PageSpec("workshop_run.py", "Run workshop", ":material/play_circle:", "run-workshop", "Workshops", ("facilitator", "lead")),
    PageSpec("workshop_presenter.py", "Presenter view", ":material/slideshow:", "presenter", "Workshops", ("facilitator", "lead")),
    PageSpec("workshop_results.py", "Workshop results", ":material/insights:", "workshop-results", "Workshops", ("facilitator", "lead")),
    PageSpec("workshop_join.py", "Join a workshop", ":material/how_to_vote:", "join", "Workshops", EVERYONE),
    PageSpec("analysis_roadmap.py", "Roadmap analysis", ":material/analytics:", "analysis", "Analysis", ("lead",)),
    PageSpec("analysis_estimates.py", "Estimates", ":material/query_stats:", "estimates", "Analysis", ("lead",)),
    PageSpec("analysis_case_studies.py", "Case studies", ":material/article:", "case-studies", "Analysis", ("lead",)),
]


def pages_for(role: str | None, default_url_path: str = "home") -> dict[str, list[st.Page]]:
    """Sections of st.Page objects for ``role`` (None = not signed in), in PAGES order."""
    role = role or ANONYMOUS
    sections: dict[str, list[st.Page]] = {}
    for spec in PAGES:
        if role in spec.roles:
            page = st.Page(str(VIEWS / spec.file), title=spec.title, icon=spec.icon, url_path=spec.url_path,
                           default=spec.url_path == default_url_path)
            sections.setdefault(spec.section, []).append(page)
    return sections


def pages_needing_sign_in() -> list[PageSpec]:
    """Pages a signed-out visitor cannot open: a link to one offers sign-in in its place."""
    return [spec for spec in PAGES if ANONYMOUS not in spec.roles]


def pages_refused_to(role: str) -> list[PageSpec]:
    """Pages a signed-in ``role`` may not use."""
    return [spec for spec in PAGES if role not in spec.roles]
