"""A circuit breaker per target: stop hammering a target that refuses connections, then try it again.

After ``failures`` consecutive connection-level failures (dns, connect, tls, timeout) the circuit opens and
runs are skipped with reason ``circuit_open`` for ``cooldown`` seconds; then one trial run is let through
(half-open). Its success closes the circuit, its failure opens it for another cool-down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CONNECTION_REASONS = frozenset({"dns", "connect", "tls", "timeout"})


class CircuitBreaker:
    def __init__(self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures_to_open = failures
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._opened_at is not None

    def allow(self) -> bool:
        """May a run start now? In the half-open state only one trial run is allowed at a time."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._clock() - self._opened_at < self.cooldown or self._trial_running:
                return False
            self._trial_running = True
            return True

    def record(self, reason: str | None) -> None:
        """Feed the outcome of a run: its failure reason, or None for a success."""
        with self._lock:
            trial, self._trial_running = self._trial_running, False
            if reason is None or reason not in CONNECTION_REASONS:
                self._consecutive = 0
                self._opened_at = None
                return
            self._consecutive += 1
            if trial or self._consecutive >= self.failures_to_open:
                self._opened_at = self._clock()
