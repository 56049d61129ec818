"""`roadmap user add|set-role|set-password|disable|enable|list` and `roadmap retention purge|erase`.

Passwords never appear on the command line (where `ps` and the shell history would show
them): they are read from standard input with ``--password-stdin`` or prompted for twice.
Every change is audited as actor "cli:<os user>" acting as an administrator.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from sqlalchemy import Engine

from storage.accounts import (
    Account,
    AccountError,
    create_user,
    disable_user,
    enable_user,
    list_users,
    reset_password,
    set_role,
)
from storage.audit import cli_actor
from storage.retention import (
    RetentionError,
    erase_person,
    purge_expired,
    retention_days,
)
from streamlit_app.commands.common import CommandError, Result, open_database, pseudonym_keys
from streamlit_app.commands.parsers import NO_ROLE


def _role(value: str) -> str | None:
    return None if value == NO_ROLE else value


def _account_change(args: argparse.Namespace, change: Callable[[Engine], Account]) -> Account:
    """Run one account change on the command's database; its problems become one error line."""
    engine = open_database(args)
    try:
        return change(engine)
    except AccountError as error:
        raise CommandError("; ".join(error.problems)) from None


def read_password(args: argparse.Namespace) -> str | None:
    """The new password: from stdin (first line), prompted twice, or None for --no-password."""
    if getattr(args, "no_password", False):
        return None
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n")
        if not password:
            raise CommandError("no password on standard input")
        return password
    if not sys.stdin.isatty():
        hint = " (or --no-password with --email for single sign-on)" if hasattr(args, "no_password") else ""
        raise CommandError(f"no terminal to prompt for the password: use --password-stdin{hint}")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat the password: "):
        raise CommandError("the two passwords differ")
    return first


def _account_data(account: Account) -> dict:
    return {"user_id": account.id, "username": account.username, "email": account.email, "role": account.role,
            "active": account.active, "has_password": account.has_password}


def user_add(args: argparse.Namespace) -> Result:
    password = read_password(args)
    account = _account_change(args, lambda engine: create_user(engine, args.name, _role(args.role), password=password,
                                                               email=args.email, display_name=args.display_name, actor=cli_actor()))
    return Result(_account_data(account), [f"created user {account.username} (role: {account.role or 'none'})"])


def user_set_role(args: argparse.Namespace) -> Result:
    account = _account_change(args, lambda engine: set_role(engine, args.name, _role(args.role), actor=cli_actor()))
    return Result(_account_data(account), [f"{account.username} now has role {account.role or 'none'}"])


def user_disable(args: argparse.Namespace) -> Result:
    account = _account_change(args, lambda engine: disable_user(engine, args.name, actor=cli_actor()))
    return Result(_account_data(account), [f"disabled {account.username}; their sessions have ended"])


def user_set_password(args: argparse.Namespace) -> Result:
    password = read_password(args)
    account = _account_change(args, lambda engine: reset_password(engine, args.name, password, actor=cli_actor()))
    return Result(_account_data(account), [f"new password set for {account.username}; lockout lifted, their sessions have ended"])


def user_enable(args: argparse.Namespace) -> Result:
    account = _account_change(args, lambda engine: enable_user(engine, args.name, actor=cli_actor()))
    return Result(_account_data(account), [f"enabled {account.username}; lockout lifted"])


def user_list(args: argparse.Namespace) -> Result:
    engine = open_database(args)
    frame = list_users(engine, actor=cli_actor())
    users = [
        {"user_id": int(row.user_id), "username": row.username, "display_name": row.display_name, "email": row.email,
         "role": row.role, "active": bool(row.active), "sign_in": row.sign_in,
         "last_sign_in_at": None if row.last_sign_in_at is None or str(row.last_sign_in_at) == "NaT" else row.last_sign_in_at.isoformat()}
        for row in frame.itertuples(index=False)
    ]
    lines = [f"{u['username']:<32} {u['role'] or 'none':<12} {'active' if u['active'] else 'disabled':<9} {u['sign_in']}" for u in users]
    return Result({"users": users}, lines or ["no users"])


def retention_purge(args: argparse.Namespace) -> Result:
    engine = open_database(args)
    try:
        days = retention_days(args.days)
        counts = purge_expired(engine, days, actor=cli_actor())
    except RetentionError as error:
        raise CommandError(str(error)) from None
    return Result({"days": days, "rows": counts}, [f"purged data older than {days} days: " + ", ".join(f"{k} {v}" for k, v in counts.items())])


def retention_erase(args: argparse.Namespace) -> Result:
    if not args.yes:
        raise CommandError("erasure cannot be undone: add --yes to confirm")
    keyring = pseudonym_keys()
    engine = open_database(args)
    try:
        counts = erase_person(engine, args.person, keyring=keyring, actor=cli_actor())
    except RetentionError as error:
        raise CommandError(str(error)) from None
    return Result({"rows": counts}, ["erased: " + ", ".join(f"{k} {v}" for k, v in counts.items())])
