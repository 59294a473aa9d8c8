"""Django's class-based views (``View.as_view()``): one endpoint per method the class implements. Who may call
is not evaluated (a plain view checks inside its handler); ``login_required`` is true when the class mixes in
LoginRequiredMixin, PermissionRequiredMixin or UserPassesTestMixin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._base import View, dotted
from ._urls import UrlEntry

STYLE = "django-view"
_IMPLICIT = frozenset({"head", "options", "trace"})


def matches(callback: Callable[..., Any]) -> bool:
    return isinstance(getattr(callback, "view_class", None), type)


def login_required(cls: type) -> bool:
    from django.contrib.auth.mixins import AccessMixin

    return issubclass(cls, AccessMixin)


def describe(entry: UrlEntry) -> list[View]:
    callback: Any = entry.callback
    cls = callback.view_class
    methods = [m.upper() for m in cls.http_method_names if m not in _IMPLICIT and hasattr(cls, m)]
    return [
        View(
            route=entry.route,
            method=method,
            view=dotted(cls),
            style=STYLE,
            name=entry.name,
            csrf_exempt=bool(getattr(callback, "csrf_exempt", False)),
            login_required=login_required(cls),
            callback=callback,
        )
        for method in methods
    ]
