"""Landing page: what the tool is, and for each role what needs attention now, each item linked to
the page where it is dealt with."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from analysis.views import STALE_AFTER_DAYS, is_stale
from storage.accounts import locked_accounts
from storage.audit import AuditFilter, audit_frame
from storage.catalogue import count_technologies
from storage.maintenance import MaintenanceError, database_status
from storage.surveys import list_campaigns
from storage.workshops import list_workshops
from streamlit_app.auth import ROLES, require_role
from streamlit_app.runtime import current_data_version, get_engine
from streamlit_app.widgets import DATABASE_READ_FAILED, catalogue_frames, database_errors, md_escape, people_table, shortened

SHOWN_ITEMS = 5  # items listed per heading; the linked page has the rest
NEWEST_REFUSALS = 10

identity = require_role(*ROLES)
engine = get_engine()
st.title("AI Workforce Roadmap")
st.write(
    "A living map of AI and data-driven technologies in health services: what they are, where they are used, "
    "how soon they reach scale and how they change the work of each staff group — with every figure traceable to its evidence."
)
count = count_technologies(engine)
st.metric("Technologies in the catalogue", count)
next_steps = {
    "respondent": "Use the survey link you were sent to tell us how AI tools affect your work.",
    "facilitator": "Your workshops are below, each with what to do next. Browse the technology catalogue to prepare their items.",
    "lead": "What needs attention is below; each item links to the page where it is dealt with.",
    "admin": "Accounts that cannot sign in, the newest refusals and the database's state are below.",
}
st.info(next_steps[identity.role])


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def more_text(total: int, noun: str) -> str:
    return f"…and {total - SHOWN_ITEMS} more {noun}." if total > SHOWN_ITEMS else ""


# --- lead ----------------------------------------------------------------------------------------


def days_left(closes_at: object, now: dt.datetime) -> str:
    if closes_at is None or pd.isna(closes_at):
        return "no end date"
    days = (pd.Timestamp(closes_at) - pd.Timestamp(now)).days
    return "closes today" if days < 1 else f"{days} day{'s' if days != 1 else ''}"


def response_rate(row: pd.Series) -> str:
    """Responses per invitation, where invitations are known (invitation-only campaigns)."""
    if row["access"] != "invitation" or not row["invitations"]:
        return "not known (open link)"
    return f"{row['responses'] / row['invitations']:.0%} of {row['invitations']} invited"


def open_campaigns() -> None:
    st.subheader("Open survey campaigns")
    campaigns = list_campaigns(engine, actor=identity.actor)
    running = campaigns[campaigns["state"] == "open"]
    if running.empty:
        st.caption("No campaign is open.")
    else:
        # Campaign totals, as the Campaigns page shows them: a count of a whole campaign describes no one.
        now = now_utc()
        people_table(pd.DataFrame({
            "Campaign": running["title"], "Responses": running["responses"],
            "Days left": [days_left(closes, now) for closes in running["closes_at"]],
            "Response rate": [response_rate(row) for _, row in running.iterrows()],
        }))
    st.page_link("views/survey_campaigns.py", label="Manage campaigns", icon=":material/campaign:")


def workshop_state(row: pd.Series) -> str:
    if row["status"] == "draft":
        return f"not started ({row['items']} items, {row['groups']} groups)"
    if row["status"] == "closed":
        return "closed: results ready"
    rounds = f"round {row['rounds_opened']} of {row['n_rounds']}"
    return f"{rounds} open for ratings ({row['participants']} joined)" if row["round_open"] else f"{rounds} closed; next round to open"


WORKSHOP_PAGE = {"draft": ("views/workshop_run.py", "Start it"), "running": ("views/workshop_run.py", "Run it"),
                 "closed": ("views/workshop_results.py", "See the results")}


def workshop_links(workshops: pd.DataFrame) -> None:
    """One line per workshop: its state, and a link to the page that takes it further."""
    for _, row in workshops.head(SHOWN_ITEMS).iterrows():
        page, action = WORKSHOP_PAGE.get(row["status"], WORKSHOP_PAGE["running"])
        left, right = st.columns([3, 1])
        left.markdown(f"**{md_escape(shortened(row['title'], 80))}** — {md_escape(workshop_state(row))}")
        with right:
            st.page_link(page, label=action, icon=":material/arrow_forward:", query_params={"workshop": str(row["workshop_id"])})
    if text := more_text(len(workshops), "workshops"):
        st.caption(text)


def running_workshops() -> None:
    st.subheader("Workshops running now")
    workshops = list_workshops(engine, actor=identity.actor)
    running = workshops[workshops["status"] == "running"]
    if running.empty:
        st.caption("No workshop is running.")
    workshop_links(running)


def technology_links(technologies: pd.DataFrame, why: pd.Series) -> None:
    """The first technologies, each linked to its entry on Manage catalogue, with why it is listed."""
    for (_, row), reason in zip(technologies.head(SHOWN_ITEMS).iterrows(), why.head(SHOWN_ITEMS), strict=True):
        st.page_link("views/catalogue_admin.py", label=f"{shortened(row['name'], 80)} — {reason}", icon=":material/edit_note:",
                     query_params={"technology": str(row["technology_id"])})
    if text := more_text(len(technologies), "technologies"):
        st.caption(text)


def catalogue_attention() -> None:
    technologies = catalogue_frames()["technologies"]
    st.subheader("Technologies still to classify")
    unclassified = technologies[technologies["needs_classification"]].sort_values("updated_at")
    if unclassified.empty:
        st.caption("Every technology has a type.")
    else:
        st.caption(f"{len(unclassified)} technologies have no type yet, so they sit outside the views by type.")
        technology_links(unclassified, pd.Series("set its type", index=unclassified.index))
    st.subheader("Stale entries")
    today = pd.Timestamp.now().normalize()
    stale = technologies[is_stale(technologies["last_reviewed"], today).to_numpy()].sort_values("last_reviewed", na_position="first")
    if stale.empty:
        st.caption(f"Every entry was reviewed in the last {STALE_AFTER_DAYS} days.")
    else:
        st.caption(f"{len(stale)} entries were never reviewed or not in the last {STALE_AFTER_DAYS} days.")
        technology_links(stale, stale["last_reviewed"].map(
            lambda day: "never reviewed" if pd.isna(day) else f"last reviewed {pd.Timestamp(day):%d %B %Y}"))


def thinnest_evidence() -> None:
    from streamlit_app.analysis_state import todays_analysis  # the analysis machinery only for leads

    st.subheader("The thinnest evidence")
    gaps = todays_analysis().tables["evidence_gaps"]  # survey counts already withheld or suppressed below the threshold
    if gaps.empty:
        st.caption("No technology in the catalogue yet.")
    else:
        st.caption("Technologies missing the most evidence (no survey answers, no workshop result, or a stale entry): "
                   "where the next survey or workshop would add most.")
        people_table(gaps.head(SHOWN_ITEMS), columns=["name", "type_code", "survey_answers", "workshop_results", "last_reviewed",
                                                      "missing_score"])
    st.page_link("views/analysis_roadmap.py", label="The evidence base (Roadmap analysis, Evidence base tab)", icon=":material/analytics:")


# --- facilitator -----------------------------------------------------------------------------------


def my_workshops() -> None:
    st.subheader("Your workshops")
    workshops = list_workshops(engine, actor=identity.actor)
    if workshops.empty:
        st.caption("You have no workshop yet.")
    else:
        order = {"running": 0, "draft": 1, "closed": 2}
        workshop_links(workshops.sort_values("status", key=lambda status: status.map(order), kind="stable"))
    st.page_link("views/workshop_setup.py", label="Create or edit workshops", icon=":material/groups:")


# --- administrator ---------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, ttl=60, max_entries=4)
def _status(url: str, version: int):
    return database_status(url)


def accounts_attention() -> None:
    st.subheader("Accounts that cannot sign in")
    accounts = locked_accounts(engine, actor=identity.actor)
    if accounts.empty:
        st.caption("No account is locked out or disabled.")
    else:
        people_table(accounts, headings={"username": "User name", "locked_until": "Locked until (UTC)"})
    st.page_link("views/admin_users.py", label="Users and roles (reset a password to lift a lockout)", icon=":material/group:")


def newest_refusals() -> None:
    st.subheader("Newest refusals")
    refusals = audit_frame(engine, AuditFilter(outcomes=("refused",)), limit=NEWEST_REFUSALS, actor=identity.actor)
    if refusals.empty:
        st.caption("Nothing has been refused.")
    else:
        people_table(refusals, columns=["occurred_at", "actor", "role", "action", "target", "details"],
                     headings={"occurred_at": "Time (UTC)"})
    st.page_link("views/admin_audit.py", label="The audit trail", icon=":material/policy:")


def database_state() -> None:
    st.subheader("Database")
    try:
        status = _status(engine.url.render_as_string(hide_password=False), current_data_version())
    except MaintenanceError as error:
        st.error(str(error))
        return
    if status.up_to_date:
        st.success(f"Schema up to date (revision {status.revision}).", icon=":material/check_circle:")
    else:
        st.warning(f"Schema at revision {status.revision or 'none'}, the code needs {status.head}: run `roadmap db upgrade`.",
                   icon=":material/warning:")
    if status.integrity not in (None, "ok"):
        st.error(f"SQLite integrity check: {status.integrity}. Restore the newest backup.")
    columns = st.columns(max(len(status.counts), 1))
    for column, (name, value) in zip(columns, status.counts.items(), strict=False):
        column.metric(name.replace("_", " ").capitalize(), value)
    st.caption(f"{status.backend} database {status.database}.")
    st.page_link("views/admin_settings.py", label="Settings (retention, erasure, backups)", icon=":material/settings:")


def attention(role: str) -> None:
    if role == "lead":
        st.header("Needs attention")
        open_campaigns()
        running_workshops()
        catalogue_attention()
        thinnest_evidence()
    elif role == "facilitator":
        my_workshops()
    elif role == "admin":
        st.header("Needs attention")
        accounts_attention()
        newest_refusals()
        database_state()


with database_errors(DATABASE_READ_FAILED):
    attention(identity.role)
