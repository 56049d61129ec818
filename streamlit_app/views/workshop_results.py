"""Workshop results: per item and round statistics and consensus, per-group breakdown, RAND/UCLA,
stability, sensitivity to the rule, attrition, the ACCORD table and the exports."""

from __future__ import annotations

import streamlit as st

from storage.workshops import analyse_workshop, attrition, ratings_export, round_distribution
from streamlit_app.auth import require_role
from streamlit_app.runtime import get_engine
from streamlit_app.widgets import download_table, md_escape, record_download
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

st.markdown("### Per item and round")
st.dataframe(result.summary[SUMMARY_COLUMNS], hide_index=True, width="stretch",
             column_config={"pct_low": PERCENT, "pct_mid": PERCENT, "pct_high": PERCENT,
                            "ipr": st.column_config.NumberColumn(format="%.2f"),
                            "ipras": st.column_config.NumberColumn(format="%.2f")})
st.caption("Bands: " + " · ".join(f"{md_escape(scale)}" for scale in result.items["scale"].unique())
           + ". RAND/UCLA columns (P30, P70, IPR, IPRAS) apply to 1–9 scales only.")

tabs = st.tabs(["By stakeholder group", "Stability", "Sensitivity to the rule", "Attrition", "ACCORD summary", "Dropped items"])
with tabs[0]:
    st.dataframe(result.by_group[["item", "round", "group", "n", "median", "iqr", "pct_low", "pct_mid", "pct_high", "consensus"]],
                 hide_index=True, width="stretch",
                 column_config={"pct_low": PERCENT, "pct_mid": PERCENT, "pct_high": PERCENT})
with tabs[1]:
    if result.stability.empty:
        st.info("Stability needs at least two closed rounds.")
    else:
        st.dataframe(result.stability, hide_index=True, width="stretch",
                     column_config={"share_changed": st.column_config.NumberColumn(format="percent")})
with tabs[2]:
    st.caption("The same ratings classified under the standard rules and the workshop's own rule; "
               "depends_on_rule marks items whose conclusion changes with the rule.")
    st.dataframe(result.sensitivity, hide_index=True, width="stretch")
with tabs[3]:
    st.dataframe(attrition(engine, workshop.id, actor=actor), hide_index=True, width="stretch")
with tabs[4]:
    st.dataframe(result.accord, hide_index=True, width="stretch")
with tabs[5]:
    dropped = result.items[result.items["dropped_after_round"].notna()]
    if dropped.empty:
        st.info("No item was dropped.")
    else:
        st.dataframe(dropped[["item", "dropped_after_round", "drop_reason"]], hide_index=True, width="stretch")

st.markdown("### Exports")
stem = f"workshop-{workshop.id}"
download_table(ratings_export(engine, workshop.id, actor=actor), f"{stem}-ratings", key="ws_export_ratings", label="Raw ratings")
download_table(result.summary[SUMMARY_COLUMNS], f"{stem}-summary", key="ws_export_summary", label="Per-item summary")
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
