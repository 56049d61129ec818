"""Which role may call which data function: the second line of defence after the navigation.

The navigation only offers a role its pages; the functions that read or change data check
the role again, so a page bug or a hand-made request cannot reach data the role may not see.

- :data:`PERMISSIONS` is the one table of permissions: action -> roles allowed.
- :func:`guarded` marks a storage function with the permission it needs; the function must
  take the database ``engine`` first and an ``actor`` keyword. With ``actor=None`` (an
  internal caller such as a loader) or a trusted actor (the command line) no check is made.
  Every guarded function is listed in :data:`GUARDED_FUNCTIONS`, so the role-matrix test
  finds functions added later without being edited.
- :func:`require_permission` does the check by hand (call it BEFORE opening your write
  transaction): a refusal is recorded as an ``access_refused`` audit event in its own
  transaction, then :class:`PermissionDenied` is raised.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine

from storage.db import write_session

ROLES = ("respondent", "facilitator", "lead", "admin")


@dataclass(frozen=True)
class Permission:
    roles: tuple[str, ...]
    description: str


PERMISSIONS: dict[str, Permission] = {
    # Catalogue (foundation).
    "catalogue.read": Permission(("facilitator", "lead", "admin"), "browse the technology catalogue"),
    "catalogue.edit": Permission(("lead",), "add, change and delete technologies; edit vocabularies"),
    "catalogue.import": Permission(("lead",), "import catalogue files"),
    "catalogue.export": Permission(("lead",), "export the whole catalogue"),
    # Surveys.
    "survey.respond": Permission(("respondent",), "fill in a survey while signed in"),
    "survey.own_submissions": Permission(("respondent",), "see one's own submissions"),
    "survey.manage": Permission(("lead",), "instruments and campaigns: create, import, change, close"),
    "survey.responses": Permission(("lead",), "read, import and export survey responses"),
    # Workshops: facilitators reach their own, leads all (ownership is checked by the workshop functions).
    "workshop.run": Permission(("facilitator", "lead"), "create and run workshops, see their results"),
    "workshop.all": Permission(("lead",), "see and manage every workshop"),
    # Analysis and publishing.
    "analysis.read": Permission(("lead",), "analysis, roadmap views and exports"),
    "case_study.manage": Permission(("lead",), "write and publish case studies"),
    # Administration.
    "users.manage": Permission(("admin",), "create users, change roles, reset passwords, disable and re-enable accounts"),
    "audit.read": Permission(("admin",), "read and export the audit trail"),
    "settings.manage": Permission(("admin",), "retention purge, erasure of a named person's data, database backups, settings"),
}


class PermissionDenied(PermissionError):
    """The actor's role may not do this. The refusal has been audited."""

    def __init__(self, role: str | None, action: str):
        self.role = role
        self.action = action
        allowed = ", ".join(PERMISSIONS[action].roles) if action in PERMISSIONS else "nobody"
        super().__init__(f"a {role or 'signed-out'} user may not {PERMISSIONS[action].description if action in PERMISSIONS else action} "
                         f"(allowed: {allowed})")


def is_allowed(role: str | None, action: str) -> bool:
    """Whether ``role`` may do ``action``; an unknown action is a programming error."""
    if action not in PERMISSIONS:
        raise KeyError(f"unknown permission {action!r}; add it to storage.permissions.PERMISSIONS")
    return role in PERMISSIONS[action].roles


def check_permission(identity_role: str | None, action: str) -> None:
    """Raise :class:`PermissionDenied` unless ``identity_role`` may do ``action`` (no audit: see
    :func:`require_permission` for the audited check)."""
    if not is_allowed(identity_role, action):
        raise PermissionDenied(identity_role, action)


def require_permission(engine: Engine, actor: Any, action: str, *, target: str = "") -> None:
    """Refuse ``actor`` (anything with ``user_id`` and ``role``) unless its role may do ``action``.

    None or a trusted actor passes. A refusal is audited (``access_refused``, outcome
    ``refused``) in its own transaction, so call this before opening yours.
    """
    if actor is None or getattr(actor, "trusted", False):
        if action not in PERMISSIONS:
            raise KeyError(f"unknown permission {action!r}")
        return
    if is_allowed(actor.role, action):
        return
    from storage.audit import record_audit

    with write_session(engine) as session:
        record_audit(session, actor, None, "access_refused", target, "refused", {"permission": action})
    raise PermissionDenied(actor.role, action)


@dataclass(frozen=True)
class GuardedFunction:
    action: str
    function: Callable[..., Any]
    name: str


GUARDED_FUNCTIONS: dict[str, GuardedFunction] = {}
F = TypeVar("F", bound=Callable[..., Any])


def guarded(action: str) -> Callable[[F], F]:
    """Decorate a data function ``f(engine, ..., actor=None)`` so it checks ``action`` first."""
    if action not in PERMISSIONS:
        raise KeyError(f"unknown permission {action!r}; add it to storage.permissions.PERMISSIONS")

    def decorate(function: F) -> F:
        signature = inspect.signature(function)
        parameters = list(signature.parameters)
        actor = signature.parameters.get("actor")
        if not parameters or parameters[0] != "engine" or actor is None or actor.kind is not inspect.Parameter.KEYWORD_ONLY:
            # Keyword-only, so the wrapper always sees who is acting.
            raise TypeError(f"{function.__qualname__}: a guarded function takes `engine` first and a keyword-only `actor`")
        name = f"{function.__module__}.{function.__qualname__}"

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            engine = args[0] if args else kwargs["engine"]
            require_permission(engine, kwargs.get("actor"), action, target=f"function:{name}")
            return function(*args, **kwargs)

        wrapper.__permission__ = action  # type: ignore[attr-defined]
        GUARDED_FUNCTIONS[name] = GuardedFunction(action, wrapper, name)
        return wrapper  # type: ignore[return-value]

    return decorate
