"""Plain Django function views. Their methods come from ``require_http_methods`` (and ``require_GET``,
``require_POST``, ``require_safe``) when one wraps them, else ``*`` (any). ``login_required`` is true when
``login_required``, ``permission_required`` or ``user_passes_test`` wraps them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._base import View, dotted
from ._urls import UrlEntry

STYLE = "django-function"
MAX_WRAPPERS = 16


def matches(callback: Callable[..., Any]) -> bool:
    return callable(callback)


def _wrappers(callback: Callable[..., Any]) -> list[Callable[..., Any]]:
    chain: list[Callable[..., Any]] = []
    current: Any = callback
    while current is not None and len(chain) < MAX_WRAPPERS:
        chain.append(current)
        current = getattr(current, "__wrapped__", None)
    return chain


def _code_name(function: Callable[..., Any]) -> str:
    """Where a function was written (``require_http_methods.<locals>.decorator.<locals>.inner``): the code's own
    name, which ``functools.wraps`` does not overwrite."""
    return str(getattr(getattr(function, "__code__", None), "co_qualname", ""))


def methods_of(callback: Callable[..., Any]) -> list[str]:
    """The methods a ``require_http_methods`` wrapper lets through, else ``["*"]``."""
    for wrapper in _wrappers(callback):
        if not _code_name(wrapper).startswith("require_http_methods."):
            continue
        for cell in getattr(wrapper, "__closure__", None) or ():
            value = cell.cell_contents
            if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
                return sorted({v.upper() for v in value} - {"HEAD", "OPTIONS"}) or ["GET"]
    return ["*"]


def login_required(callback: Callable[..., Any]) -> bool:
    return any(_code_name(w).startswith("user_passes_test.") for w in _wrappers(callback))


def describe(entry: UrlEntry) -> list[View]:
    callback = entry.callback
    inner = _wrappers(callback)[-1]
    return [
        View(
            route=entry.route,
            method=method,
            view=dotted(inner),
            style=STYLE,
            name=entry.name,
            csrf_exempt=bool(getattr(callback, "csrf_exempt", False)),
            login_required=login_required(callback),
            callback=callback,
        )
        for method in methods_of(callback)
    ]
