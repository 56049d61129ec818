"""Child process that reads a SQLite database through ADBC and writes Arrow streams to stdout.

The ADBC SQLite driver links its own copy of SQLite. Two copies of SQLite in one process must
not open the same database file: closing a file in one copy drops the POSIX locks the other
holds (https://www.sqlite.org/howtocorrupt.html, "multiple copies of SQLite"), which shows up as
"disk I/O error" in WAL mode and can corrupt reads. The app's own connections use Python's
``sqlite3``, so the ADBC reads run here, in a process that opens the file with nothing else.

Protocol: ``python -m storage.sqlite_arrow_reader PATH BUSY_TIMEOUT_MS BATCH_ROWS``; each line on
stdin is one SQL query; for each, one Arrow IPC stream is written to stdout (an error ends the
process with the message on stderr). All queries run in one read transaction (one snapshot).
Only pyarrow and the driver are imported, to start fast.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    import adbc_driver_sqlite.dbapi as dbapi
    import pyarrow as pa

    path, busy_timeout_ms, batch_rows = argv[0], int(argv[1]), int(argv[2])
    connection = dbapi.connect(path)  # autocommit off: one transaction for every query below
    cursor = connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
    out = sys.stdout.buffer
    for line in sys.stdin:
        sql = line.strip()
        if not sql:
            continue
        cursor.execute(sql)
        reader = cursor.fetch_record_batch()
        with pa.ipc.new_stream(out, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
        out.flush()
    connection.rollback()
    connection.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
