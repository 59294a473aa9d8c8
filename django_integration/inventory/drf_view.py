"""Django REST framework APIViews (generic views included) and ``@api_view`` functions: one endpoint per
HTTP method the class implements (``@api_view`` makes a class with one handler per listed method)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ._base import View, dotted, method_order
from ._drf import build_view, declared, evaluate, serializer_of, session_without_csrf
from ._urls import UrlEntry

STYLE = "drf-view"
FUNCTION_STYLE = "drf-function"  # @api_view
_IMPLICIT = frozenset({"head", "options", "trace"})


def matches(callback: Callable[..., Any]) -> bool:
    from rest_framework.views import APIView

    cls = getattr(callback, "cls", None)
    return isinstance(cls, type) and issubclass(cls, APIView)


def describe(entry: UrlEntry) -> list[View]:
    callback: Any = entry.callback
    cls, initkwargs = callback.cls, dict(getattr(callback, "initkwargs", {}))
    # @api_view makes a class named WrappedAPIView whose __name__ and __module__ are the function's.
    function = cls.__qualname__ == "WrappedAPIView"
    name = f"{cls.__module__}.{cls.__name__}" if function else dotted(cls)
    authentication = declared(cls, "authentication_classes")
    views = []
    for http_method in sorted(cls.http_method_names, key=method_order):  # @api_view's is a set
        if http_method in _IMPLICIT or not hasattr(cls, http_method):
            continue
        method = http_method.upper()
        make = partial(build_view, cls, initkwargs, entry.route, method, entry.kwargs)
        try:
            serializer = serializer_of(make())
        except Exception:
            serializer = None
        views.append(View(
            route=entry.route, method=method, view=name, style=FUNCTION_STYLE if function else STYLE, name=entry.name,
            authentication=authentication, throttles=declared(cls, "throttle_classes"), serializer=serializer,
            csrf_exempt=session_without_csrf(cls), session_without_csrf=session_without_csrf(cls),
            callback=callback, access=partial(evaluate, make, authentication),
        ))  # fmt: skip
    return views
