"""Config errors: every problem in a file at once, each naming the file and where in it.

* ConfigError(ValueError)     the file cannot be used; ``.problems`` lists every reason
* did_you_mean(word, known)   the closest known name, for "unknown ..." problems
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


class ConfigError(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass
class Problems:
    """Collects problems while a file is read; ``where`` is the file plus a readable location."""

    path: str
    found: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        location = f"{self.path}: {where}" if where else self.path
        self.found.append(f"{location}: {_one_line(message)}")

    def raise_if_any(self) -> None:
        if self.found:
            raise ConfigError(self.found)


def _one_line(message: str) -> str:
    """One problem, one line: a multi-line message (JMESPath draws its expression and a '^' under it) is joined."""
    lines = (line.strip() for line in message.splitlines())
    return " ".join(line for line in lines if line.strip("^ "))


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known name, or ``""`` when nothing is close (difflib's ratio)."""
    close = difflib.get_close_matches(word, sorted(set(known)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown(what: str, name: str, known: Iterable[str]) -> str:
    """``unknown field 'x' (did you mean 'y'?)``, or with the list of known names when none is close."""
    names = sorted(set(map(str, known)))
    return f"unknown {what} {name!r}" + (did_you_mean(str(name), names) or f" (known: {', '.join(names)})")
