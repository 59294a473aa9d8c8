"""Keep secrets off run pages, debug output and logs: by header name, by pattern, and by known value."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django_integration.log import REDACTED, redact
from django_integration.log import redact_text as _redact_patterns

SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "x-csrftoken", "proxy-authorization",
                            "x-synthetic", "x-api-key"})  # fmt: skip


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _redact_patterns(text)


def redact_headers(headers: Mapping[str, str], secrets: Iterable[str] = ()) -> dict[str, str]:
    secrets = list(secrets)
    return {
        name: REDACTED if name.lower() in SECRET_HEADERS else redact_text(str(value), secrets)
        for name, value in headers.items()
    }


def redact_value(value: object, secrets: Iterable[str] = ()) -> object:
    secrets = list(secrets)
    cleaned = redact(value)
    if isinstance(cleaned, str):
        return redact_text(cleaned, secrets)
    return cleaned
