"""One redaction policy for every output of a run: pages, ``/probe?debug=true``, ``run``, curl lines, logs,
config problems, reload answers and the run history.

What is secret:

* **known values**: every credential but the username, the synthetic secret, the DSN and its password,
  the password in a URL's ``user:password@``, the values of target headers with secret-looking names, and the
  values of ``${env:NAME}`` variables with secret-looking names (``Target.secrets()``);
* **values by where they flow**: a variable extracted from a response is secret when its name looks secret
  (``access``, ``token``) or when a step sends it in a secret-looking header, query parameter or body field
  (``Authorization: Bearer ${access}`` makes ``access`` secret) — ``Workflow.secret_variables``;
* **by name**: headers, query parameters and ``key=value`` / ``"key": "value"`` pairs whose name matches
  ``SECRET_NAME`` (a pattern, not a fixed list: ``X-Api-Key``, ``X-Auth-Token``, ``access_token``, ``sessionid``…),
  ``user:password@`` in any URL, and ``Bearer``/``Basic`` credentials anywhere in text.

Known values shorter than ``MIN_SECRET_LENGTH`` are not searched for in text (they would mask ordinary words);
their names still are. Everything is replaced by ``[REDACTED]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass
from typing import Any

from django_integration.log import REDACTED, redact
from django_integration.log import redact_text as _redact_patterns

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "SECRET_NAME", "Redactor", "is_secret_name", "redact_headers",
           "redact_text", "redact_value"]  # fmt: skip

MIN_SECRET_LENGTH = 4
SECRET_NAME = re.compile(
    r"auth(?!or)|token|secret|passw|passwd|pwd|api[-_]?key|apikey|access[-_]?key|private[-_]?key|session|cookie|csrf|"
    r"xsrf|signature|credential|bearer|jwt|otp|x-synthetic|^access$|^refresh$|^sig$|^code$|(?:^|[-_.])keys?(?:$|[-_.])",
    re.IGNORECASE,
)
_USERINFO = re.compile(r"(?<=://)[^/?#@\s]+@")
_QUERY_PAIR = re.compile(r"(?<=[?&;])([^=&#\s\"']+)=([^&#\s\"']*)")
_JSON_PAIR = re.compile(r'"([^"\\]{1,100})"(\s*:\s*)"((?:[^"\\]|\\.)*)"')
_HEADER_PAIR = re.compile(r"(^|[\n'\"])([A-Za-z][A-Za-z0-9_-]{0,99}):[ \t]*([^\n'\"]+)")


def is_secret_name(name: str) -> bool:
    """Whether a header, parameter, field or variable name looks like it holds a secret."""
    return bool(SECRET_NAME.search(name))


class Redactor:
    """The policy above for one run (or one target): ``text``, ``url``, ``headers``, ``value`` and ``run``."""

    def __init__(self, secrets: Iterable[Any] = ()) -> None:
        self._values: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[Any]) -> None:
        """More known secret values (strings, or numbers as text); short ones are ignored, see the module doc."""
        found = {str(s) for s in secrets if s is not None and len(str(s)) >= MIN_SECRET_LENGTH}
        self._values = sorted(found | set(self._values), key=len, reverse=True)  # longest first: no partial leak

    def text(self, text: str) -> str:
        """Known values, userinfo, secret query parameters and ``key: value`` pairs masked."""
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        if "@" in text:
            text = _USERINFO.sub(f"{REDACTED}@", text)
        if "=" in text:
            text = _QUERY_PAIR.sub(
                lambda m: f"{m.group(1)}={REDACTED}" if is_secret_name(m.group(1)) and m.group(2) else m.group(0), text
            )
        if '":' in text or '" :' in text:  # JSON: "access_token": "..."
            text = _JSON_PAIR.sub(
                lambda m: f'"{m.group(1)}"{m.group(2)}"{REDACTED}"' if is_secret_name(m.group(1)) else m.group(0), text
            )
        if ":" in text:  # header lines: a curl line's -H 'X-Auth-Token: ...', a response head
            text = _HEADER_PAIR.sub(
                lambda m: f"{m.group(1)}{m.group(2)}: {REDACTED}" if is_secret_name(m.group(2)) else m.group(0), text
            )
        return _redact_patterns(text)

    def url(self, url: str) -> str:
        return self.text(url)

    def headers(self, headers: Mapping[str, Any]) -> dict[str, str]:
        """Secret-looking names masked whole; the other values through ``text``."""
        return {
            name: REDACTED if is_secret_name(name) and value not in (None, "") else self.text(str(value))
            for name, value in headers.items()
        }

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like value with secret-named keys and secret text masked."""
        cleaned = redact(value)
        if isinstance(cleaned, str):
            return self.text(cleaned)
        if isinstance(cleaned, Mapping):
            return {k: REDACTED if is_secret_name(str(k)) else self.value(v) for k, v in cleaned.items()}
        if isinstance(cleaned, list):
            return [self.value(v) for v in cleaned]
        return cleaned

    def apply(self, record: Any) -> None:
        """Redact, in place, every string of a dataclass record (a RunResult with its steps and exchanges)."""
        _apply(record, self, depth=0)


def _apply(record: Any, redactor: Redactor, depth: int) -> None:
    if depth > 8 or not is_dataclass(record) or isinstance(record, type):
        return
    for field in fields(record):
        value = getattr(record, field.name)
        if isinstance(value, str):
            setattr(record, field.name, redactor.text(value))
        elif field.name.endswith("headers") and isinstance(value, Mapping):
            setattr(record, field.name, redactor.headers(value))
        elif isinstance(value, dict):
            setattr(record, field.name, {k: _clean(v, redactor, depth) for k, v in value.items()})
        elif isinstance(value, list):
            setattr(record, field.name, [_clean(v, redactor, depth) for v in value])
        elif is_dataclass(value):
            _apply(value, redactor, depth + 1)


def _clean(value: Any, redactor: Redactor, depth: int) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        _apply(value, redactor, depth + 1)
        return value
    if isinstance(value, str):
        return redactor.text(value)
    return value


# --- the functions the steps call while recording ------------------------------------------------------------


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    return Redactor(secrets).text(text)


def redact_headers(headers: Mapping[str, str], secrets: Iterable[str] = ()) -> dict[str, str]:
    return Redactor(secrets).headers(headers)


def redact_value(value: object, secrets: Iterable[str] = ()) -> object:
    return Redactor(secrets).value(value)
