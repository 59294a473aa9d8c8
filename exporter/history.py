"""The last runs, for the landing page and the page of each run; bounded by count and by bytes.

A count alone does not bound memory: one run holding large response heads and bodies weighs megabytes while
another weighs a kilobyte. Each run is weighed once when it is added (``run_size``: the characters of every
string it holds plus a fixed cost per object) and the oldest runs go until both bounds hold. The newest run
always stays, whatever it weighs, so its page can be opened.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import fields, is_dataclass
from typing import Any

from synthetic.result import RunResult

DEFAULT_LIMIT = 200
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_OBJECT_COST = 64  # bytes: a rough cost of one Python object (a dataclass, a dict entry, a number)


def run_size(run: RunResult) -> int:
    """Approximate bytes a run holds: the length of every string and bytes value, plus ``_OBJECT_COST`` per
    object, dict entry and list item (iterative, so any nesting is safe)."""
    total = 0
    stack: list[Any] = [run]
    while stack:
        value = stack.pop()
        total += _OBJECT_COST
        if isinstance(value, str | bytes):
            total += len(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                stack += [key, item]
        elif isinstance(value, list | tuple | set | frozenset):
            stack.extend(value)
        elif is_dataclass(value) and not isinstance(value, type):
            stack.extend(getattr(value, field.name) for field in fields(value))
    return total


class RunHistory:
    """At most ``limit`` runs and about ``max_bytes`` of them (see ``run_size``), newest last; thread-safe."""

    def __init__(self, limit: int = DEFAULT_LIMIT, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.limit = limit
        self.max_bytes = max_bytes
        self._runs: OrderedDict[str, tuple[RunResult, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def add(self, run: RunResult) -> None:
        size = run_size(run)
        with self._lock:
            previous = self._runs.pop(run.correlation_id, None)
            if previous is not None:
                self._bytes -= previous[1]
            self._runs[run.correlation_id] = (run, size)
            self._bytes += size
            while len(self._runs) > 1 and (len(self._runs) > self.limit or self._bytes > self.max_bytes):
                _, (_, dropped) = self._runs.popitem(last=False)
                self._bytes -= dropped

    def get(self, correlation_id: str) -> RunResult | None:
        with self._lock:
            found = self._runs.get(correlation_id)
            return found[0] if found else None

    def recent(self) -> list[RunResult]:
        with self._lock:
            return [run for run, _ in reversed(self._runs.values())]

    @property
    def size_bytes(self) -> int:
        """The weight of the runs held now, as ``run_size`` counts it."""
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)
