"""The background refresher: runs the checks in the serving process, off the request path and out of scrapes.

Opt-in (``WORKFLOW_EXPORTER['INTEGRITY_REFRESH']``). It starts in a daemon thread at the process' first request
(``request_started``; the receiver then disconnects itself, so later requests do not pay for it) and then, every
``poll`` seconds:

- it tries to become the leader: an exclusive, non-blocking ``fcntl.flock`` on ``<state dir>/integrity.lock``.
  Of the processes sharing the state directory (a gunicorn group: ``PROMETHEUS_MULTIPROC_DIR``, or a temp
  directory named after the settings module and the databases) at most one holds it, until it exits; the kernel
  drops a dead process' lock, and another worker takes over at its next poll;
- the leader runs the checks when ``INTEGRITY_REFRESH_INTERVAL_SECONDS`` have passed since the last run of the
  group (read from the results file, so a new leader does not run again at once), writes the results and the
  checks' state (where the foreign_keys scan continues) to ``<state dir>/integrity-results.json`` (a temp file
  renamed over it), closes its own connections and sets the gauges;
- every other process sets its gauges from that file when it changes, so whichever process answers a scrape
  reports the same values (with ``PROMETHEUS_MULTIPROC_DIR`` the ``mostrecent`` gauges make that automatic).

Nothing escapes the thread: a failed check is a result (``django_integrity_check_success`` 0), and an error of
the refresher itself is counted in ``django_integration_internal_errors_total{component="integrity"}`` and
logged once; the next poll tries again. Requests never wait for it and it never touches their connections
(Django's connections are per thread).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ._metrics import IntegrityMetrics, get_integrity_metrics
from ._runner import CheckResult, Options, run_checks

logger = logging.getLogger("django_integration.integrity")
RESULTS_FILE = "integrity-results.json"
LOCK_FILE = "integrity.lock"
FORMAT_VERSION = 1
MAX_POLL_SECONDS = 5.0


def default_state_dir() -> Path:
    """``INTEGRITY_STATE_DIR``, else ``PROMETHEUS_MULTIPROC_DIR`` (one per gunicorn group), else a temp directory
    named after the settings module and the databases (processes serving the same databases share it)."""
    from django.conf import settings

    from ..conf import app_settings

    if app_settings.integrity_state_dir:
        return Path(app_settings.integrity_state_dir)
    multiproc = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc:
        return Path(multiproc)
    databases = sorted(
        (alias, str(d.get("ENGINE")), str(d.get("NAME")), str(d.get("HOST")), str(d.get("PORT")))
        for alias, d in settings.DATABASES.items()
    )
    identity = json.dumps([os.environ.get("DJANGO_SETTINGS_MODULE", ""), databases])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"django-integration-integrity-{digest}"


class Refresher:
    """Runs ``options``' checks every ``interval_seconds`` in at most one process of those sharing ``state_dir``.

    ``tick()`` is one poll (tests call it directly); ``start()`` polls in a daemon thread every ``poll_seconds``
    (default: the interval, at most 5 s). ``run`` and ``clock`` (unix seconds) are parameters for tests.
    """

    def __init__(
        self,
        options: Options,
        interval_seconds: float,
        state_dir: Path,
        metrics: IntegrityMetrics | None = None,
        poll_seconds: float | None = None,
        run: Callable[..., list[CheckResult]] = run_checks,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self.interval = float(interval_seconds)
        self.state_dir = Path(state_dir)
        self.metrics = metrics
        self.poll = float(poll_seconds) if poll_seconds is not None else min(self.interval, MAX_POLL_SECONDS)
        self.run = run
        self.clock = clock
        self.leader = False
        self.runs = 0
        self._lock_fd: int | None = None
        self._exported: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def results_path(self) -> Path:
        return self.state_dir / RESULTS_FILE

    def start(self) -> Refresher:
        self._thread = threading.Thread(target=self._loop, name="django-integration-integrity", daemon=True)
        self._thread.start()
        logger.info(
            "integrity refresher started: every %gs, state in %s",
            self.interval,
            self.state_dir,
            extra={"pid": os.getpid(), "checks": list(self.options.checks)},
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.release()

    def release(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None
            self.leader = False

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as error:
                from .._failopen import report

                report("integrity", error)
            self._stop.wait(self.poll)

    def tick(self) -> None:
        """One poll: become the leader if possible; the leader runs what is due; everyone exports what is new."""
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.leader:
            self.leader = self._try_lock()
        shared = self._read()
        if self.leader and self._due(shared):
            shared = self._run(shared)
        self._export(shared)

    def _try_lock(self) -> bool:
        fd = os.open(self.state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            raise
        self._lock_fd = fd
        logger.info("integrity refresher: this process runs the checks", extra={"pid": os.getpid()})
        return True

    def _read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.results_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("version") == FORMAT_VERSION else None

    def _due(self, shared: Mapping[str, Any] | None) -> bool:
        if shared is None:
            return True
        return self.clock() >= float(shared.get("finished_at", 0)) + self.interval

    def _run(self, shared: Mapping[str, Any] | None) -> dict[str, Any]:
        from django.db import connections

        previous = dict(shared or {})
        started = float(previous.get("started", self.clock()))
        state: dict[str, Any] = dict(previous.get("state") or {})
        last_complete: dict[str, float] = dict(previous.get("last_complete") or {})
        try:
            results = self.run(self.options, state)
        finally:
            connections.close_all()  # this thread's own connections only
        for result in results:
            key = f"{result.check}:{result.alias}"
            state[key] = result.state
            if result.status == "ok":
                last_complete[key] = result.started_at + result.duration_seconds
        self.runs += 1
        data = {
            "version": FORMAT_VERSION,
            "pid": os.getpid(),
            "started": started,
            "finished_at": self.clock(),
            "interval": self.interval,
            "results": [{**result.to_dict(), "state": {}} for result in results],
            "state": state,
            "last_complete": last_complete,
        }
        self._write(data)
        return data

    def _write(self, data: Mapping[str, Any]) -> None:
        fd, temp = tempfile.mkstemp(prefix=".integrity-", dir=self.state_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.replace(temp, self.results_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def _export(self, shared: Mapping[str, Any] | None) -> None:
        if shared is None:
            return
        try:
            stat = self.results_path.stat()
            version = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            version = None
        if version is not None and version == self._exported:
            return
        results = [CheckResult.from_dict(item) for item in shared.get("results", [])]
        started = float(shared.get("started", self.clock()))
        last_complete = {f"{r.check}:{r.alias}": started for r in results}
        last_complete.update({k: float(v) for k, v in dict(shared.get("last_complete") or {}).items()})
        metrics = self.metrics or get_integrity_metrics()
        metrics.export(results, last_complete, float(shared.get("interval", self.interval)))
        self._exported = version


_refresher: Refresher | None = None
_start_lock = threading.Lock()


def start_refresher(**kwargs: Any) -> None:
    """``request_started`` receiver: start the refresher once, if ``INTEGRITY_REFRESH`` is on, then disconnect."""
    from django.core.signals import request_started

    global _refresher
    request_started.disconnect(dispatch_uid=DISPATCH_UID)
    try:
        from ..conf import app_settings

        with _start_lock:
            if _refresher is None and app_settings.integrity_refresh:
                _refresher = Refresher(
                    Options.from_settings(),
                    app_settings.integrity_refresh_interval_seconds,
                    default_state_dir(),
                ).start()
    except Exception as error:
        from .._failopen import report

        report("integrity", error)


DISPATCH_UID = "django_integration_integrity_refresher"
