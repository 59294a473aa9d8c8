"""Outbound HTTP: carry the correlation ID to the services this request calls.

``propagation_headers()`` works with any client; ``CorrelationAdapter`` / ``correlated_session()`` do it for
``requests``. Headers a caller set explicitly are left alone.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

from .correlation import REQUEST_ID_HEADER, TRACEPARENT_HEADER, get_correlation_id, traceparent_for


def propagation_headers(correlation_id: str | None = None) -> dict[str, str]:
    """``X-Request-ID`` and ``traceparent`` for the current request (or the given ID); empty outside one."""
    cid = correlation_id or get_correlation_id()
    if not cid:
        return {}
    return {REQUEST_ID_HEADER: cid, TRACEPARENT_HEADER: traceparent_for(cid)}


class CorrelationAdapter(HTTPAdapter):
    """A requests transport adapter that adds the propagation headers to every request it sends."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        for name, value in propagation_headers().items():
            if name not in request.headers:
                request.headers[name] = value
        return super().send(request, *args, **kwargs)


def instrument_session(session: requests.Session, **adapter_kwargs: Any) -> requests.Session:
    """Mount a ``CorrelationAdapter`` for http:// and https:// on an existing session; returns it."""
    adapter = CorrelationAdapter(**adapter_kwargs)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def correlated_session(**adapter_kwargs: Any) -> requests.Session:
    """A new ``requests.Session`` that propagates the correlation ID."""
    return instrument_session(requests.Session(), **adapter_kwargs)
