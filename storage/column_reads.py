"""Column-wise reads: a query's result straight into typed pandas columns, with no Python object
per row (the analysis inputs reach millions of answer rows).

Two ways, chosen on measurement (scripts/bench_analysis.py, docs/benchmarks.md):

* :func:`arrow_snapshot` — the ADBC drivers (``adbc-driver-sqlite``, ``adbc-driver-postgresql``)
  build the result as Arrow columns in C (on PostgreSQL from a binary ``COPY``), several queries
  in one read transaction. Used for the full read of the survey evidence. The SQLite driver
  runs in a child process (storage/sqlite_arrow_reader.py: it links its own copy of SQLite).
* :func:`driver_columns` — SQLAlchemy Core's ``exec_driver_sql`` on a connection the caller
  already holds, rows transposed column-wise. Used for small reads inside the caller's snapshot
  (the incremental refresh of storage/evidence_cache.py), and for databases ADBC cannot open
  (an in-memory SQLite database, or when the drivers are not installed).

:func:`typed_column` turns either result into the dtypes analysis/schemas.py normalises to, so
both ways give identical frames (a test compares them). Queries must not return NULLs (COALESCE
them to ``''`` or ``0``): the ADBC SQLite driver infers a column's type from its first 1,024
rows, and an all-NULL start would be taken for integers.
"""

from __future__ import annotations

import ctypes
import fcntl
import importlib
import importlib.util
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

from storage.db import SQLITE_BUSY_TIMEOUT_MS

ColumnKind = Literal["int", "id", "code", "text", "datetime", "bool"]
Columns = dict[str, Any]  # column name -> a pyarrow (Chunked)Array or a Python sequence

SQLITE_BATCH_ROWS = 65_536
READ_AHEAD_BATCHES = 8
# The reader process's pipe: a whole batch fits (Linux's default 64 KiB would stop the reader at
# every batch until this process had taken all of it).
PIPE_BYTES = 1 << 20
_ADBC_MODULES = {"sqlite": "adbc_driver_sqlite", "postgresql": "adbc_driver_postgresql"}


def _adbc_target(engine: Engine) -> tuple[str, str] | None:
    """(driver module, connection string) for ``engine``, or None when ADBC cannot open it."""
    url = engine.url
    backend = url.get_backend_name()
    module = _ADBC_MODULES.get(backend)
    if module is None or importlib.util.find_spec(module) is None:
        return None
    if backend == "sqlite":
        database = url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return module, database
    plain = make_url(url.render_as_string(hide_password=False)).set(drivername="postgresql")
    return module, plain.render_as_string(hide_password=False)


def arrow_available(engine: Engine) -> bool:
    return _adbc_target(engine) is not None


@contextmanager
def arrow_snapshot(engine: Engine) -> Iterator[Callable[[str], Columns]]:
    """A read-only snapshot through ADBC: yields ``run(sql) -> {column: pyarrow array}``; every
    query run in the block sees the same state of the database. SQLite is read by a child process
    (storage/sqlite_arrow_reader.py explains why). Raises RuntimeError when
    :func:`arrow_available` is False."""
    target = _adbc_target(engine)
    if target is None:
        raise RuntimeError(f"ADBC cannot open {engine.url.render_as_string(hide_password=True)}")
    module_name, where = target
    if module_name == "adbc_driver_sqlite":
        with _sqlite_reader(where) as run:
            yield run
        return
    dbapi = importlib.import_module(f"{module_name}.dbapi")
    connection = dbapi.connect(where)  # autocommit off: one transaction until the rollback
    try:
        cursor = connection.cursor()
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

        def run(sql: str) -> Columns:
            cursor.execute(sql)
            return collect_batches(cursor.fetch_record_batch())

        yield run
    finally:
        try:
            connection.rollback()
        finally:
            connection.close()


@dataclass(frozen=True)
class EncodedText:
    """A text column as codes into its distinct values (-1: missing), so millions of repeated
    strings are never held at once: each batch is dictionary-encoded as it arrives."""

    codes: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)


def read_ahead(batches: Iterable[Any], depth: int = READ_AHEAD_BATCHES) -> Iterator[Any]:
    """``batches`` read by a thread up to ``depth`` ahead of the caller, so the producer (the reader
    process, the driver's COPY) keeps running while this process types the previous batches: on
    two cores the read then takes about as long as the slower side, not the sum of both."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    finished = object()

    def offer(item: Any) -> bool:
        """Queue ``item`` unless the caller has stopped reading (then False)."""
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        try:
            for batch in batches:
                if not offer(batch):
                    return
            item: Any = finished
        except BaseException as error:  # handed to the caller, raised there
            item = error
        offer(item)

    thread = threading.Thread(target=pump, name="arrow-read-ahead", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not finished:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


class _GrowingColumn:
    """One column filled batch by batch into a buffer that doubles when full. Not a list of
    per-batch pieces joined at the end: the allocator keeps the memory of freed small pieces, and
    the join holds the column twice (together about half a gigabyte more at a million responses).
    The unused end of the buffer is never touched, so it costs no memory."""

    def __init__(self) -> None:
        self.buffer: np.ndarray | None = None
        self.size = 0

    def append(self, values: np.ndarray) -> None:
        end = self.size + len(values)
        if self.buffer is None or end > len(self.buffer) or values.dtype != self.buffer.dtype:
            dtype = values.dtype if self.buffer is None else np.result_type(self.buffer, values)
            grown = np.empty(max(end, 2 * (0 if self.buffer is None else len(self.buffer)), 1024), dtype=dtype)
            if self.buffer is not None:
                grown[:self.size] = self.buffer[:self.size]
            self.buffer = grown
        self.buffer[self.size:end] = values
        self.size = end

    def result(self, empty_dtype: type) -> np.ndarray:
        return np.empty(0, dtype=empty_dtype) if self.buffer is None else self.buffer[:self.size]


def collect_batches(reader: Any) -> Columns:
    """The columns of an Arrow record batch stream (read ahead, :func:`read_ahead`): text columns
    as :class:`EncodedText`, the others as numpy arrays."""
    import pyarrow as pa

    schema = reader.schema
    text = {field.name for field in schema if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)}
    filled = {name: _GrowingColumn() for name in schema.names}
    seen: dict[str, dict[str, int]] = {name: {} for name in text}
    for batch in read_ahead(reader):
        for name, column in zip(schema.names, batch.columns, strict=True):
            if name not in text:
                filled[name].append(column.to_numpy(zero_copy_only=False))  # copied into the buffer
                continue
            encoded = pc.dictionary_encode(column)
            known = seen[name]
            local = np.array([known.setdefault(value, len(known)) for value in encoded.dictionary.to_pylist()] + [-1], dtype=np.int32)
            indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            filled[name].append(local[indices])  # index -1 (missing) picks the appended -1
    columns: Columns = {}
    for name in schema.names:
        if name in text:
            columns[name] = EncodedText(filled[name].result(np.int32), np.array(list(seen[name]), dtype=object))
        else:
            columns[name] = filled[name].result(np.float64)
    return columns


@contextmanager
def _sqlite_reader(path: str) -> Iterator[Callable[[str], Columns]]:
    import pyarrow as pa

    command = [sys.executable, "-m", "storage.sqlite_arrow_reader", path, str(SQLITE_BUSY_TIMEOUT_MS), str(SQLITE_BATCH_ROWS)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=str(Path(__file__).resolve().parents[1]))
    try:
        fcntl.fcntl(process.stdout.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except OSError:  # a system limit below it: the read is slower, not wrong
        pass
    try:
        def run(sql: str) -> Columns:
            process.stdin.write(sql.replace("\n", " ").encode("utf-8") + b"\n")
            process.stdin.flush()
            try:
                return collect_batches(pa.ipc.open_stream(process.stdout))
            except (pa.ArrowInvalid, OSError) as error:
                process.kill()
                reason = process.stderr.read().decode("utf-8", "replace").strip().splitlines()
                raise RuntimeError(f"reading the database failed: {reason[-1] if reason else error}") from None

        yield run
    finally:
        if process.poll() is None:
            process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()
        process.stderr.close()


def return_freed_memory() -> None:
    """Hand the memory freed by a bulk read back to the operating system: Arrow's pool and the C
    allocator keep it for reuse otherwise (over 100 MB at a million responses), and the analysis
    that follows needs it. Linux with glibc; elsewhere nothing happens."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@contextmanager
def snapshot_connection(engine: Engine) -> Iterator[Connection]:
    """A SQLAlchemy connection whose reads all see one state of the database: one transaction
    (SQLite in WAL mode keeps its snapshot from the first read to the end), REPEATABLE READ on
    PostgreSQL (whose default gives each statement its own snapshot). Rolled back at the end."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        try:
            yield connection
        finally:
            connection.rollback()


def driver_columns(connection: Connection, sql: str, names: Sequence[str]) -> Columns:
    """Run ``sql`` (no parameters) on the caller's connection and return its columns as tuples."""
    rows = connection.exec_driver_sql(sql).fetchall()
    if not rows:
        return {name: () for name in names}
    return dict(zip(names, zip(*rows, strict=True), strict=True))


def in_key_order(columns: Columns, key: str) -> Columns:
    """``columns`` with their rows in ascending ``key`` order (PostgreSQL returns a table's rows in
    storage order, not id order). Reordered in place, one column at a time: at national scale a
    sort of the whole frame held every column twice."""
    keys = columns[key]
    keys = keys if isinstance(keys, np.ndarray) else np.asarray(keys)
    if len(keys) < 2 or bool((keys[1:] >= keys[:-1]).all()):
        return columns
    order = np.argsort(keys, kind="stable")  # a merge of the runs the storage order leaves
    for name, values in columns.items():
        if isinstance(values, EncodedText):
            columns[name] = EncodedText(values.codes[order], values.values)
        elif isinstance(values, np.ndarray):
            columns[name] = values[order]
        else:
            columns[name] = [values[position] for position in order]
    return columns


def _as_numpy(values: Any, dtype: str) -> np.ndarray:
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    return np.asarray(values, dtype=dtype)


def _as_strings(values: Any) -> pd.Series:
    """Text as pandas' ``str`` dtype (Arrow-backed); from Arrow without a Python object per value."""
    if isinstance(values, EncodedText):
        return pd.Series(pd.Categorical.from_codes(values.codes, categories=pd.Index(values.values, dtype=object))).astype("str")
    if hasattr(values, "to_pandas"):
        return values.to_pandas(types_mapper=lambda _type: pd.StringDtype("pyarrow", na_value=np.nan)).astype("str")
    return pd.Series(values, dtype="str")


def _factorized(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(codes with -1 for missing, unique values) of a text column; the codes in any integer dtype."""
    if isinstance(values, EncodedText):
        return values.codes, values.values
    if hasattr(values, "type"):  # Arrow: dictionary-encode in C
        chunks = values.combine_chunks() if hasattr(values, "combine_chunks") else values
        encoded = pc.dictionary_encode(chunks)
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return codes, np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def sorted_categorical(values: Any, *, blank_is_missing: bool = False) -> pd.Categorical:
    """Codes as a categorical whose categories are the codes present, sorted — what
    ``astype("category")`` gives for text, so every way of reading agrees."""
    codes, uniques = _factorized(values)
    keep = uniques != "" if blank_is_missing else np.ones(len(uniques), dtype=bool)
    wanted = pd.Index(sorted(uniques[keep].tolist()), dtype="str")
    positions = wanted.get_indexer(uniques)
    positions[~keep] = -1
    # The codes in the categorical's own (smallest) dtype: at national scale an int64 copy of a
    # code column is hundreds of megabytes.
    narrow = np.min_scalar_type(-max(len(wanted), 1))
    mapped = np.append(positions, -1).astype(narrow)[codes]  # code -1 (missing) picks the appended -1
    return pd.Categorical.from_codes(mapped, categories=wanted)


def typed_column(values: Any, kind: ColumnKind, **options: Any) -> Any:
    """One column in the dtype analysis/schemas.py normalises to.

    ``int``: int64; ``id``: nullable Int64 where 0 means missing (the query COALESCEs NULL to 0);
    ``code``: :func:`sorted_categorical` (``''`` is missing when ``blank_is_missing``); ``text``: str; ``datetime``: naive UTC ``datetime64[ns]`` from a
    timestamp or ISO text; ``bool``: bool from a boolean or 0/1.
    """
    if kind == "int":
        return _as_numpy(values, "int64")
    if kind == "id":
        numbers = _as_numpy(values, "int64")
        return pd.arrays.IntegerArray(numbers, numbers == 0)
    if kind == "code":
        return sorted_categorical(values, **options)
    if kind == "text":
        return _as_strings(values).array
    if kind == "datetime":
        if isinstance(values, EncodedText):  # ISO text (SQLite): parse each distinct value once
            distinct = typed_column(values.values, "datetime")
            return distinct[values.codes] if len(distinct) else distinct
        if hasattr(values, "to_pandas"):
            values = values.to_pandas()
        moments = pd.to_datetime(pd.Series(values), utc=True, format="ISO8601")
        return moments.dt.tz_localize(None).astype("datetime64[ns]").to_numpy()
    if kind == "bool":
        return _as_numpy(values, "int64").astype(bool) if not _is_bool(values) else _as_numpy(values, "bool")
    raise ValueError(f"unknown column kind {kind!r}")


def _is_bool(values: Any) -> bool:
    if hasattr(values, "type"):
        return str(values.type) == "bool"
    return len(values) > 0 and isinstance(values[0], bool | np.bool_)
