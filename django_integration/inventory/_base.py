"""What every part of the inventory shares: an endpoint's record, the signature of a view style, and the two
guards every evaluation runs under (an anonymous request, no statement that writes).

A view style is a module with ``STYLE`` (its name), ``matches(callback) -> bool`` and
``describe(entry) -> list[View]``: one ``View`` per method the pattern answers, holding what is known without
a request (the view, its action, authentication, throttles, serializer, CSRF) and an ``access`` function that
evaluates the effective permissions for an anonymous request of that method, the way Django REST framework
does when one arrives: ``get_permissions()``, then ``has_permission()`` of each. The static part is computed
once per process; ``access`` runs each time the inventory is read (a permission may depend on run-time state).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from django.db import connections, transaction

from ._urls import UrlEntry

__all__ = ["UNSAFE_METHODS", "Access", "Endpoint", "View", "ViewStyle", "dotted", "method_order", "no_writes",
           "sample_path"]  # fmt: skip

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Statements that read; anything else run while permissions are evaluated is refused (never sent).
_READS = re.compile(r"^\s*(?:/\*.*?\*/\s*)*(SELECT|WITH|SHOW|EXPLAIN|DESCRIBE|PRAGMA|SET\s+TRANSACTION)\b",
                    re.IGNORECASE | re.DOTALL)  # fmt: skip


@dataclass(frozen=True)
class Access:
    """The effective permissions for an anonymous request of one method: their class names, whether the request
    passes them (None: it cannot be told, e.g. a plain Django view), whether the view declares itself open
    (``AllowAny`` for it, or no authentication at all), and what went wrong evaluating them."""

    permissions: tuple[str, ...] = ()
    anonymous: bool | None = None
    public: bool = False
    note: str = ""


@dataclass(frozen=True)
class View:
    """One method of one URL pattern, as known without a request; ``access()`` evaluates its permissions."""

    route: str
    method: str
    view: str
    style: str
    action: str | None = None
    name: str | None = None
    authentication: tuple[str, ...] = ()
    throttles: tuple[str, ...] = ()
    serializer: str | None = None
    csrf_exempt: bool = False
    session_without_csrf: bool = False
    login_required: bool | None = None
    detail: bool | None = None  # a ViewSet's detail route (None: not a ViewSet route)
    callback: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    access: Callable[[], Access] = field(default=lambda: Access(), compare=False, repr=False)


@dataclass(frozen=True)
class Endpoint:
    """A row of the inventory (see the package docstring for each field); JSON-ready through ``as_dict``."""

    route: str
    method: str
    view: str
    style: str
    action: str | None
    name: str | None
    authentication: tuple[str, ...]
    permissions: tuple[str, ...]
    anonymous: bool | None
    public: bool
    throttles: tuple[str, ...]
    serializer: str | None
    request_fields: tuple[str, ...] | None
    response_fields: tuple[str, ...] | None
    csrf_exempt: bool
    session_without_csrf: bool
    login_required: bool | None
    in_schema: str  # yes, no, excluded (by the view itself), n/a (not an API view, or no generator installed)
    detail: bool | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {name: list(value) if isinstance(value, tuple) else value for name, value in self.__dict__.items()}

    def with_(self, **changes: Any) -> Endpoint:
        return replace(self, **changes)


class ViewStyle(Protocol):
    STYLE: str

    def matches(self, callback: Callable[..., Any]) -> bool: ...

    def describe(self, entry: UrlEntry) -> list[View]: ...


_ORDER = ("get", "post", "put", "patch", "delete", "head", "options", "trace")


def method_order(method: str) -> int:
    """Sort key: methods in the order routers and documents list them."""
    return _ORDER.index(method.lower()) if method.lower() in _ORDER else len(_ORDER)


def dotted(thing: Any) -> str:
    """``module.Qualname`` of a class or function (of an instance: of its class)."""
    named = isinstance(thing, type) or (callable(thing) and hasattr(thing, "__qualname__"))
    target = thing if named else type(thing)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"


def sample_path(route: str) -> str:
    """A path a request to the route could have (values of its parameters made up): for building the request
    permissions are evaluated with, which they rarely read."""
    path = re.sub(r"<[^>]+>", "1", route)
    path = re.sub(r"\(\?P<[^>]+>[^)]*\)", "1", path)
    path = path.lstrip("^").rstrip("$").replace("\\", "")
    return "/" + path


def _refuse_writes(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
    if not _READS.match(sql):
        raise PermissionError("the API inventory refused a statement that is not a read while evaluating permissions")
    return execute(sql, params, many, context)


@contextlib.contextmanager
def no_writes() -> Iterator[None]:
    """Every database connection of this thread refuses statements that are not reads (none is opened). Inside
    a transaction (ATOMIC_REQUESTS, a test) a savepoint holds the refusal, so the transaction goes on."""
    with contextlib.ExitStack() as stack:
        for alias in connections:
            connection = connections[alias]
            if connection.in_atomic_block:
                stack.enter_context(transaction.atomic(using=alias))
            stack.enter_context(connection.execute_wrapper(_refuse_writes))
        yield
