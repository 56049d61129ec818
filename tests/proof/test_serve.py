"""scripts/serve.sh: two app processes behind nginx on PostgreSQL carry a room of 40 pressing Save
at once (every rating stored once), keep each browser on one process by a cookie nginx sets, and
stop with everything they started on SIGTERM; and it refuses clearly what it cannot serve."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL
from tests.proof.serving import PSEUDONYM_KEY, ROOT, SERVE, drop_database, nginx_path, scratch_database, serve
from tests.proof.test_load_script import load_workshop

NO_NGINX = "nginx not found (install the Debian package 'nginx'; .ci/run does)"
needs_nginx = pytest.mark.skipif(nginx_path() is None, reason=NO_NGINX)
needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="serving several processes needs PostgreSQL: set ROADMAP_TEST_POSTGRES_URL")


def run_serve(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SERVE)], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "ROADMAP_PSEUDONYM_KEY": PSEUDONYM_KEY, "ROADMAP_DEV_LOGIN": "0", **env})


@pytest.mark.parametrize(("env", "message"), [
    ({"ROADMAP_NGINX": "/nonexistent/nginx"}, "nginx is not installed (looked for /nonexistent/nginx). Install the Debian package"),
    ({"ROADMAP_DATABASE_URL": "sqlite:///unused.db", "ROADMAP_WORKERS": "2"}, "2 processes need PostgreSQL"),
    ({"ROADMAP_DEV_LOGIN": "1"}, "ROADMAP_DEV_LOGIN is on"),
    ({"ROADMAP_WORKERS": "none"}, "ROADMAP_WORKERS must be a whole number"),
    ({"ROADMAP_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/roadmap"},
     "the database is unreachable or cannot be migrated"),
], ids=["no nginx", "sqlite with two processes", "development sign-in", "bad worker count", "database unreachable"])
def test_serve_refuses_what_it_cannot_serve_and_says_why(env: dict[str, str], message: str, tmp_path: Path):
    if "ROADMAP_NGINX" not in env and nginx_path() is None:
        pytest.skip(NO_NGINX)
    result = run_serve(ROADMAP_RUN_DIR=str(tmp_path / "run"), **env)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    if "unreachable" in message:
        assert "Connection refused" in result.stderr, "the line above names the reason"
        assert "nobody@127.0.0.1:9/roadmap" in result.stderr


@needs_nginx
@needs_postgres
def check_static_files_come_from_nginx(url: str) -> None:
    """The page's scripts, styles and fonts: as the app ships them, with the right types, compressed
    ahead of time and cacheable for good, from nginx (an app process sends neither header)."""
    import gzip
    import re

    import streamlit

    with urllib.request.urlopen(f"{url}/join", timeout=10) as response:
        page = response.read().decode()
    assets = set(re.findall(r'(?:src|href)="\./(static/[^"]+)"', page))
    script = next(asset for asset in sorted(assets) if asset.endswith(".js"))
    font = next(asset for asset in sorted(assets) if asset.endswith(".woff2"))
    shipped = Path(streamlit.__file__).parent / "static"
    for asset, media_type, compressed in ((script, "text/javascript", True), (font, "font/woff2", False)):
        request = urllib.request.Request(f"{url}/{asset}", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
            assert response.headers["Content-Type"] == media_type, asset
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable", asset
            assert (response.headers.get("Content-Encoding") == "gzip") is compressed, asset
        assert (gzip.decompress(body) if compressed else body) == (shipped / asset).read_bytes(), asset


def test_two_processes_behind_nginx_carry_forty_participants_saving_at_once(tmp_path: Path):
    admin_url, database_url = scratch_database(POSTGRES_URL)
    try:
        with serve(database_url, tmp_path / "run", workers=2) as deployment:
            with urllib.request.urlopen(f"{deployment.url}/_stcore/health", timeout=10) as response:
                assert response.status == 200
                cookies = response.headers.get_all("Set-Cookie") or []
                assert any(c.startswith("roadmap_route=") and "HttpOnly" in c for c in cookies), "nginx sets the affinity cookie"
            check_static_files_come_from_nginx(deployment.url)
            before = deployment.connects()
            report = load_workshop.run_load(participants=40, items=10, driver="websocket", saves=1, save_spread=0,
                                            database_url=database_url, timeout=240, workdir=tmp_path,
                                            url=deployment.url, server_pids=deployment.worker_pids())
            after = deployment.connects()
            pids = deployment.worker_pids()
        assert deployment.process.returncode == 0, "SIGTERM stops serve.sh cleanly"
        assert all(not Path(f"/proc/{pid}").exists() for pid in pids), "its app processes stopped with it"
        assert not (deployment.run_dir / "nginx.pid").exists() or not Path(
            f"/proc/{(deployment.run_dir / 'nginx.pid').read_text().strip()}").exists(), "and nginx"
    finally:
        drop_database(admin_url, database_url)
    assert report.errors == []
    assert report.verification == {"participants_with_ratings": 40, "ratings_expected": 400, "ratings_stored": 400,
                                   "duplicates": 0, "mismatches": [], "ok": True}
    assert report.save_latency_seconds["count"] == 40 and report.join_latency_seconds["count"] == 40
    assert report.server_processes == 2 and len(report.server_rss_mb["per_process_peak"]) == 2
    new_sessions = [b - a for a, b in zip(before, after, strict=True)]
    # Each participant's page and websocket went to one process, and the room was shared out.
    assert sum(new_sessions) == 40 and min(new_sessions) > 0, new_sessions
