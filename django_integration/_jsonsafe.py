"""Any value a log record can carry, made into JSON that cannot fail to encode, bounded and redacted.

A logging call must never raise and never lose its line, whatever the application passes in ``extra``, as
``msg`` or as arguments. Every value becomes JSON's own types: ``str``, ``int``, finite ``float``, ``bool``,
``None``, ``list``, ``dict`` with ``str`` keys. On the way:

- text over ``MAX_TEXT`` characters is cut (``...[N more characters]``); containers are followed ``MAX_DEPTH``
  levels deep (``<nested deeper than N levels>``) and ``MAX_ITEMS`` items wide (``<N more items>``); all the
  text inside the containers of one line is bounded by ``MAX_LINE_TEXT`` (``<line size limit reached>``);
- a container met again inside itself becomes ``<circular reference>``;
- ``NaN`` and infinities (which JSON cannot hold) become ``"NaN"``, ``"Infinity"``, ``"-Infinity"``; an integer
  too big to print becomes ``<integer of N bits>``;
- keys that are not strings are written as JSON writes them (``1``, ``true``, ``null``) or as their text;
- tuples and sets become lists, bytes are decoded (undecodable bytes as ``\\xNN``), ``Decimal``, ``UUID``,
  dates and times, paths, lazy translation strings and any other object become their text, ``Enum`` members
  their value; an object whose ``str()`` and ``repr()`` both raise becomes ``<unrepresentable TypeName>``
  (counted as a formatting failure);
- every string is redacted **after** the value became text (``_redact``), and values under secret-looking
  keys are replaced whole.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import math
import uuid
from collections.abc import Mapping
from typing import Any

from ._redact import REDACTED, is_secret_key, redact_text

MAX_TEXT = 32_768
MAX_DEPTH = 8
MAX_ITEMS = 500
MAX_LINE_TEXT = 1_048_576
_BIG_INT_BITS = 10_000  # ~3000 digits: json prints up to Python's 4300-digit limit; stay well below it

CIRCULAR = "<circular reference>"
LINE_FULL = "<line size limit reached>"


def cut(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` shortened to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[{len(text) - limit} more characters]"


def safe_text(value: Any) -> tuple[str, bool]:
    """``(text, ok)``: ``str(value)``, else ``repr(value)``, else a marker with ``ok`` False."""
    try:
        return str(value), True
    except Exception:
        pass
    try:
        return repr(value), True
    except Exception:
        return f"<unrepresentable {type(value).__name__}>", False


def is_empty(value: Any) -> bool:
    """None, False or "": nothing to hide under a secret-looking key (compared by identity and type: an
    object's own ``__eq__`` may raise)."""
    return value is None or value is False or (value.__class__ is str and not value)


def float_value(value: float) -> float | str:
    """A float JSON can hold: finite ones as they are, the others as their usual names."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def int_value(value: int) -> int | str:
    if value.bit_length() > _BIG_INT_BITS:
        return f"<integer of {value.bit_length()} bits>"
    return value


def key_text(key: Any) -> str:
    """A mapping key as a JSON object key."""
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        converted = int_value(int(key))
        return converted if isinstance(converted, str) else str(converted)
    if isinstance(key, float):
        number = float_value(float(key))
        return number if isinstance(number, str) else repr(number)
    return redact_text(cut(safe_text(key)[0], 200))


class JsonSafe:
    """One line's worth of conversion: tracks the containers on the current path and the text budget.

    ``failures`` counts the objects that could not be turned into text at all.
    """

    __slots__ = ("_path", "budget", "failures")

    def __init__(self) -> None:
        self._path: set[int] = set()
        self.budget = MAX_LINE_TEXT
        self.failures = 0

    def text(self, value: str) -> str:
        if self.budget <= 0:
            return LINE_FULL
        value = cut(value, min(MAX_TEXT, self.budget))
        self.budget -= len(value)
        return redact_text(value)

    def value(self, value: Any, depth: int = 0) -> Any:
        """``value`` as JSON-safe data (see the module docstring)."""
        cls = value.__class__
        if cls is str:
            return self.text(value)
        if value is None or cls is bool:
            return value
        if cls is int:
            return int_value(value)
        if cls is float:
            return float_value(value)
        if isinstance(value, (Mapping, list, tuple, set, frozenset)):
            return self._container(value, depth)
        return self.text(self._as_text(value))

    def _as_text(self, value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, enum.Enum):
            return self._as_text(value.value) if not isinstance(value.value, enum.Enum) else value.name
        if isinstance(value, int):
            converted = int_value(int(value))
            return converted if isinstance(converted, str) else str(converted)
        if isinstance(value, float):
            number = float_value(float(value))
            return number if isinstance(number, str) else repr(number)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value[:MAX_TEXT]).decode("utf-8", "backslashreplace")
        if isinstance(value, (datetime.date, datetime.time)):
            return value.isoformat()
        if isinstance(value, (decimal.Decimal, uuid.UUID)):
            return str(value)
        text, ok = safe_text(value)
        if not ok:
            self.failures += 1
        return text

    def _container(self, value: Any, depth: int) -> Any:
        marker = id(value)
        if marker in self._path:
            return CIRCULAR
        if depth >= MAX_DEPTH:
            return f"<nested deeper than {MAX_DEPTH} levels>"
        self._path.add(marker)
        try:
            if isinstance(value, Mapping):
                return self._mapping(value, depth)
            items: list[Any] = []
            for index, item in enumerate(value):
                if index >= MAX_ITEMS:
                    items.append(f"<{len(value) - MAX_ITEMS} more items>")
                    break
                items.append(self.value(item, depth + 1))
            return items
        finally:
            self._path.discard(marker)

    def _mapping(self, value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= MAX_ITEMS:
                out["<truncated>"] = f"{len(value) - MAX_ITEMS} more keys"
                break
            name = key if key.__class__ is str else key_text(key)
            name = redact_text(cut(name, 200))
            if name in out:  # 1 and "1" are one JSON key: keep both values
                name = f"{name} ({type(key).__name__})"
            if is_secret_key(name) and not is_empty(item):
                out[name] = REDACTED
            else:
                out[name] = self.value(item, depth + 1)
        return out
