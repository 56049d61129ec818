"""`roadmap user ...` and `roadmap retention ...`: JSON output, one-line errors, passwords never as arguments."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.db import make_engine, read_session
from storage.models.accounts import AuditEvent
from streamlit_app.cli import build_parser, main

PASSWORD = "plum orchard lantern 42"


def run(capsys, monkeypatch, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'users.db'}"


def test_user_lifecycle_with_json(capsys, monkeypatch, url: str) -> None:
    code, out, _ = run(capsys, monkeypatch, "user", "add", "Alice", "--role", "lead", "--password-stdin", "--json", "--database-url", url,
                       stdin=PASSWORD + "\n")
    assert code == 0
    assert json.loads(out) == {"ok": True, "user_id": 1, "username": "alice", "email": None, "role": "lead", "active": True, "has_password": True}
    code, out, _ = run(capsys, monkeypatch, "user", "add", "dana@nhs.net", "--role", "none", "--email", "dana@nhs.net", "--no-password",
                       "--database-url", url)
    assert code == 0 and out.strip() == "created user dana@nhs.net (role: none)"
    code, out, _ = run(capsys, monkeypatch, "user", "set-role", "dana@nhs.net", "facilitator", "--database-url", url)
    assert out.strip() == "dana@nhs.net now has role facilitator"
    code, out, _ = run(capsys, monkeypatch, "user", "disable", "alice", "--json", "--database-url", url)
    assert json.loads(out)["active"] is False
    code, out, _ = run(capsys, monkeypatch, "user", "list", "--json", "--database-url", url)
    users = json.loads(out)["users"]
    assert [(u["username"], u["role"], u["active"], u["sign_in"]) for u in users] == [
        ("alice", "lead", False, "password"), ("dana@nhs.net", "facilitator", True, "single sign-on")]
    with read_session(make_engine(url)) as session:
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert [e.action for e in events] == ["user_create", "user_create", "role_change", "user_disable"]
    assert all(e.actor.startswith("cli:") and e.role == "admin" for e in events)



def test_set_password_and_enable_from_the_command_line(capsys, monkeypatch, url: str) -> None:
    from storage.accounts import SignInRefused, sign_in

    run(capsys, monkeypatch, "user", "add", "alice", "--role", "lead", "--password-stdin", "--database-url", url, stdin=PASSWORD + "\n")
    run(capsys, monkeypatch, "user", "disable", "alice", "--database-url", url)
    code, out, _ = run(capsys, monkeypatch, "user", "set-password", "alice", "--password-stdin", "--database-url", url,
                       stdin="a brand new passphrase\n")
    assert code == 0 and out.strip() == "new password set for alice; lockout lifted, their sessions have ended"
    engine = make_engine(url)
    with pytest.raises(SignInRefused) as refused:
        sign_in(engine, "alice", "a brand new passphrase")
    assert refused.value.reason == "disabled", "a new password does not re-enable the account"
    code, out, _ = run(capsys, monkeypatch, "user", "enable", "alice", "--json", "--database-url", url)
    assert code == 0 and json.loads(out)["active"] is True
    assert sign_in(engine, "alice", "a brand new passphrase").account.username == "alice"
    with read_session(engine) as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).where(AuditEvent.actor.startswith("cli:")).order_by(AuditEvent.id))]
    assert actions == ["user_create", "user_disable", "password_reset", "user_enable"]


@pytest.mark.parametrize(("argv", "stdin", "message"), [
    (["user", "add", "bob", "--role", "lead", "--password-stdin"], "short\n", "at least 12 characters"),
    (["user", "add", "bob", "--role", "lead", "--password-stdin"], "", "no password on standard input"),
    (["user", "add", "bob", "--role", "lead"], "", "no terminal to prompt for the password"),
    (["user", "add", "bob", "--role", "lead", "--no-password"], "", "give a password (local sign-in) or an e-mail address"),
    (["user", "set-role", "nobody", "lead"], "", "no user named 'nobody'"),
    (["user", "disable", "nobody"], "", "no user named 'nobody'"),
    (["user", "enable", "nobody"], "", "no user named 'nobody'"),
    (["user", "set-password", "nobody", "--password-stdin"], "a brand new passphrase\n", "no user named 'nobody'"),
    (["user", "set-password", "bob", "--password-stdin"], "short\n", "at least 12 characters"),
    (["user", "set-password", "bob"], "", "no terminal to prompt for the password: use --password-stdin\n"),
    (["retention", "purge", "--days", "0"], "", "at least 1 day"),
    (["retention", "erase", "someone"], "", "add --yes to confirm"),
])
def test_failures_are_one_line_and_non_zero(capsys, monkeypatch, url: str, argv: list[str], stdin: str, message: str) -> None:
    code, out, err = run(capsys, monkeypatch, *argv, "--database-url", url, stdin=stdin)
    assert code == 1 and out == ""
    assert err.startswith("roadmap: ") and message in err and err.count("\n") == 1


def test_there_is_no_password_argument() -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["user", "add", "bob", "--role", "lead", "--password", PASSWORD])


def test_retention_purge_and_erase(capsys, monkeypatch, url: str) -> None:
    code, out, _ = run(capsys, monkeypatch, "retention", "purge", "--days", "30", "--json", "--database-url", url)
    result = json.loads(out)
    assert code == 0 and result["days"] == 30 and result["rows"]["accounts"] == 0
    run(capsys, monkeypatch, "user", "add", "carol", "--role", "respondent", "--password-stdin", "--database-url", url, stdin=PASSWORD)
    monkeypatch.setenv("ROADMAP_PSEUDONYM_KEY", "z" * 40)
    code, out, _ = run(capsys, monkeypatch, "retention", "erase", "carol", "--yes", "--json", "--database-url", url)
    assert code == 0 and json.loads(out)["rows"]["accounts"] == 1
    monkeypatch.delenv("ROADMAP_PSEUDONYM_KEY")
    monkeypatch.delenv("ROADMAP_DEV_LOGIN", raising=False)
    code, _, err = run(capsys, monkeypatch, "retention", "erase", "carol", "--yes", "--database-url", url)
    assert code == 1 and "ROADMAP_PSEUDONYM_KEY" in err
