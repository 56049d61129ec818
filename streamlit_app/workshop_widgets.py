"""Workshop UI pieces: the signed-in actor, the workshop picker, join URL and QR code, and the
rating-distribution charts used by the participant page, the presenter view and the results."""

from __future__ import annotations

import html
import io
from urllib.parse import urlencode, urlsplit

import pandas as pd
import plotly.graph_objects as go
import plotly.io as plotly_io
import segno
import streamlit as st

from storage.workshops import Actor, list_workshops
from survey.workshop_rules import RatingScale, WorkshopView, format_join_code
from streamlit_app.auth import Identity
from streamlit_app.runtime import get_engine

JOIN_URL_PATH = "join"
FALLBACK_BASE_URL = "http://localhost:8501"
CONSENSUS_TEXT = {"in": "Consensus IN", "out": "Consensus OUT", "none": "No consensus"}
# MathJax would be fetched from the internet by kaleido; the app works offline.
plotly_io.defaults.mathjax = None
GROUP_COLOURS = ["#005EB8", "#ED8B00", "#009639", "#7C2855", "#00A499", "#FFB81C", "#425563", "#DA291C"]


def actor_for(identity: Identity) -> Actor:
    """Who acts in the workshop functions (guarded by role, and checked for ownership)."""
    return identity.actor


def choose_workshop(actor: Actor, *, key: str, label: str = "Workshop") -> int:
    """A workshop picker over the workshops ``actor`` may see; remembers the choice in the URL.
    With none to choose from, says where to create one and stops the page."""
    workshops = list_workshops(get_engine(), actor=actor)
    if workshops.empty:
        st.info("You have no workshops yet: create one on the Workshops page.")
        st.page_link("views/workshop_setup.py", label="Create a workshop", icon=":material/add_circle:")
        st.stop()
    titles = {
        row.workshop_id: f"{row.title} (#{row.workshop_id}, {row.status})"
        for row in workshops.itertuples()
    }
    options = list(titles)
    remembered = st.query_params.get("workshop")
    index = options.index(int(remembered)) if remembered and remembered.isdigit() and int(remembered) in options else 0
    chosen = st.selectbox(label, options, index=index, format_func=titles.get, key=key)
    st.query_params["workshop"] = str(chosen)
    return int(chosen)


def app_base_url() -> str:
    """The app's address as the browser sees it (so a QR code works from the room's phones)."""
    url = st.context.url
    if not url:
        return FALLBACK_BASE_URL
    parts = urlsplit(url)
    path = parts.path.rsplit("/", 1)[0]
    return f"{parts.scheme}://{parts.netloc}{path}"


def join_url(code: str) -> str:
    return f"{app_base_url()}/{JOIN_URL_PATH}?{urlencode({'join': code})}"


def qr_png(text: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=10, border=2)
    return buffer.getvalue()


def show_join_details(workshop: WorkshopView) -> None:
    """The join code to read aloud, the QR code to scan and the link to share."""
    url = join_url(workshop.join_code)
    left, right = st.columns([2, 1])
    left.markdown(f"### Join code: `{format_join_code(workshop.join_code)}`")
    left.caption(f"Valid until {workshop.expires_at:%Y-%m-%d %H:%M} UTC. Participants open the link, or the "
                 "“Join a workshop” page, and type the code.")
    left.code(url, language=None)
    right.image(qr_png(url), caption="Scan to join", width=220, alt="QR code that opens the join page of this workshop")


def plain_chart_text(text: object) -> str:
    """Plotly renders a subset of HTML in titles and legends; user text must stay literal."""
    return html.escape(str(text), quote=False)


def _value_labels(scale: RatingScale) -> list[str]:
    return [plain_chart_text(scale.value_label(value)) if scale.points else str(value) for value in scale.values]


def distribution_figure(counts: pd.DataFrame, scale: RatingScale, title: str, *, large: bool = False,
                        own_value: int | None = None) -> go.Figure:
    """Stacked bars of how many of each stakeholder group gave each value.

    ``counts`` has columns group, rating, count. Bands are shaded and labelled; ``own_value``
    (a participant's own previous rating) is marked.
    """
    labels = _value_labels(scale)
    position = {value: index for index, value in enumerate(scale.values)}
    figure = go.Figure()
    for index, (group, part) in enumerate(counts.groupby("group", sort=True)):
        heights = [0] * len(labels)
        for rating, count in zip(part["rating"], part["count"], strict=True):
            heights[position[int(rating)]] += int(count)
        figure.add_bar(x=labels, y=heights, name=plain_chart_text(group), marker_color=GROUP_COLOURS[index % len(GROUP_COLOURS)])
    for band, shade in (("low", "rgba(218,41,28,0.06)"), ("mid", "rgba(66,85,99,0.05)"), ("high", "rgba(0,150,57,0.07)")):
        first, last = scale.bands.band_range(band)
        words = [plain_chart_text(word) for word in scale.bands.label(band).split()]
        # In the small chart beside a rating a band is only ~60 px wide: one word per line, centred.
        figure.add_vrect(x0=position[first] - 0.5, x1=position[last] + 0.5, fillcolor=shade, line_width=0,
                         annotation_text=(" " if large else "<br>").join(words), annotation_position="top left" if large else "outside top",
                         annotation_font_size=18 if large else 11)
    if own_value is not None and own_value in position:
        figure.add_annotation(x=labels[position[own_value]], y=0, text="your rating", showarrow=True, arrowhead=2,
                              ax=0, ay=40, font={"color": "#DA291C", "size": 16 if large else 12})
    figure.update_layout(
        title={"text": plain_chart_text(title), "font": {"size": 28 if large else 14}},
        barmode="stack", height=620 if large else 300, margin={"l": 40, "r": 20, "t": 90 if large else 80, "b": 40},
        legend={"orientation": "h", "y": -0.15 if large else -0.3, "font": {"size": 18 if large else 11}},
        xaxis={"type": "category", "categoryorder": "array", "categoryarray": labels, "title": "rating" if large else None,
               "tickfont": {"size": 20 if large else 11}},
        yaxis={"title": "participants", "dtick": 1 if counts["count"].sum() <= 12 else None,
               "tickfont": {"size": 18 if large else 11}},
    )
    return figure


class ChartExportError(RuntimeError):
    """A chart could not be rendered to PNG (kaleido or Chromium unavailable)."""


def figure_png(figure: go.Figure) -> bytes:
    """The chart as PNG through kaleido (which drives the system Chromium)."""
    try:
        return figure.to_image(format="png", width=1400, height=800)
    except Exception as error:  # noqa: BLE001 - kaleido raises many types; the user gets one message
        raise ChartExportError(
            "The chart could not be exported as PNG: the chart renderer (kaleido with Chromium) is not available on "
            f"this server ({type(error).__name__}). The tables can still be downloaded."
        ) from error
