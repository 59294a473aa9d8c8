"""Django REST framework ViewSets routed by a router (``as_view({"get": "list", ...})``): one endpoint per
method of the route's action map, with the action, the serializer of that action, and list or detail."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ._base import View, dotted
from ._drf import build_view, declared, evaluate, serializer_of, session_without_csrf
from ._urls import UrlEntry

STYLE = "drf-viewset"


def matches(callback: Callable[..., Any]) -> bool:
    return getattr(callback, "cls", None) is not None and isinstance(getattr(callback, "actions", None), dict)


def describe(entry: UrlEntry) -> list[View]:
    callback: Any = entry.callback
    cls, actions, initkwargs = callback.cls, dict(callback.actions), dict(getattr(callback, "initkwargs", {}))
    authentication = declared(cls, "authentication_classes")
    views = []
    for http_method, action in actions.items():
        method = http_method.upper()
        if method in ("HEAD", "OPTIONS"):
            continue
        make = partial(build_view, cls, initkwargs, entry.route, method, entry.kwargs, actions)
        try:
            serializer = serializer_of(make())
        except Exception:
            serializer = None
        views.append(View(
            route=entry.route, method=method, view=f"{dotted(cls)}.{action}", style=STYLE, action=action,
            name=entry.name, authentication=authentication, throttles=declared(cls, "throttle_classes"),
            serializer=serializer, csrf_exempt=session_without_csrf(cls),
            session_without_csrf=session_without_csrf(cls), detail=bool(initkwargs.get("detail", bool(entry.kwargs))),
            callback=callback, access=partial(evaluate, make, authentication),
        ))  # fmt: skip
    return views
