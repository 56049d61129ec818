"""The whole role matrix, enforced twice: every role x every page in navigation.PAGES, and every
role x every guarded data function in storage.permissions. Pages and functions added later are
picked up from PAGES and GUARDED_FUNCTIONS without editing this file."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

import storage
from storage.audit import Actor
from storage.db import make_engine, read_session
from storage.demo import load_demo_catalogue
from storage.models.accounts import AuditEvent
from storage.permissions import (
    GUARDED_FUNCTIONS,
    PERMISSIONS,
    ROLES,
    PermissionDenied,
    check_permission,
    is_allowed,
)
from streamlit_app.navigation import ANONYMOUS, PAGES
from tests.ui.helpers import APP, open_app, prepare_environment

VIEWS = Path(APP).parent / "views"
PRINCIPALS = (None, *ROLES)  # None = not signed in


def _load_every_storage_module() -> None:
    """Import all of storage so every @guarded function registers itself."""
    for module in pkgutil.walk_packages(storage.__path__, "storage."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)


_load_every_storage_module()


@pytest.fixture
def app_url(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    engine = make_engine(sqlite_url)
    load_demo_catalogue(engine, count=20)
    engine.dispose()
    prepare_environment(monkeypatch, sqlite_url)
    return sqlite_url


def refusals(url: str) -> int:
    with read_session(make_engine(url)) as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "access_refused"))


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p or ANONYMOUS)
def test_every_page_is_offered_exactly_to_its_roles(app_url: str, principal: str | None) -> None:
    role = principal or ANONYMOUS
    for spec in PAGES:
        at = open_app(principal)
        if role in spec.roles:
            at.switch_page(f"views/{spec.file}")
            at.run()
            assert not at.exception, (spec.file, role, [e.message for e in at.exception])
            assert "You do not have access to this page." not in [e.value for e in at.error], (spec.file, role)
        else:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(f"views/{spec.file}")


@pytest.mark.parametrize("spec", [s for s in PAGES if ANONYMOUS not in s.roles], ids=lambda s: s.file)
def test_a_page_run_directly_refuses_other_roles_and_audits_it(app_url: str, spec) -> None:
    """Second line of defence: a page reached without the navigation still checks the role."""
    refused_role = next(p for p in PRINCIPALS if (p or ANONYMOUS) not in spec.roles)
    before = refusals(app_url)
    at = AppTest.from_file(str(VIEWS / spec.file), default_timeout=60)
    if refused_role:
        at.session_state["dev_role"] = refused_role
    at.run()
    assert [e.value for e in at.error] == ["You do not have access to this page."]
    assert refusals(app_url) == before + 1


def _sentinel_arguments(function) -> tuple[list, dict]:
    """Placeholder values for every required parameter after `engine` (the check must come first)."""
    wrapped = inspect.unwrap(function)
    args, kwargs = [], {}
    for name, parameter in list(inspect.signature(wrapped).parameters.items())[1:]:
        if name == "actor" or parameter.default is not inspect.Parameter.empty:
            continue
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[name] = object()
        elif parameter.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            args.append(object())
    return args, kwargs


def test_the_guarded_functions_include_the_catalogue_and_accounts() -> None:
    expected = {"storage.catalogue.create_technology", "storage.catalogue.update_technology", "storage.catalogue.delete_technology",
                "storage.catalogue_io.import_catalogue", "storage.catalogue_io.export_frame", "storage.accounts.create_user",
                "storage.accounts.set_role", "storage.accounts.disable_user", "storage.accounts.list_users", "storage.audit.audit_frame",
                "storage.retention.purge_expired", "storage.retention.erase_person"}
    assert expected <= set(GUARDED_FUNCTIONS)
    assert {g.action for g in GUARDED_FUNCTIONS.values()} <= set(PERMISSIONS)


@pytest.mark.parametrize("name", sorted(GUARDED_FUNCTIONS))
def test_every_guarded_function_allows_or_refuses_each_role(engine, name: str) -> None:
    guarded = GUARDED_FUNCTIONS[name]
    args, kwargs = _sentinel_arguments(guarded.function)
    for role in ROLES:
        actor = Actor("user:424242", role)
        if is_allowed(role, guarded.action):
            try:
                guarded.function(engine, *args, actor=actor, **kwargs)
            except PermissionDenied:  # pragma: no cover - the failure being tested for
                pytest.fail(f"{name} refused {role}, which {guarded.action} allows")
            except Exception:  # noqa: BLE001, S110 - placeholder arguments may fail later, after the check passed
                pass
        else:
            with read_session(engine) as session:
                before = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "access_refused"))
            with pytest.raises(PermissionDenied):
                guarded.function(engine, *args, actor=actor, **kwargs)
            with read_session(engine) as session:
                event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
                after = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "access_refused"))
            assert after == before + 1
            assert (event.actor, event.role, event.target, event.details) == ("user:424242", role, f"function:{name}", {"permission": guarded.action})


def test_permission_table_by_hand() -> None:
    """Spot checks written out from the issue's role definitions."""
    assert is_allowed("lead", "catalogue.edit") and not is_allowed("admin", "catalogue.edit")
    assert is_allowed("admin", "users.manage") and not is_allowed("lead", "users.manage")
    assert is_allowed("admin", "audit.read") and not is_allowed("facilitator", "audit.read")
    assert is_allowed("facilitator", "workshop.run") and not is_allowed("facilitator", "workshop.all")
    assert is_allowed("respondent", "survey.own_submissions") and not is_allowed("respondent", "catalogue.read")
    assert not any(is_allowed(None, action) for action in PERMISSIONS)
    with pytest.raises(PermissionDenied, match="a respondent user may not create users"):
        check_permission("respondent", "users.manage")
    with pytest.raises(KeyError, match="unknown permission"):
        is_allowed("lead", "catalogue.teleport")
