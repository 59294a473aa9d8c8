"""The last runs, for the landing page and the page of each run; bounded so memory stays flat."""

from __future__ import annotations

import threading
from collections import OrderedDict

from synthetic.result import RunResult


class RunHistory:
    def __init__(self, limit: int = 200) -> None:
        self.limit = limit
        self._runs: OrderedDict[str, RunResult] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, run: RunResult) -> None:
        with self._lock:
            self._runs[run.correlation_id] = run
            self._runs.move_to_end(run.correlation_id)
            while len(self._runs) > self.limit:
                self._runs.popitem(last=False)

    def get(self, correlation_id: str) -> RunResult | None:
        with self._lock:
            return self._runs.get(correlation_id)

    def recent(self) -> list[RunResult]:
        with self._lock:
            return list(reversed(self._runs.values()))

    def __len__(self) -> int:
        return len(self._runs)
