"""What counts as a secret in a log line, and how it is masked (``[REDACTED]``).

By name: a mapping's value whose key looks secret (``authorization``, ``cookie``, ``password``, ``token``,
``secret``, ``api_key``, ``session``, ``csrf``, ``signature``, ``credential``, ``jwt``, ``access``,
``refresh`` …) is replaced whole, whatever its type.

In text, which is where every value ends up before it is written (a request object, an exception, a header, a
query string become text first, see ``_jsonsafe``):

- ``name=value``, ``name: value``, ``"name": "value"`` pairs whose name looks secret (``password=…``,
  ``access_token=…``, ``X-Api-Key: …``, ``Cookie: …``);
- in a query string (after ``?``, ``&`` or ``;``) also the short names OAuth and signed URLs use: ``code``,
  ``sig``, ``key``, ``otp``, ``pin``, ``ticket``, ``auth``, ``pass``, ``pw``;
- ``Bearer …`` / ``Basic …`` credentials anywhere;
- the password of ``scheme://user:password@host``.

Paths are not judged (``/reset/<token>/`` cannot be told from ``/products/<slug>/`` by its text); the request
line of the integration carries the route template, never the path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"

_SECRET_KEY = re.compile(
    r"authorization|cookie|passw(?:or)?d|pwd|passphrase|secret|token|api[-_]?key|apikey|access[-_]?key|"
    r"private[-_]?key|csrf|xsrf|session|signature|credential|jwt|refresh|access(?!-control)",
    re.I,
)
# Too short or too common to look for inside other names, but unmistakable as a query parameter.
_SECRET_QUERY_NAMES = frozenset({"code", "sig", "key", "otp", "pin", "ticket", "auth", "pass", "pw"})
# Our own fields whose names merely contain a secret-looking word.
_NOT_SECRET_KEYS = frozenset({"correlation_id", "db_queries", "db_ms", "duration_ms", "logger", "layer"})

_PAIR = re.compile(
    r"(?P<lead>[?&;]?)(?P<name>[A-Za-z_][A-Za-z0-9_.\-]{0,63})(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>(?:bearer\s+|basic\s+)?[^\s,;&#\"'<>]+)",
    re.I,
)
_BEARER = re.compile(r"\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*", re.I)
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^/?#@\s:]+:)[^/?#@\s]+@")

_secret_keys: dict[str, bool] = {}
# Short texts seen to hold nothing to redact (routes, methods, request-line messages repeat on every request).
_clean_texts: set[str] = set()
_CLEAN_TEXT_MAX = 200
_CLEAN_TEXTS_MAX = 4096


def is_secret_key(key: str) -> bool:
    """Whether a mapping key or field name looks like it holds a secret."""
    try:
        return _secret_keys[key]
    except KeyError:
        secret = (bool(_SECRET_KEY.search(key)) or key.lower() in _SECRET_QUERY_NAMES) and key not in _NOT_SECRET_KEYS
        if len(_secret_keys) < 10_000:  # keys mostly come from code, but stay bounded anyway
            _secret_keys[key] = secret
        return secret


def _mask_pair(match: re.Match[str]) -> str:
    name = match.group("name")
    lead = match.group("lead")
    if _SECRET_KEY.search(name) and name not in _NOT_SECRET_KEYS:
        return f"{lead}{name}{match.group('sep')}{REDACTED}"
    if lead and name.lower() in _SECRET_QUERY_NAMES and "=" in match.group("sep"):
        return f"{lead}{name}{match.group('sep')}{REDACTED}"
    return match.group(0)


def redact_text(text: str) -> str:
    """``text`` with inline credentials replaced (see the module docstring)."""
    if text in _clean_texts:
        return text
    if "=" not in text and ":" not in text and " " not in text:
        return text  # nothing that can hold an inline credential; the common case for short values
    redacted = text
    if "@" in redacted:
        redacted = _USERINFO.sub(lambda m: f"{m.group('head')}{REDACTED}@", redacted)
    redacted = _PAIR.sub(_mask_pair, redacted)
    redacted = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", redacted)
    if redacted is text or redacted == text:
        if len(text) <= _CLEAN_TEXT_MAX:
            if len(_clean_texts) >= _CLEAN_TEXTS_MAX:
                _clean_texts.clear()  # start over rather than keep what happened to come first
            _clean_texts.add(text)
        return text
    return redacted


def redact(value: Any, key: str = "", _depth: int = 0) -> Any:
    """A copy of a JSON-like ``value`` with secret-looking keys' values and inline credentials replaced.

    Mappings, lists and tuples are followed 32 levels deep (a reference cycle stops there too); deeper
    containers become ``"[REDACTED: nested too deeply]"``. For a log line, the formatter does more (every
    value made JSON-safe, bounded, then redacted as text); this is the helper for JSON-like data.
    """
    if key and is_secret_key(key):
        empty = value is None or value is False or (value.__class__ is str and not value)
        return value if empty else REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, (Mapping, list, tuple)):
        if _depth >= 32:
            return f"{REDACTED}: nested too deeply"
        if isinstance(value, Mapping):
            return {k: redact(v, str(k), _depth + 1) for k, v in value.items()}
        return [redact(v, "", _depth + 1) for v in value]
    return value
