"""Workshop results: per item and round statistics and consensus, per-group breakdown, RAND/UCLA,
stability, sensitivity to the rule, attrition, the ACCORD table and the exports."""

from __future__ import annotations

import streamlit as st

from storage.workshops import analyse_workshop, attrition, ratings_export, round_distribution
from streamlit_app.auth import require_role
from streamlit_app.runtime import get_engine
from analysis.labelling import for_people
from streamlit_app.widgets import download_table, md_escape, people_table, record_download, vocabulary_labels
from streamlit_app.workshop_widgets import ChartExportError, actor_for, choose_workshop, distribution_figure, figure_png

identity = require_role("facilitator", "lead")
actor = actor_for(identity)
engine = get_engine()
st.title("Workshop results")

workshop_id = choose_workshop(actor, key="ws_results_choice")
result = analyse_workshop(engine, workshop_id, actor=actor)
workshop = result.workshop
st.subheader(md_escape(workshop.title))
st.markdown("**Pre-registered rule**")
st.text(workshop.rule.describe(workshop.scales.default.bands))
if result.summary.empty:
    st.info("No round has closed yet: results appear when the facilitator closes round 1.")
    st.stop()
if workshop.open_round is not None:
    st.caption(f"Round {workshop.open_round.number} is still open and is not included until it closes.")

SUMMARY_COLUMNS = ["item", "round", "n", "median", "q1", "q3", "iqr", "pct_low", "pct_mid", "pct_high", "consensus",
                   "p30", "p70", "ipr", "ipras", "disagreement", "appropriateness", "category"]
PERCENT = st.column_config.NumberColumn(format="%.1f%%")
PERCENTS = {"% low": PERCENT, "% mid": PERCENT, "% high": PERCENT}

st.markdown("### Per item and round")
# The summary as people read it (bands as labels), shown and downloaded alike.
summary = for_people(result.summary, vocabulary_labels(), columns=SUMMARY_COLUMNS)
st.dataframe(summary, hide_index=True, width="stretch",
             column_config={**PERCENTS, "IPR": st.column_config.NumberColumn(format="%.2f"),
                            "IPRAS": st.column_config.NumberColumn(format="%.2f")})
st.caption("Bands: " + " · ".join(f"{md_escape(scale)}" for scale in result.items["scale"].unique())
           + ". RAND/UCLA columns (P30, P70, IPR, IPRAS) apply to 1–9 scales only.")

tabs = st.tabs(["By stakeholder group", "Stability", "Sensitivity to the rule", "Attrition", "ACCORD summary", "Dropped items"])
with tabs[0]:
    people_table(result.by_group, columns=["item", "round", "group", "n", "median", "iqr", "pct_low", "pct_mid", "pct_high", "consensus"],
                 column_config=PERCENTS)
with tabs[1]:
    if result.stability.empty:
        st.info("Stability needs at least two closed rounds.")
    else:
        people_table(result.stability)
with tabs[2]:
    st.caption("The same ratings classified under the standard rules and the workshop's own rule; "
               "*Depends on the rule* marks items whose conclusion changes with the rule.")
    people_table(result.sensitivity)
with tabs[3]:
    people_table(attrition(engine, workshop.id, actor=actor))
with tabs[4]:
    people_table(result.accord)
with tabs[5]:
    dropped = result.items[result.items["dropped_after_round"].notna()]
    if dropped.empty:
        st.info("No item was dropped.")
    else:
        people_table(dropped, columns=["item", "dropped_after_round", "drop_reason"])

st.markdown("### Exports")
stem = f"workshop-{workshop.id}"
download_table(ratings_export(engine, workshop.id, actor=actor), f"{stem}-ratings", key="ws_export_ratings", label="Raw ratings")
download_table(summary, f"{stem}-summary", key="ws_export_summary", label="Per-item summary")
download_table(result.accord, f"{stem}-accord", key="ws_export_accord", label="ACCORD per-round summary")

st.markdown("**Presenter chart as PNG**")
items = {item.id: item for item in workshop.items}
rounds = sorted(result.summary["round"].unique().tolist())
left, right = st.columns(2)
chart_round = left.selectbox("Round", rounds, index=len(rounds) - 1, key="ws_png_round")
rated_items = result.summary.loc[result.summary["round"] == chart_round, "item_id"].tolist()
chart_item = right.selectbox("Item", rated_items, format_func=lambda i: items[i].key, key="ws_png_item")
if st.button("Prepare PNG", key="ws_png_prepare"):
    counts = round_distribution(engine, workshop, int(chart_round))
    item = items[int(chart_item)]
    item_counts = counts[counts["item_id"] == item.id]
    figure = distribution_figure(item_counts, workshop.scale_for(item), item.label, large=True)
    try:
        with st.spinner("Rendering the chart…"):
            png = figure_png(figure)
    except ChartExportError as error:
        st.error(str(error))
    else:
        # A chart image, not a table, so the formula-safe table export does not apply; the download is audited.
        png_stem = f"{stem}-round{chart_round}-item{item.position:02d}"
        st.download_button("Download PNG", png, file_name=f"{png_stem}.png", mime="image/png", key="ws_png_download",
                           on_click=record_download, args=(png_stem, "png", int(item_counts["count"].sum())))
