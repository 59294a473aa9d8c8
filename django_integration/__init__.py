"""Django app: correlation IDs through logs, HTTP and SQL, and per-route metrics with exemplars.

Public API::

    get_correlation_id()          the current request's ID (None outside a request)
    propagation_headers()         X-Request-ID and traceparent for any outbound client
    correlated_session()          a requests.Session that adds them
    instrument_session(session)   the same for a session you already have
    logging_config(base=LOGGING)  a LOGGING dict: JSON lines with the correlation ID, merged into yours
"""

from .correlation import get_correlation_id
from .http import correlated_session, instrument_session, propagation_headers
from .log import logging_config

__all__ = [
    "correlated_session",
    "get_correlation_id",
    "instrument_session",
    "logging_config",
    "propagation_headers",
]
