"""Workshops: list, create and edit a workshop's set-up (items, scale, groups, rounds, pre-registered rule)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from analysis.consensus_rules import COMET_EVERY_GROUP_RULE, COMET_RULE, RAM_RULE, ConsensusRule
from storage.workshops import create_workshop, delete_workshop, get_workshop, list_workshops, update_workshop
from survey.workshop_rules import (
    HORIZON_SCALE,
    QUESTION_LABELS,
    SCALE_PRESETS,
    WorkshopError,
    WorkshopScales,
    WorkshopView,
    custom_scale,
    default_expiry,
    parse_workshop_input,
)
from streamlit_app.auth import require_role
from streamlit_app.runtime import get_engine
from streamlit_app.widgets import catalogue_frames, md_escape, people_table, show_problems
from streamlit_app.workshop_widgets import actor_for

identity = require_role("facilitator", "lead")
actor = actor_for(identity)
engine = get_engine()
st.title("Workshops")
st.caption("Set up a consensus workshop: what is rated, on which scale, by which stakeholder groups, over how many "
           "rounds, and the consensus rule — which is pre-registered and frozen when round 1 opens.")

RULE_CHOICES = {
    "comet": "Common Delphi rule (in: ≥70% rate in the top band and <15% in the bottom band; out: the mirror)",
    "comet_every_group": "Common Delphi rule, required within every stakeholder group",
    "ram": "RAND/UCLA appropriateness (median band without disagreement, IPRAS)",
    "custom": "Custom thresholds",
}
CUSTOM_SCALE = "Custom ordinal scale"
RATED_QUESTIONS = ["impact_workforce", "impact_pathway", "impact_system", "time_to_deployment"]
DEFAULT_GROUPS = "Clinicians, 0\nManagers, 0\nPatients and public, 0\nIndustry, 0\nEducators, 0"
NEW = 0

workshops = list_workshops(engine, actor=actor)
if workshops.empty:
    st.info("You have no workshops yet. Create one below.")
else:
    people_table(workshops.drop(columns=["is_demo"]), vocabularies={"status": None},
                 headings={"workshop_id": "ID", "title": "Workshop", "owner_user_id": "Facilitator", "n_rounds": "Rounds planned",
                           "round_open": "A round is open"})

titles = {NEW: "➕ New workshop", **{int(r.workshop_id): f"{r.title} (#{r.workshop_id}, {r.status})" for r in workshops.itertuples()}}
# A choice made by the last save or delete, applied before the picker is drawn.
if (pending := st.session_state.pop("ws_setup_pending_choice", None)) is not None:
    st.session_state["ws_setup_choice"] = pending if pending in titles else NEW
chosen = st.selectbox("Create or edit", list(titles), format_func=titles.get, key="ws_setup_choice")
current: WorkshopView | None = get_workshop(engine, chosen, actor=actor) if chosen != NEW else None


def rule_choice_of(rule: ConsensusRule) -> str:
    if rule.kind == "ram":
        return "ram"
    if rule.kind == "custom":
        return "custom"
    return "comet_every_group" if rule.require_every_group else "comet"


def rule_from_choice(choice: str, in_pct: float, out_pct: float, every_group: bool) -> ConsensusRule:
    if choice == "custom":
        return ConsensusRule(kind="custom", in_pct=in_pct, out_pct=out_pct, require_every_group=every_group)
    return {"comet": COMET_RULE, "comet_every_group": COMET_EVERY_GROUP_RULE, "ram": RAM_RULE}[choice]


def parse_groups(text: str) -> tuple[list[dict], list[str]]:
    """Lines "Name, invited" (invited optional) -> group dicts, with problems naming the line."""
    groups, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, _, invited = line.rpartition(",") if "," in line else (line, "", "0")
        invited = invited.strip() or "0"
        if not invited.isdigit():
            problems.append(f"Stakeholder groups, line {number}: {invited!r} is not a whole number of people invited")
            continue
        groups.append({"name": name.strip(), "invited": int(invited)})
    return groups, problems


if current is not None:
    st.subheader(md_escape(current.title))
    if current.is_demo:
        st.warning("This is the demonstration workshop (synthetic participants).", icon=":material/science:")
    st.markdown("**Pre-registered consensus rule**" + (" (frozen: round 1 has opened)" if current.rule_frozen else ""))
    st.text(current.rule.describe(current.scales.default.bands))
    if any(item.question == "time_to_deployment" for item in current.items):
        st.caption("For time to deployment (horizon scale): " + current.rule.describe(HORIZON_SCALE.bands))
    if current.rule_frozen:
        st.info("Round 1 has opened, so the rule, scale, items and groups are frozen. You can still change the title, "
                "purpose, date, visibility, number of rounds and expiry.")

technologies = catalogue_frames()["technologies"][["technology_id", "name"]].sort_values("name")
technology_names = dict(zip(technologies["technology_id"], technologies["name"], strict=True))
defaults = current.as_input_values() if current is not None else None
default_scale = current.scales.default if current is not None else SCALE_PRESETS[next(iter(SCALE_PRESETS))]
preset_names = [name for name, scale in SCALE_PRESETS.items() if scale != HORIZON_SCALE] + [CUSTOM_SCALE]
preset_index = next((i for i, name in enumerate(preset_names) if SCALE_PRESETS.get(name) == default_scale), len(preset_names) - 1)

with st.form("ws_setup_form"):
    title = st.text_input("Title", value=current.title if current else "", max_chars=200)
    purpose = st.text_area("Purpose", value=current.purpose if current else "", max_chars=5000)
    left, middle, right = st.columns(3)
    workshop_date = left.date_input("Date", value=current.workshop_date if current else None)
    expiry_default = current.expires_at.date() if current else default_expiry(None).date()
    expires_on = middle.date_input("Join code valid until (end of day, UTC)", value=expiry_default)
    n_rounds = right.number_input("Rounds", min_value=1, max_value=5, value=current.n_rounds if current else 2)
    hide = st.checkbox("Hide results from participants until each round closes",
                       value=current.hide_results_until_close if current else True)

    st.markdown("**Items to rate**")
    default_technologies = sorted({i.technology_id for i in current.items if i.technology_id}) if current else []
    chosen_technologies = st.multiselect("Technologies from the catalogue", list(technology_names),
                                         default=[t for t in default_technologies if t in technology_names],
                                         format_func=lambda t: technology_names.get(t, str(t)))
    default_questions = sorted({i.question for i in current.items if i.question != "custom"}) if current else ["impact_workforce"]
    questions = st.multiselect("Questions asked about each technology", RATED_QUESTIONS, default=default_questions,
                               format_func=QUESTION_LABELS.get)
    existing_custom = [i for i in current.items if i.question == "custom"] if current else []
    custom_questions = st.text_area(
        "Custom questions (one per line; rated on the workshop scale)",
        value="\n".join(dict.fromkeys(i.custom_question for i in existing_custom)),
    )
    custom_per_technology = st.checkbox(
        "Ask each custom question about every chosen technology (otherwise each is rated once, on its own)",
        value=any(i.technology_id for i in existing_custom),
    )

    st.markdown("**Rating scale** (time to deployment always uses the deployment horizon scale: already at scale / "
                "within 1 year / 1–3 years / more than 3 years)")
    preset = st.selectbox("Scale for impact and custom questions", preset_names, index=preset_index)
    with st.expander("Custom ordinal scale (used when “Custom ordinal scale” is chosen)"):
        point_labels = st.text_area("Point labels, lowest first, one per line",
                                    value="\n".join(p.label for p in default_scale.points) if default_scale.points else "")
        c1, c2 = st.columns(2)
        low_end = c1.number_input("Low band ends at point", min_value=1, max_value=20,
                                  value=default_scale.bands.low[1] if default_scale.points else 1)
        high_start = c2.number_input("High band starts at point", min_value=1, max_value=20,
                                     value=default_scale.bands.high[0] if default_scale.points else 3)
        band_labels = [
            c.text_input(f"{band.title()} band label", value=default_scale.bands.labels[i] if default_scale.points else band)
            for i, (c, band) in enumerate(zip(st.columns(3), ("low", "middle", "high"), strict=True))
        ]

    groups_text = st.text_area(
        "Stakeholder groups — one per line as `name, number invited`",
        value="\n".join(f"{g.name}, {g.invited}" for g in current.groups) if current else DEFAULT_GROUPS,
    )

    st.markdown("**Consensus rule** (chosen before round 1; frozen once it opens)")
    rule_choice = st.radio("Rule", list(RULE_CHOICES), format_func=RULE_CHOICES.get,
                           index=list(RULE_CHOICES).index(rule_choice_of(current.rule)) if current else 0)
    r1, r2, r3 = st.columns(3)
    in_pct = r1.number_input("Custom: in threshold (%)", min_value=1.0, max_value=100.0,
                             value=float(current.rule.in_pct or 70) if current else 70.0)
    out_pct = r2.number_input("Custom: out threshold (%)", min_value=1.0, max_value=100.0,
                              value=float(current.rule.out_pct or 15) if current else 15.0)
    every_group = r3.checkbox("Custom: require within every group",
                              value=bool(current.rule.require_every_group) if current else False)
    submitted = st.form_submit_button("Save workshop", type="primary")

with st.expander("What each rule says (pre-registration text)"):
    for choice, label in RULE_CHOICES.items():
        if choice != "custom":
            st.markdown(f"**{label}**")
            st.text(rule_from_choice(choice, 70, 15, False).describe())

if submitted:
    problems: list[str] = []
    groups, group_problems = parse_groups(groups_text)
    problems += group_problems
    try:
        scale = (custom_scale(point_labels.splitlines(), int(low_end), int(high_start), band_labels)
                 if preset == CUSTOM_SCALE else SCALE_PRESETS[preset])
        rule = rule_from_choice(rule_choice, in_pct, out_pct, every_group)
    except (WorkshopError, ValueError) as error:
        problems.append(str(error))
    items = [{"technology_id": int(t), "question": q} for t in chosen_technologies for q in questions]
    custom_lines = list(dict.fromkeys(line.strip() for line in custom_questions.splitlines() if line.strip()))
    if custom_per_technology and chosen_technologies:
        items += [{"technology_id": int(t), "question": "custom", "custom_question": q} for t in chosen_technologies for q in custom_lines]
    else:
        items += [{"question": "custom", "custom_question": q} for q in custom_lines]
    if not problems:
        values = {
            "title": title, "purpose": purpose, "workshop_date": workshop_date,
            "scales": WorkshopScales(default=scale, by_question={"time_to_deployment": HORIZON_SCALE}),
            "rule": rule, "hide_results_until_close": hide, "n_rounds": int(n_rounds),
            "expires_at": datetime.combine(expires_on or date.today() + timedelta(days=7), time(23, 59, 59), tzinfo=UTC),
            "items": items, "groups": groups,
        }  # fmt: skip
        try:
            data = parse_workshop_input(values)
            if current is None:
                new_id = create_workshop(engine, data, actor=actor)
                st.session_state["ws_setup_saved"] = f"Workshop #{new_id} created. Open “Run workshop” to show the join code."
                st.session_state["ws_setup_pending_choice"] = new_id
            else:
                update_workshop(engine, current.id, data, actor=actor)
                st.session_state["ws_setup_saved"] = "Workshop saved."
            st.rerun()
        except WorkshopError as error:
            problems.append(str(error))
    show_problems("The workshop was not saved", problems)

if message := st.session_state.pop("ws_setup_saved", None):
    st.success(message)

if current is not None:
    st.markdown("**Items**")
    st.dataframe(pd.DataFrame([{"#": i.position, "item": i.label, "dropped after round": i.dropped_after_round,
                                "reason": i.drop_reason} for i in current.items]), hide_index=True, width="stretch")
    with st.form("ws_delete_form"):
        st.markdown("**Delete this workshop** (its participants and ratings are deleted too)")
        confirm = st.checkbox("Yes, delete it and all its ratings")
        if st.form_submit_button("Delete workshop"):
            if not confirm:
                st.error("Tick the confirmation box to delete the workshop.")
            else:
                delete_workshop(engine, current.id, actor=actor)
                st.session_state["ws_setup_pending_choice"] = NEW
                st.rerun()
