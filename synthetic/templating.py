"""``${name}`` variables: found at load time (so an undefined one is a config error), filled in at run time.

``${var}`` alone in a string keeps the variable's type (a number stays a number in a JSON body); inside a
longer string it is formatted with ``str``. ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_.\-]*)\}")


class UndefinedVariable(KeyError):
    """A ``${name}`` with no value at run time (e.g. a teardown after the step that extracts it failed)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"variable ${{{self.name}}} has no value"


def references(value: Any) -> Iterator[str]:
    """Every variable name referenced anywhere in a YAML value (strings, lists, mappings, keys too)."""
    if isinstance(value, str):
        for match in _REFERENCE.finditer(value):
            if match.group(1):
                yield match.group(1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from references(key)
            yield from references(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from references(item)


def render(value: Any, variables: Mapping[str, Any]) -> Any:
    """A copy of ``value`` with every ``${name}`` replaced; raises UndefinedVariable."""
    if isinstance(value, str):
        return _render_string(value, variables)
    if isinstance(value, Mapping):
        return {render(key, variables): render(item, variables) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [render(item, variables) for item in value]
    return value


def _lookup(name: str, variables: Mapping[str, Any]) -> Any:
    if name not in variables:
        raise UndefinedVariable(name)
    return variables[name]


def _render_string(text: str, variables: Mapping[str, Any]) -> Any:
    whole = _REFERENCE.fullmatch(text)
    if whole and whole.group(1):
        return _lookup(whole.group(1), variables)

    def substitute(match: re.Match[str]) -> str:
        if not match.group(1):
            return "${"
        value = _lookup(match.group(1), variables)
        return "" if value is None else str(value)

    return _REFERENCE.sub(substitute, text)
