"""Plotly figures of the roadmap views, drawn from the view tables of ``analysis.views``.

Used by the analysis pages and by the printable report, so this module imports neither
Streamlit nor the database. Every function takes a view table and a :class:`Labeller` (code ->
display label) and returns a ``go.Figure``; an empty table gives a figure that says so.
Nothing here fetches from the internet: no geo charts or map tiles (the regions are a tile
map drawn from ``REGION_TILE_GRID``), and MathJax is switched off for static export.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as plotly_io
from plotly.subplots import make_subplots

from analysis import schemas as s
from analysis.labelling import for_people, with_fixed_labels
from analysis.views import REGION_TILE_GRID, CellTable

# MathJax would be fetched from a CDN by kaleido; the app works offline.
plotly_io.defaults.mathjax = None

NHS_BLUE = "#005EB8"
STRENGTH_COLOURS = {"thin": "#DA291C", "moderate": "#ED8B00", "strong": "#009639"}
INTERVAL_COLOURS = {"thin": "rgba(218, 41, 28, 0.25)", "moderate": "rgba(237, 139, 0, 0.25)", "strong": "rgba(0, 150, 57, 0.35)"}
HORIZON_COLOURS = ["#009639", "#41B6E6", "#005EB8", "#425563"]
SEQUENTIAL = "Blues"
PNG_SIZE = (1400, 800)
NO_ESTIMATE = "no estimate"


class ChartExportError(RuntimeError):
    """A chart could not be rendered to PNG (kaleido or Chromium unavailable)."""


class Labeller:
    """Display labels of vocabulary codes; an unknown code is shown as itself, a missing one as "(none)"."""

    def __init__(self, labels: Mapping[str, Mapping[str, str]] | None = None):
        self._labels = with_fixed_labels(labels)

    def __call__(self, vocabulary: str, code: object) -> str:
        if code is None or (not isinstance(code, str) and pd.isna(code)):
            return "(none)"
        return self._labels.get(vocabulary, {}).get(str(code), str(code))

    def many(self, vocabulary: str, codes: Iterable[object]) -> list[str]:
        return [self(vocabulary, code) for code in codes]

    def table(self, frame: pd.DataFrame, **options) -> pd.DataFrame:
        """``frame`` as people read it, with these labels (:func:`analysis.labelling.for_people`)."""
        return for_people(frame, self._labels, **options)


def _layout(figure: go.Figure, title: str, *, height: int = 480) -> go.Figure:
    figure.update_layout(title={"text": title, "x": 0.01}, height=height, margin={"l": 10, "r": 10, "t": 60, "b": 10},
                         font={"family": "Arial, Helvetica, sans-serif"}, template="plotly_white")
    return figure


def empty_figure(title: str, message: str = "No data for the current filters.") -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 16})
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return _layout(figure, title, height=260)


def _share_text(counts: Sequence[int], shares: Sequence[float]) -> list[str]:
    return [f"{int(c)} ({share:.0%})" if pd.notna(share) else str(int(c)) for c, share in zip(counts, shares, strict=True)]


# --- 1 distribution ----------------------------------------------------------------------------


def distribution_figure(distribution: pd.DataFrame, label: Labeller) -> go.Figure:
    """Treemap of type -> subtype with counts and shares of the filtered technologies."""
    title = "Technologies by type and subtype"
    if distribution.empty:
        return empty_figure(title)
    types = distribution.drop_duplicates("type_code")
    subtypes = distribution.assign(subtype_code=distribution["subtype_code"].astype(object))
    ids = [f"type:{t}" for t in types["type_code"]] + [
        f"type:{t}/{'' if pd.isna(st) else st}" for t, st in zip(subtypes["type_code"], subtypes["subtype_code"], strict=True)]
    labels = label.many("technology_type", types["type_code"]) + [
        "(no subtype)" if pd.isna(st) else label("technology_subtype", st) for st in subtypes["subtype_code"]]
    parents = [""] * len(types) + [f"type:{t}" for t in subtypes["type_code"]]
    values = types["type_technologies"].tolist() + subtypes["technologies"].tolist()
    figure = go.Figure(go.Treemap(
        ids=ids, labels=labels, parents=parents, values=values, branchvalues="total",
        texttemplate="<b>%{label}</b><br>%{value} (%{percentRoot:.0%})",
        hovertemplate="%{label}: %{value} technologies, %{percentRoot:.1%} of all, %{percentParent:.1%} of its type<extra></extra>",
        marker={"colorscale": SEQUENTIAL},
    ))
    return _layout(figure, title, height=520)


# --- 2 use-case profile ------------------------------------------------------------------------


def share_bar_figure(table: pd.DataFrame, code_column: str, vocabulary: str, title: str, label: Labeller,
                     *, multi_valued: bool) -> go.Figure:
    """Horizontal bars of technologies and shares per code. Multi-valued fields say their shares
    can add up past 100% and name the denominator."""
    if table.empty or int(table["technologies"].sum()) == 0:
        return empty_figure(title)
    shown = table.iloc[::-1]  # largest at the top
    if multi_valued:
        denominator = int(table["denominator"].iloc[0])
        title = f"{title}<br><sup>% of {denominator} technologies; a technology can have several, so shares can exceed 100%</sup>"
    figure = go.Figure(go.Bar(
        x=shown["share"], y=label.many(vocabulary, shown[code_column]), orientation="h", marker_color=NHS_BLUE,
        text=_share_text(shown["technologies"], shown["share"]), textposition="auto",
        hovertemplate="%{y}: %{text}<extra></extra>",
    ))
    figure.update_xaxes(tickformat=".0%", title="share of technologies")
    return _layout(figure, title, height=max(260, 60 + 34 * len(shown)))


# --- 3 spread ----------------------------------------------------------------------------------


def region_tile_figure(adoption_regions: pd.DataFrame, statuses: Sequence[str], label: Labeller) -> go.Figure:
    """Tile map of the seven NHS regions (north at the top): sites at the given statuses."""
    status_text = " or ".join(label.many("adoption_status", statuses)).lower()
    title = f"Adoptions {status_text} by NHS region<br><sup>technology × site pairs at their current status</sup>"
    chosen = adoption_regions[adoption_regions["status"].isin(list(statuses))]
    sites = chosen.groupby("region")["sites"].sum().reindex(list(s.REGIONS), fill_value=0)
    by_status = chosen.pivot_table(index="region", columns="status", values="sites", aggfunc="sum", fill_value=0)
    top = max(int(sites.max()), 1)
    figure = go.Figure()
    xs, ys, hover = [], [], []
    for region, (row, col) in REGION_TILE_GRID.items():
        count = int(sites[region])
        shade = 0.12 + 0.88 * count / top
        figure.add_shape(type="rect", x0=col, x1=col + 0.94, y0=-row, y1=-row + 0.94, line={"color": "white", "width": 2},
                         fillcolor=f"rgba(0, 94, 184, {shade:.2f})")
        figure.add_annotation(x=col + 0.47, y=-row + 0.62, text=f"<b>{_wrapped(label('region', region))}</b>", showarrow=False,
                              font={"color": "white" if shade > 0.5 else "#212B32", "size": 13})
        figure.add_annotation(x=col + 0.47, y=-row + 0.28, text=f"{count} adoptions", showarrow=False,
                              font={"color": "white" if shade > 0.5 else "#212B32", "size": 18})
        xs.append(col + 0.47)
        ys.append(-row + 0.47)
        parts = [f"{int(by_status.loc[region, status])} {label('adoption_status', status)}"
                 for status in statuses if region in by_status.index and status in by_status.columns]
        hover.append(f"{label('region', region)}: " + (", ".join(parts) or "no adoptions"))
    # Invisible markers give each tile a hover label.
    figure.add_trace(go.Scatter(x=xs, y=ys, mode="markers", marker={"size": 60, "opacity": 0}, hovertext=hover,
                                hoverinfo="text", showlegend=False))
    figure.update_xaxes(visible=False, range=[-0.05, 3.0])
    figure.update_yaxes(visible=False, range=[-2.05, 1.0], scaleanchor="x")
    return _layout(figure, title, height=520)


def _wrapped(text: str, width: int = 16) -> str:
    """Break a long tile label over lines at spaces (plotly annotations do not wrap)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def adoption_heatmap_figure(heat: pd.DataFrame, status: str, label: Labeller) -> go.Figure:
    """Region x site type heat map of sites currently at ``status``."""
    title = f"Adoptions {label('adoption_status', status).lower()}: region × site type"
    chosen = heat[heat["status"] == status]
    if chosen.empty or int(chosen["sites"].sum()) == 0:
        return empty_figure(title, f"No adoption is {label('adoption_status', status).lower()} for the current filters.")
    grid = chosen.pivot(index="region", columns="site_type", values="sites").reindex(
        index=list(s.REGIONS), columns=list(s.SITE_TYPES), fill_value=0)
    figure = go.Figure(go.Heatmap(
        z=grid.to_numpy(), x=label.many("site_type", grid.columns), y=label.many("region", grid.index),
        colorscale=SEQUENTIAL, text=grid.to_numpy(), texttemplate="%{text}", hovertemplate="%{y}, %{x}: %{z} adoptions<extra></extra>",
        colorbar={"title": "adoptions"},
    ))
    figure.update_yaxes(autorange="reversed")
    return _layout(figure, title)


def equity_figure(equity: CellTable, label: Labeller) -> go.Figure:
    """Technologies live somewhere but not live in each region / site type."""
    title = "Equity of access: technologies live elsewhere but not here"
    counts = equity.counts
    if counts.empty or int(counts["live_elsewhere"].max()) == 0:
        return empty_figure(title, "No technology is live or scaled anywhere for the current filters.")
    figure = make_subplots(rows=1, cols=2, subplot_titles=("By NHS region", "By site type"), horizontal_spacing=0.25)
    for col, (dimension, vocabulary) in enumerate((("region", "region"), ("site_type", "site_type")), start=1):
        part = counts[counts["dimension"] == dimension].iloc[::-1]
        figure.add_trace(go.Bar(
            x=part["gap"], y=label.many(vocabulary, part["code"]), orientation="h", marker_color="#DA291C",
            text=_share_text(part["gap"], part["gap_share"]), textposition="auto", showlegend=False,
            hovertemplate="%{y}: %{x} technologies not live here<extra></extra>",
        ), row=1, col=col)
    live = int(counts["live_elsewhere"].iloc[0])
    return _layout(figure, f"{title}<br><sup>of {live} technologies live or scaled somewhere</sup>")


# --- 4 AI overview -----------------------------------------------------------------------------

# The column code of a whole row of the AI overview (any time to deployment), e.g. a clicked bar.
ANY_TIME = "*"
OVERVIEW_DIMENSIONS: dict[str, str] = {
    "clinical_area": "Clinical area",
    "workforce_group": "Workforce group",
    "point_of_care": "Point of care",
}


def _overview_grid(cells: CellTable, top: int) -> pd.DataFrame:
    counts = cells.counts.assign(column=cells.counts["column"].astype(object).fillna(NO_ESTIMATE))
    grid = counts.pivot_table(index="row", columns="column", values="technologies", aggfunc="sum", fill_value=0)
    columns = [h for h in s.HORIZONS if h in grid.columns] + [c for c in grid.columns if c not in s.HORIZONS]
    grid = grid[columns]
    order = grid.sum(axis=1).sort_values(ascending=False, kind="stable")
    return grid.loc[order.index[:top]]


def overview_heatmap_figure(cells: CellTable, dimension: str, label: Labeller, *, top: int = 25) -> go.Figure:
    """Heat matrix of technologies by ``dimension`` x blended time to deployment (top rows by total).

    Plotly reports no click on a heatmap trace, so each cell also carries a transparent square
    marker (a scatter trace, which does report clicks) whose ``customdata`` is the cell's
    ``[row code, column code]``; the column code is ``""`` for "no estimate". Hover and clicks
    snap to the nearest cell centre, so a click anywhere in a cell picks that cell."""
    name = OVERVIEW_DIMENSIONS[dimension]
    title = f"Technologies by {name.lower()} and time to deployment"
    if cells.counts.empty:
        return empty_figure(title)
    grid = _overview_grid(cells, top)
    if len(cells.counts["row"].unique()) > top:
        title += f"<br><sup>the {top} {name.lower()}s with most technologies</sup>"
    x_labels = [label("deployment_horizon", c) if c != NO_ESTIMATE else c for c in grid.columns]
    y_labels = label.many(dimension, grid.index)
    figure = go.Figure(go.Heatmap(
        z=grid.to_numpy(), x=x_labels, y=y_labels, colorscale=SEQUENTIAL, text=grid.to_numpy(), texttemplate="%{text}",
        hoverinfo="skip", colorbar={"title": "technologies"},
    ))
    cell_x, cell_y, cell_codes, cell_counts = [], [], [], []
    for row_code, y_label in zip(grid.index, y_labels, strict=True):
        for column_code, x_label in zip(grid.columns, x_labels, strict=True):
            cell_x.append(x_label)
            cell_y.append(y_label)
            cell_codes.append([str(row_code), "" if column_code == NO_ESTIMATE else str(column_code)])
            cell_counts.append(int(grid.at[row_code, column_code]))
    figure.add_trace(go.Scatter(
        x=cell_x, y=cell_y, customdata=cell_codes, text=cell_counts, mode="markers", showlegend=False,
        marker={"symbol": "square", "size": 22, "color": "rgba(0, 0, 0, 0)"},
        selected={"marker": {"color": "rgba(0, 0, 0, 0.25)"}}, unselected={"marker": {"opacity": 0}},
        hovertemplate="%{y}, %{x}: %{text} technologies (click to list them)<extra></extra>",
    ))
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(hovermode="closest", hoverdistance=-1)
    return _layout(figure, title, height=max(320, 90 + 26 * len(grid)))


def ranked_bar_figure(cells: CellTable, dimension: str, label: Labeller, *, top: int = 15) -> go.Figure:
    """Ranked bars: technologies per code of ``dimension`` (a technology counts once per code).
    Each bar's ``customdata`` is ``[code, ANY_TIME]``: the whole row of the heat matrix."""
    name = OVERVIEW_DIMENSIONS[dimension]
    title = f"Top {name.lower()}s by number of technologies"
    if cells.counts.empty:
        return empty_figure(title)
    totals = cells.members.groupby("row")["technology_id"].nunique().sort_values(ascending=False, kind="stable").head(top)
    shown = totals.iloc[::-1]
    figure = go.Figure(go.Bar(x=shown.tolist(), y=label.many(dimension, shown.index), orientation="h", marker_color=NHS_BLUE,
                              customdata=[[str(code), ANY_TIME] for code in shown.index], text=shown.tolist(), textposition="auto",
                              hovertemplate="%{y}: %{x} technologies (click to list them)<extra></extra>"))
    return _layout(figure, title, height=max(280, 60 + 28 * len(shown)))


# --- 5 roadmap timeline ------------------------------------------------------------------------


def timeline_figure(timeline: pd.DataFrame, label: Labeller) -> go.Figure:
    """Technologies on a years axis (blended time to deployment, 90% interval as error bars), one
    swimlane per type, coloured by evidence strength."""
    title = "Roadmap: blended time to deployment at scale (90% interval)"
    if timeline.empty:
        return empty_figure(title)
    lanes = list(dict.fromkeys(timeline["type_code"]))
    lane_of = {code: i for i, code in enumerate(lanes)}
    # Spread a lane's technologies vertically by their order at the same position, so dots don't overlap.
    rank = timeline.groupby(["type_code", "years"]).cumcount()
    size = timeline.groupby(["type_code", "years"])["name"].transform("size")
    offset = np.where(size > 1, (rank + 0.5) / size - 0.5, 0.0) * 0.8
    y = timeline["type_code"].map(lane_of).to_numpy(float) + offset
    figure = go.Figure()
    for strength in s.STRENGTHS:
        chosen = (timeline["strength"] == strength).to_numpy()
        if not chosen.any():
            continue
        part = timeline[chosen]
        figure.add_trace(go.Scatter(
            x=part["years"], y=y[chosen], mode="markers", name=f"{strength} evidence",
            marker={"color": STRENGTH_COLOURS[strength], "size": 9, "line": {"color": "white", "width": 1}},
            error_x={"type": "data", "symmetric": False, "array": (part["years_upper"] - part["years"]).to_numpy(),
                     "arrayminus": (part["years"] - part["years_lower"]).to_numpy(), "color": INTERVAL_COLOURS[strength],
                     "thickness": 1, "width": 0},
            customdata=np.stack([part["name"], label.many("deployment_horizon", part["horizon"]),
                                 label.many("deployment_horizon", part["horizon_lower"]),
                                 label.many("deployment_horizon", part["horizon_upper"])], axis=1),
            hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]} (90%: %{customdata[2]} to %{customdata[3]})<extra></extra>",
        ))
    figure.update_yaxes(tickvals=list(range(len(lanes))), ticktext=label.many("technology_type", lanes),
                        range=[-0.6, len(lanes) - 0.4], autorange="reversed", showgrid=False)
    figure.update_xaxes(title="years from now (at scale = 0, within 1 year = 0.5, 1–3 years = 2, over 3 years = 4)",
                        range=[-0.4, 4.6], zeroline=False)
    for boundary in (1, 3):
        figure.add_vline(x=boundary, line={"color": "#AEB7BD", "dash": "dot"})
    figure.update_layout(legend={"orientation": "h", "y": -0.15})
    return _layout(figure, title, height=max(420, 120 + 90 * len(lanes)))


# --- 6 workforce impact ------------------------------------------------------------------------


def workforce_figure(workforce: pd.DataFrame, label: Labeller, *, top: int = 15) -> go.Figure:
    """Impact-weighted technologies arriving within 1, 3 and 5 years, per workforce group."""
    title = "Workforce groups: technologies arriving, weighted by impact (low 1, medium 2, high 3)"
    if workforce.empty:
        return empty_figure(title)
    shown = workforce.head(top).iloc[::-1]
    names = label.many("workforce_group", shown["workforce_group"])
    figure = go.Figure()
    for years, colour in zip((5, 3, 1), ("#AEB7BD", "#41B6E6", NHS_BLUE), strict=True):
        figure.add_trace(go.Bar(x=shown[f"weighted_within_{years}y"], y=names, orientation="h", name=f"within {years} year{'s' if years > 1 else ''}",
                                marker_color=colour, hovertemplate="%{y}: %{x} impact-weighted technologies<extra></extra>"))
    figure.update_layout(barmode="group", legend={"orientation": "h", "y": -0.1})
    return _layout(figure, title, height=max(360, 80 + 48 * len(shown)))


def minutes_figure(workforce: pd.DataFrame, label: Labeller, *, top: int = 15) -> go.Figure:
    """Median staff minutes per case (+ saved, − added) per workforce group with time evidence."""
    title = "Staff time per case: median of the technologies' blended minutes (+ saved, − added)"
    with_minutes = workforce[workforce["technologies_with_minutes"] > 0]
    if with_minutes.empty:
        return empty_figure(title, "No technology has time-per-case evidence for the current filters.")
    shown = with_minutes.reindex(with_minutes["median_minutes_per_case"].abs().sort_values(ascending=False).index).head(top).iloc[::-1]
    colours = np.where(shown["median_minutes_per_case"] >= 0, "#009639", "#DA291C")
    figure = go.Figure(go.Bar(
        x=shown["median_minutes_per_case"], y=label.many("workforce_group", shown["workforce_group"]), orientation="h",
        marker_color=colours, text=[f"{m:+.1f} min ({n} tech.)" for m, n in zip(shown["median_minutes_per_case"], shown["technologies_with_minutes"], strict=True)],
        textposition="auto", hovertemplate="%{y}: %{x:+.1f} minutes per case<extra></extra>",
    ))
    figure.update_xaxes(title="minutes per case", zeroline=True, zerolinecolor="#425563")
    return _layout(figure, title, height=max(300, 70 + 30 * len(shown)))


def training_figure(training: pd.DataFrame, label: Labeller, threshold: int) -> go.Figure:
    """Respondents needing each training type, by archetype; suppressed cells say so."""
    title = "Training needed by archetype and training type (respondents)"
    if training.empty or int(pd.to_numeric(training["respondents"], errors="coerce").fillna(0).sum()) == 0:
        return empty_figure(title, "No survey answers about training for the current filters.")
    needed = pd.to_numeric(training["needed"], errors="coerce")
    suppressed = training["needed_suppressed"].to_numpy(bool)
    z = pd.DataFrame({"archetype": training["archetype"], "training_type": training["training_type"], "value": needed})
    grid = z.pivot(index="archetype", columns="training_type", values="value").reindex(index=list(s.ARCHETYPES), columns=list(s.TRAINING_TYPES))
    text_frame = pd.DataFrame({"archetype": training["archetype"], "training_type": training["training_type"],
                               "text": np.where(suppressed, f"suppressed (<{threshold})", needed.astype(object).astype(str))})
    text = text_frame.pivot(index="archetype", columns="training_type", values="text").reindex(index=grid.index, columns=grid.columns)
    figure = go.Figure(go.Heatmap(
        z=grid.to_numpy(dtype=float), x=label.many("training_type", grid.columns), y=label.many("archetype", grid.index),
        text=text.to_numpy(), texttemplate="%{text}", colorscale=SEQUENTIAL, hovertemplate="%{y}, %{x}: %{text}<extra></extra>",
        colorbar={"title": "respondents"},
    ))
    figure.update_yaxes(autorange="reversed")
    return _layout(figure, title, height=420)


# --- 7 evidence base ---------------------------------------------------------------------------


def evidence_gap_figure(gaps: pd.DataFrame, label: Labeller) -> go.Figure:
    """Per technology type: how many technologies lack survey evidence, workshop evidence, or a recent review."""
    title = "Where the evidence is thin, by technology type"
    if gaps.empty:
        return empty_figure(title)
    by_type = gaps.groupby("type_code")[["no_survey", "no_workshop", "stale"]].sum()
    by_type = by_type.loc[gaps.groupby("type_code").size().sort_values(ascending=True, kind="stable").index]
    names = label.many("technology_type", by_type.index)
    figure = go.Figure()
    for column, text, colour in (("no_survey", "no survey evidence", "#DA291C"), ("no_workshop", "no workshop evidence", "#ED8B00"),
                                 ("stale", "review older than a year (or never)", "#425563")):
        figure.add_trace(go.Bar(x=by_type[column], y=names, orientation="h", name=text, marker_color=colour,
                                hovertemplate="%{y}: %{x} technologies with " + text + "<extra></extra>"))
    figure.update_layout(barmode="group", legend={"orientation": "h", "y": -0.15})
    figure.update_xaxes(title="technologies")
    return _layout(figure, title, height=max(340, 100 + 60 * len(by_type)))


# --- export ------------------------------------------------------------------------------------


# --- the living roadmap: what changed, track record -----------------------------------------------

SOURCE_COLOURS = {"survey": NHS_BLUE, "workshop": "#009639", "sites": "#ED8B00", "catalogue edits": "#425563"}
OUTCOME_COLOURS = {"came true": "#009639", "came early": "#41B6E6", "missed": "#DA291C", "open": "#AEB7BD"}


def evidence_timeline_figure(by_month: pd.DataFrame) -> go.Figure:
    """Evidence arriving per month, one bar group per source; suppressed survey months say so."""
    title = "Evidence arriving per month"
    if by_month.empty:
        return empty_figure(title, "No months in this range.")
    figure = go.Figure()
    for source, colour in SOURCE_COLOURS.items():
        values = pd.to_numeric(by_month[source], errors="coerce")
        hidden = by_month.get(f"{source}_suppressed", pd.Series(False, index=by_month.index)).to_numpy(bool)
        figure.add_bar(x=by_month["month"], y=values.fillna(0), name=source, marker_color=colour,
                       text=np.where(hidden, "suppressed", ""), textposition="outside",
                       hovertemplate="%{x}: %{y} " + source + "<extra></extra>")
    figure.update_layout(barmode="group", xaxis_title="Month", yaxis_title="Items")
    return _layout(figure, title, height=380)


def track_record_figure(by_band: pd.DataFrame, label: Labeller) -> go.Figure:
    """Per horizon band, the share of calls that came true, came early, were missed or are open."""
    title = "Track record: what came of each call on time to deployment"
    if by_band.empty or by_band["calls"].sum() == 0:
        return empty_figure(title, "No calls yet: the roadmap needs at least a month of history.")
    figure = go.Figure()
    names = [f"{label('deployment_horizon', band)} ({calls} calls)" for band, calls in zip(by_band["horizon"], by_band["calls"], strict=True)]
    for outcome, colour in OUTCOME_COLOURS.items():
        figure.add_bar(y=names, x=by_band[f"share {outcome}"].fillna(0), name=outcome, orientation="h", marker_color=colour,
                       hovertemplate="%{y}: %{x:.0%} " + outcome + "<extra></extra>")
    figure.update_layout(barmode="stack", xaxis_tickformat=".0%", xaxis_title="Share of calls")
    return _layout(figure, title, height=340)


def reliability_figure(table: pd.DataFrame, minimum_calls: int = 20) -> go.Figure:
    """Reliability diagram: predicted probability of scale within a year against how often it came."""
    title = "Reliability: predicted chance of scale within a year against what happened"
    known = table[table["calls"] > 0]
    if known["calls"].sum() < minimum_calls:
        return empty_figure(title, f"Fewer than {minimum_calls} calls whose year has passed: too few to judge yet.")
    figure = go.Figure()
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#AEB7BD"}, name="perfectly reliable",
                       hoverinfo="skip")
    figure.add_scatter(x=known["predicted"], y=known["observed"], mode="markers+lines", name="the roadmap",
                       marker={"size": 6 + 14 * np.sqrt(known["calls"] / known["calls"].max()), "color": NHS_BLUE},
                       customdata=known[["bin", "calls"]].to_numpy(),
                       hovertemplate="predicted %{x:.0%}, happened %{y:.0%} (%{customdata[1]} calls in %{customdata[0]})<extra></extra>")
    figure.update_layout(xaxis={"title": "Predicted chance of scale within a year", "range": [0, 1], "tickformat": ".0%"},
                         yaxis={"title": "Share that reached scale within a year", "range": [0, 1], "tickformat": ".0%"})
    return _layout(figure, title, height=420)


def figure_png(figure: go.Figure) -> bytes:
    """The chart as PNG through kaleido, which drives the system Chromium (never downloaded)."""
    width, height = PNG_SIZE
    try:
        return figure.to_image(format="png", width=width, height=max(height, int(figure.layout.height or 0)))
    except Exception as error:
        raise ChartExportError(
            "The chart could not be exported as PNG: the chart renderer (kaleido with the system Chromium) is not "
            f"available on this server ({type(error).__name__}). The interactive HTML and the tables can still be downloaded."
        ) from error


def figure_html(figure: go.Figure) -> str:
    """A self-contained interactive HTML page of the chart (plotly.js embedded: works offline)."""
    return figure.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False})
