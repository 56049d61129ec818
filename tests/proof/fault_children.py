"""Child processes for the fault tests: each does real work against a database and reports on
stdout (flushed line by line) how far it got, so the test can SIGKILL it at the right moment.

    python -m tests.proof.fault_children submit DATABASE_URL [--writers 4]
        prints "started", then the idempotency key of every submission once it has committed.
    python -m tests.proof.fault_children import DATABASE_URL --rows 20000
        prints "started", then "writing" once the import transaction has written its first chunk.
"""

from __future__ import annotations

import argparse
import sys
import threading

from scripts.bench_catalogue import make_file
from storage.catalogue_io import import_catalogue
from storage.db import make_engine
from storage.migrate import upgrade_to_head
from tests.proof.submission_load import prepare_target, submit_until_stopped

_print_lock = threading.Lock()


def report(line: str) -> None:
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def submit(url: str, writers: int) -> None:
    engine = make_engine(url)
    upgrade_to_head(engine)
    target = prepare_target(engine)
    report("started")
    submit_until_stopped(engine, target, writers=writers, acknowledge=report)


def import_file(url: str, rows: int) -> None:
    engine = make_engine(url)
    data = make_file(rows)
    report("started")
    announced = threading.Event()

    def progress(done: int, total: int) -> None:
        # The import reports planning as the first half of ``total`` and writing as the second.
        if done > total // 2 and not announced.is_set():
            announced.set()
            report("writing")

    import_catalogue(engine, data, progress=progress)
    report("finished")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    submit_parser = commands.add_parser("submit")
    submit_parser.add_argument("url")
    submit_parser.add_argument("--writers", type=int, default=4)
    import_parser = commands.add_parser("import")
    import_parser.add_argument("url")
    import_parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args(argv)
    if args.command == "submit":
        submit(args.url, args.writers)
    else:
        import_file(args.url, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
