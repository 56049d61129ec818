"""Load test of a workshop round (issues 7 and 12): N participants rate through the real server.

Sets up a workshop with K items and an open round (through storage.workshops, on a fresh
temporary SQLite database unless --database-url names another, e.g. a scratch PostgreSQL
database), starts the real Streamlit server on a free loopback port, and drives N concurrent
participant sessions: each joins with the code (``/join?join=<code>``), picks a stakeholder
group, rates every item with a reason and clicks "Save ratings". Measured: the time from the
click to the confirmation ("Saved K ratings for round 1"), p50/p95/max over all saves; the
server's resident memory (VmRSS from /proc) sampled through the run; the CPU seconds used by
the server and by the client during the run (client and server share the machine's cores, so
the split says which side was the bottleneck). Afterwards every participant's ratings are
read back through storage: each must be stored exactly once with the values last sent.

Two drivers:
- ``websocket`` (default): speaks Streamlit's own protocol (BackMsg/ForwardMsg protobufs over
  /_stcore/stream) like the browser's frontend does, including the 3-second auto-reruns of the
  page's polling fragment; the confirmation counts when its element arrives. Light enough
  that the server, not the client, is the bottleneck.
- ``browser``: one system Chromium with one Playwright context per participant; the
  confirmation counts when it is visible. Rendering N Streamlit pages costs far more CPU than
  the server's work, so on a small machine it measures the client as much as the server.

A deployment that is already running (e.g. scripts/serve.sh: nginx and several app processes) is
driven with ``--url`` instead: the workshop is made in its database (``--database-url``, required),
no server is started, and the app processes named with ``--server-pid`` are measured. Each
participant loads the page first, as a browser does, keeping the cookies it sets (the proxy's
affinity cookie sends its websocket to one process).

Usage: .venv/bin/python scripts/load_workshop.py [--participants 40] [--items 10]
       [--driver websocket|browser] [--saves 1] [--save-spread 0] [--database-url URL] [--json]
       [--url URL --database-url URL [--server-pid PID ...]]
Exit status: 0 when every save was confirmed and stored exactly once (whether or not the
latency target was met), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvloop
from sqlalchemy.engine import make_url

from analysis.consensus_rules import COMET_RULE
from storage.db import make_engine, write_session
from storage.migrate import upgrade_to_head
from storage.models.catalogue import Technology
from storage.workshops import Actor, create_workshop, get_workshop, open_round, participant_ratings, ratings_export
from survey.workshop_rules import NINE_POINT_SCALE, RatingScale, parse_workshop_input
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Server, start_server

TARGET_PARTICIPANTS = 40
# (room size, save p95 target in seconds): 40 pressing Save at once under 1 s; a room of 150
# (a regional workshop) under 2 s, and its joins under 2 s too.
SAVE_TARGETS = ((40, 1.0), (150, 2.0))
LARGE_ROOM_JOIN_TARGET_SECONDS = 2.0
FACILITATOR = Actor("load-test-facilitator", "facilitator")
GROUPS = ("Nurses", "Doctors", "Managers", "Patients")
SCALE: RatingScale = NINE_POINT_SCALE
GROUP_QUESTION = "Which stakeholder group are you in?"
SAVE_BUTTON = "Save ratings"
JOIN_BUTTON = "Join"
CONFIRMATION = re.compile(r"^Saved (\d+) ratings for round (\d+)\.")
ALIAS = re.compile(r"You are (P\d+) ")
RATING_KEY = re.compile(r"-ws_rate_(\d+)_(\d+)$")  # widget id "$$ID-<hash>-ws_rate_<round>_<item id>"
REASON_KEY = re.compile(r"-ws_reason_(\d+)_(\d+)$")
MEMORY_SAMPLE_SECONDS = 0.1
AUTO_RERUN_SECONDS = 3.0  # used only until the server has said how often
FRAGMENT_RUN_LIMIT_SECONDS = 120
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class LoadTestError(RuntimeError):
    """A participant's journey went wrong (the message says which step and what was seen)."""


# ---------------------------------------------------------------------------------------------
# The workshop under test and what each participant does
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkshopTarget:
    workshop_id: int
    join_code: str
    round_number: int
    item_ids: tuple[int, ...]


@dataclass(frozen=True)
class ParticipantPlan:
    """What participant ``index`` does: their group, when they save, and the ratings of each save."""

    index: int
    group: str
    save_delay: float
    saves: tuple[dict[int, tuple[int, str]], ...]  # per save: item id -> (value, reason)


def plan_participants(target: WorkshopTarget, participants: int, saves: int, save_spread: float,
                      seed: int = 7) -> list[ParticipantPlan]:
    """Deterministic plans: groups in rotation, values spread over the scale, save times spread
    uniformly over ``save_spread`` seconds (0 = everyone clicks at once)."""
    rng = random.Random(seed)
    values = SCALE.values
    plans = []
    for index in range(participants):
        ratings = tuple(
            {item_id: (values[(index + 3 * position + save) % len(values)], f"load p{index} s{save} i{position}")
             for position, item_id in enumerate(target.item_ids)}
            for save in range(saves)
        )  # fmt: skip
        plans.append(ParticipantPlan(index, GROUPS[index % len(GROUPS)], rng.uniform(0, save_spread), ratings))
    return plans


def prepare_workshop(database_url: str, items: int) -> WorkshopTarget:
    """A workshop with ``items`` technologies to rate and round 1 open (through storage only)."""
    engine = make_engine(database_url)
    try:
        upgrade_to_head(engine)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        with write_session(engine) as session:
            tools = [Technology(name=f"Load test {stamp}: tool {n}", company="Load test") for n in range(1, items + 1)]
            session.add_all(tools)
            session.flush()
            technology_ids = [tool.id for tool in tools]
        data = parse_workshop_input({
            "title": f"Load test {stamp}", "rule": COMET_RULE, "n_rounds": 2,
            "expires_at": datetime.now(UTC) + timedelta(days=1),
            "items": [{"technology_id": technology_id, "question": "impact_workforce"} for technology_id in technology_ids],
            "groups": [{"name": name} for name in GROUPS],
        })  # fmt: skip
        workshop_id = create_workshop(engine, data, actor=FACILITATOR)
        round_number = open_round(engine, workshop_id, actor=FACILITATOR)
        view = get_workshop(engine, workshop_id, actor=FACILITATOR)
        return WorkshopTarget(workshop_id, view.join_code, round_number, tuple(item.id for item in view.items))
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``fraction`` of values at or below it."""
    if not values:
        raise ValueError("no values to take a percentile of")
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


def latency_summary(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "p50": None, "p95": None, "max": None, "mean": None}
    return {"count": len(values), "p50": round(percentile(values, 0.50), 3), "p95": round(percentile(values, 0.95), 3),
            "max": round(max(values), 3), "mean": round(sum(values) / len(values), 3)}


def resident_kb(pid: int) -> int | None:
    """VmRSS of a process in kB, or None once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def process_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds used so far) for every visible process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name may contain spaces and parentheses: the fields start after the last ')'.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return table


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (everything but idle and I/O wait)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLOCK_TICKS


def _tree(table: dict[int, tuple[int, float]], root: int) -> set[int]:
    members, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _cpu) in table.items() if ppid == parent and pid not in members]
        members.update(children)
        frontier.extend(children)
    return members


class ResourceSampler:
    """Samples each server process's VmRSS, and the CPU seconds of the server processes, of the
    client (this process and its other descendants, e.g. Chromium) and of the whole machine
    (other work on a shared machine slows both), in a background thread."""

    def __init__(self, server_pids: Sequence[int]) -> None:
        self.server_roots = tuple(server_pids)
        self.rss_kb: dict[int, list[int]] = {pid: [] for pid in self.server_roots}
        self._cpu_first: dict[int, float] = {}
        self._cpu_last: dict[int, float] = {}
        self._server_pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)
        self._started = 0.0
        self._machine_started = 0.0
        self.wall_seconds = 0.0
        self.machine_seconds = 0.0

    def _sample(self) -> None:
        for pid in self.server_roots:
            if (rss := resident_kb(pid)) is not None:
                self.rss_kb[pid].append(rss)
        table = process_table()
        for root in self.server_roots:
            self._server_pids |= _tree(table, root)
        for pid in _tree(table, os.getpid()) | (self._server_pids & table.keys()):
            cpu = table[pid][1]
            self._cpu_first.setdefault(pid, cpu)
            self._cpu_last[pid] = cpu

    def _run(self) -> None:
        while not self._stop.wait(MEMORY_SAMPLE_SECONDS):
            self._sample()

    def __enter__(self) -> Self:
        self._started = time.monotonic()
        self._machine_started = machine_busy_seconds()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.wall_seconds = time.monotonic() - self._started
        self.machine_seconds = machine_busy_seconds() - self._machine_started

    def cpu_seconds(self) -> tuple[float, float]:
        """(server, client) CPU seconds used while sampling (processes that started meanwhile
        count from zero, their first sample would miss their start-up otherwise)."""
        server = client = 0.0
        for pid, last in self._cpu_last.items():
            first = self._cpu_first[pid] if pid in (*self.server_roots, os.getpid()) else 0.0
            if pid in self._server_pids:
                server += last - first
            else:
                client += last - first
        return server, client

    def memory_mb(self) -> dict[str, object]:
        """Resident memory of the server processes: start, peak and end of the largest one (each
        process's own figures, so "peak" is the peak memory per process), and each one's peak."""
        series = [samples for samples in self.rss_kb.values() if samples]
        if not series:
            return {"start": None, "peak": None, "end": None, "samples": 0, "per_process_peak": []}
        return {"start": round(max(s[0] for s in series) / 1024, 1), "peak": round(max(max(s) for s in series) / 1024, 1),
                "end": round(max(s[-1] for s in series) / 1024, 1), "samples": sum(len(s) for s in series),
                "per_process_peak": [round(max(s) / 1024, 1) for s in series]}


# ---------------------------------------------------------------------------------------------
# Driver 1: Streamlit's websocket protocol
# ---------------------------------------------------------------------------------------------


def _widget_state(widget_id: str, **value: object):
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    return WidgetState(id=widget_id, **value)


@dataclass
class RunOutcome:
    """What one script run (and the runs it triggered with st.rerun) rendered."""

    elements: list = field(default_factory=list)  # (kind, proto) of the last run, in order
    errors: list[str] = field(default_factory=list)
    matched_at: float | None = None
    reran_page: bool = False  # the whole page ran, not only a fragment

    def widgets(self, kind: str, label: str | None = None) -> list:
        return [proto for element_kind, proto in self.elements
                if element_kind == kind and (label is None or proto.label == label)]

    def one(self, kind: str, label: str, step: str):
        found = self.widgets(kind, label)
        if len(found) != 1:
            raise LoadTestError(f"{step}: expected one {kind} {label!r}, found {len(found)}; errors shown: {self.errors}")
        return found[0]

    def texts(self) -> list[str]:
        return [proto.body for kind, proto in self.elements if kind in ("markdown", "alert")]


class StreamlitConnection:
    """One browser tab's conversation with the server over /_stcore/stream.

    Requests are serialised (one script run in flight per tab), as in the frontend; the page's
    auto-rerun fragments are re-run at the interval the server asks for while the tab is open.
    """

    def __init__(self, websocket, page_name: str, query_string: str) -> None:
        self._websocket = websocket
        self.page_name = page_name
        self.query_string = query_string
        self.page_script_hash = ""
        self._committed: dict[str, object] = {}  # widget id -> last submitted WidgetState (no triggers)
        self._auto_reruns: dict[str, float] = {}  # fragment id -> interval (s)
        self._widget_fragments: dict[str, str] = {}  # widget id -> id of the fragment drawing it ("" = none)
        self._lock = asyncio.Lock()
        self._poller: asyncio.Task | None = None

    @classmethod
    async def open(cls, base_url: str, page_name: str, query_string: str) -> StreamlitConnection:
        """Load the page as a browser does (keeping the cookies it sets: a reverse proxy's
        affinity cookie sends the websocket to the same app process), then open the websocket."""
        from websockets.asyncio.client import connect

        cookies = await page_cookies(f"{base_url}/{page_name}?{query_string}")
        headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())} if cookies else None
        websocket = await connect(re.sub(r"^http", "ws", base_url) + "/_stcore/stream", subprotocols=["streamlit"],
                                  max_size=None, open_timeout=60, additional_headers=headers)
        return cls(websocket, page_name, query_string)

    async def close(self) -> None:
        """Close the tab; raises LoadTestError if its background polling had failed."""
        failure = None
        if self._poller is not None:
            if self._poller.done() and not self._poller.cancelled():
                failure = self._poller.exception()
            self._poller.cancel()
            with suppress(asyncio.CancelledError):
                await self._poller
        await self._websocket.close()
        if failure is not None:
            raise LoadTestError(f"polling the page failed: {type(failure).__name__}: {failure}")

    async def run(self, states: Sequence = (), *, watch: Callable[[str, object], bool] | None = None) -> RunOutcome:
        """Send a rerun with these widget states and read until the script has finished.
        ``watch`` is called on every new element; the time of its first match is kept.

        As the frontend does, a click on a button drawn by a fragment (e.g. the form's submit
        button inside ``@st.fragment``) reruns only that fragment, not the whole page."""
        fragment_id = next((self._widget_fragments.get(state.id, "") for state in states
                            if state.WhichOneof("value") == "trigger_value"), "")
        async with self._lock:
            return await self._exchange(states, watch, fragment_id=fragment_id)

    async def _exchange(self, states: Sequence, watch: Callable[[str, object], bool] | None, *,
                        fragment_id: str, auto_rerun: bool = False) -> RunOutcome:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        message = BackMsg()
        client_state = message.rerun_script
        client_state.query_string = self.query_string
        client_state.page_name = self.page_name
        client_state.page_script_hash = self.page_script_hash
        client_state.fragment_id = fragment_id
        client_state.is_auto_rerun = auto_rerun
        submitted = {state.id: state for state in states}
        for state in {**self._committed, **submitted}.values():
            client_state.widget_states.widgets.add().CopyFrom(state)
        self._committed.update({key: state for key, state in submitted.items()
                                if state.WhichOneof("value") != "trigger_value"})
        await self._websocket.send(message.SerializeToString())
        if not fragment_id:
            return await self._read_until_finished(watch, fragment=False)
        try:
            return await asyncio.wait_for(self._read_until_finished(watch, fragment=True), FRAGMENT_RUN_LIMIT_SECONDS)
        except TimeoutError:
            raise LoadTestError(f"the server did not answer a rerun of fragment {fragment_id} within "
                                f"{FRAGMENT_RUN_LIMIT_SECONDS} s") from None

    async def _read_until_finished(self, watch, *, fragment: bool) -> RunOutcome:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        outcome = RunOutcome()
        while True:
            message = ForwardMsg()
            message.ParseFromString(await self._websocket.recv())
            kind = message.WhichOneof("type")
            if kind == "new_session" and not fragment:
                outcome.elements = []  # a new run (e.g. after st.rerun) redraws the page
                self._auto_reruns = {}
            elif kind == "navigation" and message.navigation.page_script_hash:
                self.page_script_hash = message.navigation.page_script_hash
            elif kind == "page_info_changed":
                self.query_string = message.page_info_changed.query_string
            elif kind == "auto_rerun":
                self._auto_reruns[message.auto_rerun.fragment_id] = message.auto_rerun.interval
            elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                element = message.delta.new_element
                element_kind = element.WhichOneof("type")
                proto = getattr(element, element_kind)
                outcome.elements.append((element_kind, proto))
                if "id" in proto.DESCRIPTOR.fields_by_name:
                    self._widget_fragments[proto.id] = message.delta.fragment_id
                if element_kind == "alert" and proto.format == proto.ERROR:
                    outcome.errors.append(proto.body)
                if watch is not None and outcome.matched_at is None and watch(element_kind, proto):
                    outcome.matched_at = time.monotonic()
            # Stopped early for a rerun (st.rerun): the next run follows on the same request.
            elif kind == "script_finished" and message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                if message.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    outcome.errors.append("the page failed to compile")
                outcome.reran_page = message.script_finished != ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
                self._ensure_polling()
                return outcome

    def _ensure_polling(self) -> None:
        if self._auto_reruns and self._poller is None:
            self._poller = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        """Re-run the page's auto-rerun fragments as the frontend's timers do.

        The fragment ids are read only once the tab is idle: a full run in between replaces
        them, and the server silently drops a rerun of a fragment that no longer exists."""
        while True:
            await asyncio.sleep(min(self._auto_reruns.values(), default=AUTO_RERUN_SECONDS))
            async with self._lock:
                for fragment_id in list(self._auto_reruns):
                    await self._exchange((), None, fragment_id=fragment_id, auto_rerun=True)


async def page_cookies(url: str) -> dict[str, str]:
    """The cookies the server sets on a page load (name -> value).

    A plain HTTP/1.1 GET on asyncio streams rather than urllib in a thread: the client shares the
    machine's cores with the server it measures, and 150 threaded urllib requests cost it a
    noticeable share of them."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        writer.write((f"GET {target or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/html\r\n"
                      "Sec-Fetch-Mode: navigate\r\nConnection: close\r\n\r\n").encode("latin-1"))
        await writer.drain()
        head, _, _body = (await asyncio.wait_for(reader.read(), 60)).partition(b"\r\n\r\n")
    finally:
        writer.close()
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    if status_line.split(" ")[1:2] != ["200"]:
        raise LoadTestError(f"loading the page {url} answered {status_line!r}")
    jar = SimpleCookie()
    for line in header_lines:
        name, _, value = line.partition(":")
        if name.strip().lower() == "set-cookie":
            jar.load(value.strip())
    return {name: morsel.value for name, morsel in jar.items()}


def _is_confirmation(kind: str, proto: object) -> bool:
    return kind == "alert" and CONFIRMATION.match(proto.body) is not None


@dataclass
class ParticipantResult:
    index: int
    alias: str = ""
    token: str = ""
    join_seconds: float | None = None
    save_seconds: list[float] = field(default_factory=list)
    page_reruns_on_save: int = 0  # saves that ran the whole page instead of the rating form's fragment
    error: str = ""


async def websocket_participant(base_url: str, target: WorkshopTarget, plan: ParticipantPlan, result: ParticipantResult,
                                start_saving: asyncio.Event) -> StreamlitConnection:
    """Join, rate and save over the websocket; returns the open connection (still polling)."""
    connection = await StreamlitConnection.open(base_url, "join", f"join={target.join_code}")
    started = time.monotonic()
    landing = await connection.run()
    group_radio = landing.one("radio", GROUP_QUESTION, "join page")
    join_button = landing.one("button", JOIN_BUTTON, "join page")
    form = await connection.run([_widget_state(group_radio.id, string_value=plan.group),
                                 _widget_state(join_button.id, trigger_value=True)])
    result.join_seconds = time.monotonic() - started
    save_button = form.one("button", SAVE_BUTTON, "after joining")
    result.alias = next((m.group(1) for text in form.texts() if (m := ALIAS.search(text))), "")
    result.token = parse_qs(connection.query_string).get("p", [""])[0]
    radios = {int(RATING_KEY.search(radio.id).group(2)): radio for radio in form.widgets("radio")
              if RATING_KEY.search(radio.id)}
    reasons = {int(REASON_KEY.search(box.id).group(2)): box for box in form.widgets("text_input")
               if REASON_KEY.search(box.id)}
    if set(radios) != set(target.item_ids) or set(reasons) != set(target.item_ids):
        raise LoadTestError(f"after joining: the form rates items {sorted(radios)}, expected {list(target.item_ids)}")
    await start_saving.wait()
    await asyncio.sleep(plan.save_delay)
    for ratings in plan.saves:
        states = [_widget_state(radios[item_id].id, string_value=SCALE.value_label(value))
                  for item_id, (value, _reason) in ratings.items()]
        states += [_widget_state(reasons[item_id].id, string_value=reason) for item_id, (_value, reason) in ratings.items()]
        states.append(_widget_state(save_button.id, trigger_value=True))
        clicked = time.monotonic()
        saved = await connection.run(states, watch=_is_confirmation)
        if saved.matched_at is None:
            raise LoadTestError(f"save: no confirmation appeared; errors shown: {saved.errors}")
        result.save_seconds.append(saved.matched_at - clicked)
        result.page_reruns_on_save += saved.reran_page
        save_button = saved.one("button", SAVE_BUTTON, "after saving")
    return connection


# ---------------------------------------------------------------------------------------------
# Driver 2: Playwright contexts in one Chromium
# ---------------------------------------------------------------------------------------------

BROWSER_TIMEOUT_MS = 120_000
CONFIRMATION_BYTES = re.compile(rb"Saved \d+ ratings for round \d+\.")


async def _settled(page) -> None:
    await page.wait_for_selector("[data-test-script-state='notRunning']", timeout=BROWSER_TIMEOUT_MS)


async def browser_participant(browser, base_url: str, target: WorkshopTarget, plan: ParticipantPlan,
                              result: ParticipantResult, start_saving: asyncio.Event):
    """Join, rate and save in a fresh browser context; returns the context (still open)."""
    context = await browser.new_context()
    page = await context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    # Listening from before the page opens its websocket: the confirmation's text arriving marks
    # a save's own answer (a previous confirmation stays on screen, so visibility alone proves nothing).
    confirmations: list[float] = []
    page.on("websocket", lambda socket: socket.on(
        "framereceived",
        lambda payload: confirmations.append(time.monotonic())
        if isinstance(payload, bytes) and CONFIRMATION_BYTES.search(payload) else None))
    started = time.monotonic()
    await page.goto(f"{base_url}/join?join={target.join_code}")
    await _settled(page)
    await page.get_by_text(plan.group, exact=True).click()
    await page.get_by_role("button", name=JOIN_BUTTON).click()
    await page.get_by_text(re.compile(rf"Round {target.round_number} of \d")).wait_for()
    await _settled(page)
    result.join_seconds = time.monotonic() - started
    caption = await page.get_by_text(ALIAS).first.inner_text()
    result.alias = ALIAS.search(caption).group(1)
    result.token = parse_qs(page.url.split("?", 1)[1]).get("p", [""])[0] if "?" in page.url else ""
    await start_saving.wait()
    await asyncio.sleep(plan.save_delay)
    rating_groups = page.locator("[role='radiogroup']")
    reason_boxes = page.get_by_label(re.compile("^Reason"))
    for ratings in plan.saves:
        # The form lists the items in the workshop's order, as target.item_ids does.
        for position, item_id in enumerate(target.item_ids):
            value, reason = ratings[item_id]
            await rating_groups.nth(position).get_by_text(SCALE.value_label(value), exact=True).click()
            await reason_boxes.nth(position).fill(reason)
        seen = len(confirmations)
        clicked = time.monotonic()
        await page.get_by_role("button", name=SAVE_BUTTON).click()
        while len(confirmations) == seen:
            if time.monotonic() - clicked > BROWSER_TIMEOUT_MS / 1000:
                raise LoadTestError("save: no confirmation arrived")
            await asyncio.sleep(0.005)
        await page.get_by_text(CONFIRMATION).first.wait_for(state="visible")
        result.save_seconds.append(time.monotonic() - clicked)
    return context


# ---------------------------------------------------------------------------------------------
# Running the participants and checking the stored ratings
# ---------------------------------------------------------------------------------------------


async def _participants(driver: str, base_url: str, target: WorkshopTarget, plans: list[ParticipantPlan],
                        results: list[ParticipantResult], chromium: str) -> None:
    """All participants join at once; saving starts when every join is done (or has failed)."""
    start_saving = asyncio.Event()
    open_sessions: list[tuple[object, ParticipantResult]] = []

    def record(result: ParticipantResult, error: Exception) -> None:
        result.error = result.error or f"{type(error).__name__}: {error}"

    async def one(run_participant, plan: ParticipantPlan, result: ParticipantResult) -> None:
        try:
            open_sessions.append((await run_participant(plan, result), result))
        except Exception as error:  # noqa: BLE001 - every failure is reported per participant
            record(result, error)

    async def gather(run_participant) -> None:
        tasks = [asyncio.create_task(one(run_participant, plan, result)) for plan, result in zip(plans, results, strict=True)]
        while not all(r.join_seconds is not None or r.error for r in results):
            await asyncio.sleep(0.05)
        start_saving.set()
        await asyncio.gather(*tasks)
        # Tabs stay open (and polling) until every participant has finished, as in a workshop.
        for session, result in open_sessions:
            try:
                await session.close()
            except Exception as error:  # noqa: BLE001
                record(result, error)

    if driver == "websocket":
        await gather(lambda plan, result: websocket_participant(base_url, target, plan, result, start_saving))
        return
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            await gather(lambda plan, result: browser_participant(browser, base_url, target, plan, result, start_saving))
        finally:
            await browser.close()


def verify_storage(database_url: str, target: WorkshopTarget, plans: list[ParticipantPlan],
                   results: list[ParticipantResult]) -> dict[str, object]:
    """Every participant's last save is stored once per item, with the values sent."""
    engine = make_engine(database_url)
    try:
        stored = ratings_export(engine, target.workshop_id)
        keys = stored[["round", "item", "participant"]]
        mismatches = []
        for plan, result in zip(plans, results, strict=True):
            if not result.token:
                mismatches.append(f"participant {plan.index}: no seat token was seen")
                continue
            own = participant_ratings(engine, result.token, target.round_number)
            if own != plan.saves[-1]:
                mismatches.append(f"participant {plan.index} ({result.alias}): stored {own}, expected {plan.saves[-1]}")
    finally:
        engine.dispose()
    expected = len(plans) * len(target.item_ids)
    return {
        "participants_with_ratings": int(stored["participant"].nunique()),
        "ratings_expected": expected,
        "ratings_stored": len(stored),
        "duplicates": int(keys.duplicated().sum()),
        "mismatches": mismatches,
        "ok": len(stored) == expected and not keys.duplicated().any() and not mismatches,
    }


@dataclass
class LoadReport:
    driver: str
    server_options: list[str]
    workshop_id: int
    participants: int
    items: int
    saves_per_participant: int
    save_spread_seconds: float
    database: str
    machine: dict[str, object]
    server_processes: int
    proxied: bool
    save_latency_seconds: dict[str, object]
    join_latency_seconds: dict[str, object]
    saves_rerunning_page: int | None  # websocket driver: saves that reran the whole page (the form's fragment should)
    server_rss_mb: dict[str, object]
    cpu_seconds: dict[str, object]
    bottleneck: str
    verification: dict[str, object]
    errors: list[str]
    target: dict[str, object]
    elapsed_seconds: float

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.verification.get("ok"))

    def lines(self) -> list[str]:
        save, join, rss, cpu = self.save_latency_seconds, self.join_latency_seconds, self.server_rss_mb, self.cpu_seconds
        verdict = "met" if self.target["met"] else "NOT met"
        rows = [
            (f"Workshop load test: {self.participants} participants x {self.items} items, driver {self.driver}, "
             f"{self.database}, saves spread over {self.save_spread_seconds:g} s"
             + (f", server options {' '.join(self.server_options)}" if self.server_options else "")),
            f"Machine: {self.machine['cpus']} CPU(s), {self.machine['note']}",
            "",
            f"{'measure':<34}{'p50':>9}{'p95':>9}{'max':>9}{'count':>7}",
            f"{'click Save -> confirmation (s)':<34}{_cell(save['p50'])}{_cell(save['p95'])}{_cell(save['max'])}{save['count']:>7}",
            f"{'open link -> rating form (s)':<34}{_cell(join['p50'])}{_cell(join['p95'])}{_cell(join['max'])}{join['count']:>7}",
            *([f"Saves that reran the whole page instead of the form's fragment: {self.saves_rerunning_page}"]
              if self.saves_rerunning_page else []),
            "",
            (f"Server memory (VmRSS, largest of {self.server_processes} process(es)): start {rss['start']} MB, "
             f"peak {rss['peak']} MB, end {rss['end']} MB; peak per process {rss['per_process_peak']} MB"),
            (f"CPU during the run ({cpu['wall']} s wall): server {cpu['server']} s ({cpu['server_cores']} cores), "
             f"client {cpu['client']} s ({cpu['client_cores']} cores), whole machine {cpu['machine_busy_cores']} cores busy"),
            f"Bottleneck: {self.bottleneck}",
            (f"Stored: {self.verification['ratings_stored']} of {self.verification['ratings_expected']} ratings, "
             f"{self.verification['duplicates']} duplicates, {len(self.verification['mismatches'])} mismatches "
             f"-> {'OK' if self.verification['ok'] else 'FAILED'}"),
            (f"Target ({self.target['participants']} participants, save p95 < {self.target['p95_seconds']} s"
             + (f", join p95 < {self.target['join_p95_seconds']} s" if self.target.get("join_p95_seconds") else "")
             + f"): {verdict}"),
        ]
        rows += [f"Error: {error}" for error in self.errors[:20]]
        rows += [f"Mismatch: {text}" for text in self.verification["mismatches"][:20]]
        return rows


def _cell(value: float | None) -> str:
    return f"{value:>9.3f}" if value is not None else f"{'-':>9}"


def target_for(participants: int) -> dict[str, object]:
    """The target a room of this size is held to: the smallest room size at or above it (a room
    larger than every target is held to the largest)."""
    size, seconds = next(((size, seconds) for size, seconds in SAVE_TARGETS if participants <= size), SAVE_TARGETS[-1])
    target: dict[str, object] = {"participants": max(size, TARGET_PARTICIPANTS), "p95_seconds": seconds}
    if size == SAVE_TARGETS[-1][0]:
        target["join_p95_seconds"] = LARGE_ROOM_JOIN_TARGET_SECONDS
    return target


def target_met(target: dict[str, object], participants: int, save_p95: float | None, join_p95: float | None,
               errors: list[str]) -> bool:
    join_limit = target.get("join_p95_seconds")
    return (participants >= target["participants"] and save_p95 is not None and save_p95 < target["p95_seconds"]
            and (join_limit is None or (join_p95 is not None and join_p95 < join_limit)) and not errors)


def bottleneck(server_cores: float, client_cores: float, machine_cores: float, cpus: int, processes: int = 1) -> str:
    """Which side limited the run. A Streamlit server runs its scripts under one GIL, so about
    one busy core per process is its ceiling; a client busier than the server is itself the
    limit; and on a machine kept busy by other work, neither side got the cores it could have used."""
    other = max(machine_cores - server_cores - client_cores, 0.0)
    if client_cores > server_cores:
        return "client (it used more CPU than the server: latencies include the client's own queuing)"
    if machine_cores >= 0.9 * cpus and other >= 0.5:
        return (f"shared machine (other processes used {other:.1f} of {cpus} cores; "
                f"the server got {server_cores:.2f})")
    if processes > 1 and server_cores >= 0.8 * min(processes, cpus):
        return f"server (near {min(processes, cpus)} busy cores, the ceiling of {processes} Streamlit processes on {cpus} cores)"
    if processes == 1 and server_cores >= 0.8:
        return "server (near one busy core, the ceiling of one Streamlit process)"
    return "neither saturated (latency is the server's own work per save)"


def server_option_env(options: Sequence[str]) -> dict[str, str]:
    """Streamlit options given as "section.name=value" as the environment variables Streamlit
    reads (runner.postScriptGC=false -> STREAMLIT_RUNNER_POST_SCRIPT_GC=false)."""
    env = {}
    for option in options:
        name, separator, value = option.partition("=")
        section, dot, key = name.strip().partition(".")
        if not separator or not dot or not section or not key:
            raise ValueError(f"server option {option!r}: write it as section.name=value, e.g. runner.postScriptGC=false")
        snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).upper()
        env[f"STREAMLIT_{section.upper()}_{snake}"] = value.strip()
    return env


def run_load(*, participants: int, items: int, driver: str, saves: int, save_spread: float, database_url: str | None,
             timeout: float, workdir: Path, chromium: str = CHROMIUM, server_options: Sequence[str] = (),
             url: str | None = None, server_pids: Sequence[int] = ()) -> LoadReport:
    """Run the load. Without ``url`` a server is started here (and stopped afterwards) on
    ``database_url`` or a fresh SQLite file; with ``url`` the deployment already running there is
    driven, its workshop made in ``database_url``, and ``server_pids`` (its app processes) measured."""
    database = database_url or f"sqlite:///{workdir / 'load.db'}"
    target = prepare_workshop(database, items)
    plans = plan_participants(target, participants, saves, save_spread)
    results = [ParticipantResult(plan.index) for plan in plans]
    errors: list[str] = []
    server: Server | None = None
    if url is None:
        server = start_server(database, workdir / "server.log", server_option_env(server_options))
        url, server_pids = server.url, (server.process.pid,)
    started = time.monotonic()
    try:
        with ResourceSampler(server_pids) as sampler:
            try:
                # uvloop (as the server uses): the client shares the machine's cores with the
                # server it measures, so the less it spends the less it disturbs the figures.
                with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                    runner.run(asyncio.wait_for(
                        _participants(driver, url.rstrip("/"), target, plans, results, chromium), timeout))
            except TimeoutError:
                errors.append(f"the run did not finish within the {timeout:g} s limit")
    finally:
        if server is not None:
            server.stop()
    elapsed = time.monotonic() - started
    errors += [f"participant {r.index}: {r.error}" for r in results if r.error]
    server_cpu, client_cpu = sampler.cpu_seconds()
    wall = max(sampler.wall_seconds, 1e-9)
    machine_cores = sampler.machine_seconds / wall
    cpus = os.cpu_count() or 1
    save_times = [seconds for r in results for seconds in r.save_seconds]
    join_times = [r.join_seconds for r in results if r.join_seconds is not None]
    goal = target_for(participants)
    return LoadReport(
        driver=driver, server_options=list(server_options), workshop_id=target.workshop_id, participants=participants, items=items, saves_per_participant=saves,
        save_spread_seconds=save_spread, database=make_url(database).get_backend_name(),
        machine={"cpus": cpus, "note": "client and server share these cores (loopback only)"},
        server_processes=len(server_pids), proxied=server is None,
        save_latency_seconds=latency_summary(save_times),
        join_latency_seconds=latency_summary(join_times),
        saves_rerunning_page=sum(r.page_reruns_on_save for r in results) if driver == "websocket" else None,
        server_rss_mb=sampler.memory_mb(),
        cpu_seconds={"server": round(server_cpu, 2), "client": round(client_cpu, 2), "wall": round(wall, 2),
                     "server_cores": round(server_cpu / wall, 2), "client_cores": round(client_cpu / wall, 2),
                     "machine_busy_cores": round(machine_cores, 2)},
        bottleneck=bottleneck(server_cpu / wall, client_cpu / wall, machine_cores, cpus, len(server_pids)),
        verification=verify_storage(database, target, plans, results),
        errors=errors,
        target={**goal, "met": target_met(goal, participants, percentile(save_times, 0.95) if save_times else None,
                                            percentile(join_times, 0.95) if join_times else None, errors)},
        elapsed_seconds=round(elapsed, 1),
    )  # fmt: skip


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 600 seconds, not {value:g}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=_positive_int, default=TARGET_PARTICIPANTS, help="concurrent participants (default 40)")
    parser.add_argument("--items", type=_positive_int, default=10, help="items to rate (default 10)")
    parser.add_argument("--driver", choices=("websocket", "browser"), default="websocket",
                        help="websocket: Streamlit's protocol (default, light); browser: Playwright contexts in one Chromium")
    parser.add_argument("--saves", type=_positive_int, default=1, help="saves per participant (2 = change the ratings once)")
    parser.add_argument("--save-spread", type=_non_negative_float, default=0.0,
                        help="seconds over which the first saves are spread (default 0: everyone clicks at once)")
    parser.add_argument("--database-url", help="database to use (default: a fresh temporary SQLite file); with --url, the "
                        "database of that deployment, where the workshop is made and every rating checked")
    parser.add_argument("--url", help="drive the deployment already running at this address (e.g. scripts/serve.sh's "
                        "http://127.0.0.1:8501) instead of starting a server; needs --database-url")
    parser.add_argument("--server-pid", type=int, action="append", default=[], metavar="PID",
                        help="with --url: an app process of that deployment whose memory and CPU to measure (repeatable)")
    parser.add_argument("--timeout", type=_non_negative_float, default=300.0, help="global limit in seconds (default 300)")
    parser.add_argument("--chromium", default=CHROMIUM, help="Chromium executable for the browser driver")
    parser.add_argument("--server-option", action="append", default=[], metavar="SECTION.NAME=VALUE",
                        help="a Streamlit option for the server under test, e.g. runner.postScriptGC=false (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.participants > 200 or args.items > 50:
        parser.error("keep the load bounded: at most 200 participants and 50 items")
    try:
        server_option_env(args.server_option)
    except ValueError as error:
        parser.error(str(error))
    if args.url and not args.database_url:
        parser.error("--url needs --database-url: the workshop is made, and every rating checked, in its database")
    if args.url and args.server_option:
        parser.error("--server-option applies to a server started here, not to a deployment at --url")
    if args.server_pid and not args.url:
        parser.error("--server-pid applies with --url (a server started here is measured by itself)")
    if args.url and not re.match(r"^https?://[^/\s]+", args.url):
        parser.error(f"--url must be an http:// or https:// address, not {args.url!r}")
    if args.driver == "browser" and not Path(args.chromium).exists():
        parser.error(f"the browser driver needs Chromium at {args.chromium}")
    return args


@contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="load-workshop-") as directory:
        yield Path(directory)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with _workdir() as workdir:
        report = run_load(participants=args.participants, items=args.items, driver=args.driver, saves=args.saves,
                          save_spread=args.save_spread, database_url=args.database_url, timeout=args.timeout,
                          chromium=args.chromium, server_options=args.server_option, workdir=workdir,
                          url=args.url, server_pids=args.server_pid)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
