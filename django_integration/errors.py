"""Error classes: a fixed, documented set used as the ``error_class`` label and log field.

======================  ===========================================================================
class                   what lands there
======================  ===========================================================================
``validation``          400, DRF ``ValidationError``/``ParseError``, Django ``ValidationError``
``authentication``      401, DRF ``NotAuthenticated``/``AuthenticationFailed``
``permission``          403, Django/DRF ``PermissionDenied``, CSRF failures
``not_found``           404, ``Http404``, ``ObjectDoesNotExist``
``conflict``            409, 412
``throttled``           429
``client``              any other 4xx (405, 413, 415, ...)
``db``                  a database error (``django.db.DatabaseError``)
``upstream``            an outbound call failed (``requests`` errors), 502
``timeout``             ``TimeoutError``, 504
``server``              any other exception or 5xx
======================  ===========================================================================
"""

from __future__ import annotations

ERROR_CLASSES = (
    "validation",
    "authentication",
    "permission",
    "not_found",
    "conflict",
    "throttled",
    "client",
    "db",
    "upstream",
    "timeout",
    "server",
)

_BY_STATUS = {
    400: "validation",
    401: "authentication",
    403: "permission",
    404: "not_found",
    409: "conflict",
    412: "conflict",
    429: "throttled",
    502: "upstream",
    504: "timeout",
}

_BY_EXCEPTION_NAME = {
    "ValidationError": "validation",
    "ParseError": "validation",
    "SuspiciousOperation": "validation",
    "BadRequest": "validation",
    "NotAuthenticated": "authentication",
    "AuthenticationFailed": "authentication",
    "PermissionDenied": "permission",
    "Http404": "not_found",
    "ObjectDoesNotExist": "not_found",
    "DoesNotExist": "not_found",
    "Throttled": "throttled",
    "TimeoutError": "timeout",
    "Timeout": "timeout",
    "ReadTimeout": "timeout",
    "ConnectTimeout": "timeout",
    "DatabaseError": "db",
    "RequestException": "upstream",
    "ConnectionError": "upstream",
}


def classify_exception(exception: BaseException) -> str:
    """The class of an exception, judged by its type and its base types (most specific first)."""
    for klass in type(exception).__mro__:
        found = _BY_EXCEPTION_NAME.get(klass.__name__)
        if found:
            return found
    return "server"


def classify_status(status: int) -> str | None:
    """The class of an HTTP status, or None for a success."""
    if status < 400:
        return None
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return "client" if status < 500 else "server"
