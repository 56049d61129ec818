"""Many rows into one table, straight to the driver: PostgreSQL's COPY, SQLite's executemany.

An import of 100,000 survey responses writes millions of answer rows; SQLAlchemy's per-row
statement handling (on SQLite, one INSERT per row when ids must come back in order; on
PostgreSQL, rewriting a thousand-row INSERT for the driver) would cost more than the database's
own work. These functions work in the caller's transaction. Values go through each column's
type (JSON as text, SQLite's date-time format) exactly as SQLAlchemy would store them, and
driver errors are raised as SQLAlchemy's (``IntegrityError``, ``OperationalError``...), so
callers handle a duplicate key or an outage the usual way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.exc import DBAPIError


@contextmanager
def _driver_errors(connection: Connection, statement: str) -> Iterator[None]:
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as error:
        raise DBAPIError.instance(statement, None, error, dbapi_error) from error


def _stored_forms(connection: Connection, table: Table, columns: Sequence[str],
                  rows: Sequence[Sequence[Any]]) -> Sequence[Sequence[Any]]:
    """Rows with each value converted by its column type's bind processor, where it has one."""
    dialect = connection.dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    if not any(processors):
        return rows
    return [tuple(value if process is None or value is None else process(value) for process, value in zip(processors, row))
            for row in rows]


def insert_rows(connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` (values in the order of ``columns``) into ``table``."""
    if not rows:
        return
    rows = _stored_forms(connection, table, columns, rows)
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        statement = f"COPY {table.name} ({names}) FROM STDIN"
        with _driver_errors(connection, statement):
            cursor = connection.connection.driver_connection.cursor()
            with cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        return
    placeholders = ", ".join("?" for _ in columns)
    connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({placeholders})", list(rows))


@contextmanager
def large_write(connection: Connection, cache_kib: int = 65_536) -> Iterator[None]:
    """Give SQLite a larger page cache while one transaction writes a great many rows (its default
    2 MB makes every index insert go back to the file); PostgreSQL needs nothing."""
    if connection.dialect.name != "sqlite":
        yield
        return
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size={-cache_kib}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(previous)}")


def reserve_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """``count`` unused values for ``table``'s integer ``id``, to insert rows whose ids are known.

    PostgreSQL takes them from the column's sequence. On SQLite they follow the highest id, which
    is safe because a write transaction there holds the database's write lock (``BEGIN IMMEDIATE``)
    and SQLite itself numbers new rows the same way.
    """
    if connection.dialect.name == "postgresql":
        query = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)")
        return list(connection.execute(query, {"table": table.name, "count": count}).scalars())
    highest = connection.execute(select(func.max(table.c.id))).scalar() or 0
    return list(range(highest + 1, highest + 1 + count))
