"""A real deployment for tests and benchmarks: scripts/serve.sh (nginx in front of several app
processes) on a database made for it, stopped with SIGTERM afterwards."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "scripts" / "serve.sh"
START_LIMIT_SECONDS = 240
STOP_LIMIT_SECONDS = 30
PSEUDONYM_KEY = "serving-test-pseudonym-key-" + "s" * 32


def nginx_path() -> str | None:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found if Path(found).exists() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (the app processes' ports)."""
    for _attempt in range(50):
        first = free_port()
        if first + count > 65535:
            continue
        try:
            sockets = []
            for port in range(first, first + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return first
    raise RuntimeError("no run of free ports found")


def http_status(url: str, timeout: float = 5) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@dataclass
class Deployment:
    url: str
    database_url: str
    run_dir: Path
    process: subprocess.Popen
    workers: int
    first_worker_port: int

    def worker_pids(self) -> list[int]:
        return [int((self.run_dir / f"worker-{index}.pid").read_text()) for index in range(self.workers)]

    def worker_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.first_worker_port + index}"

    def connects(self) -> list[int]:
        """How many browser sessions each app process has accepted so far (Streamlit's counter)."""
        counts = []
        for index in range(self.workers):
            with urllib.request.urlopen(f"{self.worker_url(index)}/_stcore/metrics?families=session_events", timeout=10) as response:
                found = re.search(r'session_events_total\{type="connect"\} (\d+)', response.read().decode())
            counts.append(int(found.group(1)) if found else 0)
        return counts

    def log(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
                         for path in sorted(self.run_dir.glob("*.log")) if path.exists())

    def stop(self) -> int | None:
        """SIGTERM serve.sh (as an administrator or systemd would) and wait for it; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_LIMIT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def scratch_database(server_url: str) -> tuple[str, str]:
    """(admin URL, URL of a new empty database) on the PostgreSQL server of ``server_url``."""
    base = server_url.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0]
    name = f"roadmap_serve_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{base}/postgres", f"{base}/{name}"


def drop_database(admin_url: str, database_url: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database_url.rsplit("/", 1)[1].split("?")[0]}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def serve(database_url: str, run_dir: Path, *, workers: int = 2, **extra_env: str) -> Iterator[Deployment]:
    """scripts/serve.sh on free ports until the block ends; fails with its logs if it does not come up."""
    port, first_worker_port = free_port(), free_port_run(workers)
    env = {**os.environ, "ROADMAP_DATABASE_URL": database_url, "ROADMAP_WORKERS": str(workers), "ROADMAP_PORT": str(port),
           "ROADMAP_LISTEN_ADDRESS": "127.0.0.1", "ROADMAP_WORKER_PORT": str(first_worker_port),
           "ROADMAP_RUN_DIR": str(run_dir), "ROADMAP_PSEUDONYM_KEY": PSEUDONYM_KEY, "ROADMAP_DEV_LOGIN": "0", **extra_env}
    output = open(run_dir.parent / f"{run_dir.name}-serve.out", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(["bash", str(SERVE)], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                               start_new_session=True)
    deployment = Deployment(f"http://127.0.0.1:{port}", database_url, run_dir, process, workers, first_worker_port)
    try:
        deadline = time.monotonic() + START_LIMIT_SECONDS
        while http_status(f"{deployment.url}/_stcore/health") != 200 or not (run_dir / f"worker-{workers - 1}.pid").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                output.flush()
                raise RuntimeError(f"serve.sh did not come up (exit {process.poll()}):\n"
                                   f"{Path(output.name).read_text()[-3000:]}\n{deployment.log()}")
            time.sleep(0.5)
        yield deployment
    finally:
        deployment.stop()
        output.close()
