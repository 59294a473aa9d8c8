"""The exporter's HTTP server: waitress with the bounds a production exporter needs, in one place for the CLI
and the tests.

waitress reads requests and writes responses on one asynchronous I/O loop, so an idle or slow client holds a
socket, never a thread; a complete request goes to a fixed pool of worker threads. On top of waitress this
module adds:

- ``max_connections`` (``--web.max-connections``, Prometheus' flag and default, 512): client connections
  served at once. Beyond it the server stops accepting and new connections wait in the kernel's listen
  backlog (``backlog``, the OS maximum ``net.core.somaxconn``) until one closes, as Prometheus' own limit does.
- ``idle_timeout`` (``--web.idle-timeout``): a connection with no request in progress (a keep-alive
  connection between requests, or one that never sent anything) is closed after this long.
- ``read_timeout`` (``--web.read-timeout``): a client that has started a request must have sent all of it
  (request line, headers, body) within this long, counted from its first byte, or it is disconnected. waitress
  itself has no such timeout: a client trickling one header byte at a time would otherwise keep its connection
  (and its share of ``max_connections``) forever.
- Requests are bounded in size: headers to ``MAX_REQUEST_HEADER_SIZE`` (431 beyond), bodies to
  ``MAX_REQUEST_BODY_SIZE`` (413 beyond).
- Self-metrics on the registry it is given: ``workflow_exporter_http_connections`` (open now),
  ``workflow_exporter_http_max_connections`` (the limit) and
  ``workflow_exporter_http_connections_closed_total{reason="idle_timeout"|"read_timeout"}``.
- A graceful stop: ``stop()`` (safe from a signal handler or any thread) stops accepting, lets requests in
  progress finish for up to ``SHUTDOWN_GRACE`` seconds, then closes every connection.

A request being served is never timed out here: ``/probe`` bounds its own run by the scrape timeout.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from waitress import wasyncore  # type: ignore[import-untyped]
from waitress.adjustments import Adjustments  # type: ignore[import-untyped]
from waitress.channel import HTTPChannel  # type: ignore[import-untyped]
from waitress.server import TcpWSGIServer  # type: ignore[import-untyped]
from waitress.task import ThreadedTaskDispatcher  # type: ignore[import-untyped]

from .app import DEFAULT_PROBE_MAX_CONCURRENCY

logger = logging.getLogger("exporter.http")

DEFAULT_MAX_CONNECTIONS = 512  # Prometheus' --web.max-connections default
DEFAULT_IDLE_TIMEOUT = 120.0  # seconds; waitress' channel_timeout default, longer than usual scrape intervals
DEFAULT_READ_TIMEOUT = 10.0  # seconds to send one whole request; Prometheus sends a few hundred bytes at once
# Worker threads beyond the /probe bound, so /metrics, the pages and /-/healthy answer while every probe slot
# is busy (and a /probe beyond the bound gets its 503 at once).
SPARE_THREADS = 4
MAX_REQUEST_HEADER_SIZE = 64 * 1024  # bytes; Prometheus' scrape requests carry well under 1 KiB of headers
MAX_REQUEST_BODY_SIZE = 1024 * 1024  # bytes; no endpoint takes a body today
SHUTDOWN_GRACE = 5.0  # seconds that requests in progress get to finish after stop()
CLOSE_REASONS = ("idle_timeout", "read_timeout")
_LOOP_TIMEOUT = 1.0  # seconds a poll() waits when nothing happens; bounds how late stop() and timeouts act
_SOMAXCONN = Path("/proc/sys/net/core/somaxconn")


def listen_backlog() -> int:
    """The OS maximum listen backlog (``net.core.somaxconn``, as Go's net package uses), else ``SOMAXCONN``."""
    with contextlib.suppress(OSError, ValueError):
        return max(int(_SOMAXCONN.read_text().strip()), 128)
    return socket.SOMAXCONN


def threads_for(probe_max_concurrency: int) -> int:
    """Worker threads for a /probe bound: one per probe slot plus ``SPARE_THREADS`` for everything else."""
    return probe_max_concurrency + SPARE_THREADS


@dataclass(frozen=True)
class ServerSettings:
    """The server's bounds; the defaults are the CLI's (durations in seconds, sizes in bytes)."""

    max_connections: int = DEFAULT_MAX_CONNECTIONS
    threads: int = threads_for(DEFAULT_PROBE_MAX_CONCURRENCY)
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    backlog: int = field(default_factory=listen_backlog)

    def __post_init__(self) -> None:
        counts = {"max_connections": self.max_connections, "threads": self.threads, "backlog": self.backlog}
        durations = {"idle_timeout": self.idle_timeout, "read_timeout": self.read_timeout}
        problems = [f"{name} must be at least 1, not {value}" for name, value in counts.items() if value < 1]
        problems += [f"{name} must be more than 0 s, not {value}" for name, value in durations.items() if value <= 0]
        if problems:
            raise ValueError("; ".join(problems))


class _Channel(HTTPChannel):
    """waitress' connection, remembering since when (``time.time()``) it has been reading an incomplete request."""

    reading_since: float | None = None

    def received(self, data: bytes) -> bool:
        before = self.request
        result: bool = super().received(data)
        if self.request is None:  # every request in the data was complete
            self.reading_since = None
        elif self.request is not before:  # a new request began in this data
            self.reading_since = time.time()
        return result


class _Listener(TcpWSGIServer):
    channel_class = _Channel
    owner: HTTPServer

    def maintenance(self, now: float) -> None:
        """Called by waitress every ``cleanup_interval`` (1 s) with ``time.time()``: apply both timeouts."""
        self.owner._expire(list(self.active_channels.values()), now)


class HTTPServer:
    """Serve a WSGI ``app`` on ``listen`` (``host:port``; an empty host is 127.0.0.1; port 0 picks a free one).

    ``serve_forever()`` runs the I/O loop in the calling thread until ``stop()``; ``settings`` bound it (see the
    module docstring). ``registry`` (optional) receives the ``workflow_exporter_http_*`` self-metrics. Raises
    ``OSError`` when the address cannot be bound and ``ValueError`` for an unusable address.
    """

    def __init__(
        self,
        app: Any,
        listen: str,
        settings: ServerSettings | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings or ServerSettings()
        host, _, port = listen.rpartition(":")
        if not port.isdigit():
            raise ValueError(f"listen address {listen!r} is not host:port")
        adjustments = Adjustments(
            listen=f"{host or '127.0.0.1'}:{port}",
            threads=self.settings.threads,
            backlog=self.settings.backlog,
            cleanup_interval=1,  # how often maintenance() runs, in whole seconds
            channel_timeout=max(1, round(self.settings.idle_timeout)),  # unused: _expire() applies the timeouts
            max_request_header_size=MAX_REQUEST_HEADER_SIZE,
            max_request_body_size=MAX_REQUEST_BODY_SIZE,
            ident="workflow-exporter",
            log_socket_errors=False,  # a client going away is not the exporter's problem
            asyncore_use_poll=True,  # select() stops at file descriptor 1024
        )
        # waitress warns on every request that waits for a thread: a burst would flood the log.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        self._map: dict[int, Any] = {}
        self._dispatcher = ThreadedTaskDispatcher()
        self._listeners: list[_Listener] = []
        try:
            for sockinfo in adjustments.listen:
                listener = _Listener(app, map=self._map, dispatcher=self._dispatcher, adj=adjustments,
                                     sockinfo=sockinfo)  # fmt: skip
                listener.owner = self
                self._listeners.append(listener)
        except BaseException:
            wasyncore.close_all(self._map, ignore_all=True)
            raise
        # waitress compares the whole socket map (listeners and their wake-up pipes too) with the limit.
        adjustments.connection_limit = self.settings.max_connections + len(self._map)
        self._dispatcher.set_thread_count(self.settings.threads)
        self._stopping = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self._closed_counts = dict.fromkeys(CLOSE_REASONS, 0)
        self._closed_total: Counter | None = None
        if registry is not None:
            self._register(registry)

    # --- addresses and state ------------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) of the first listening socket, the port resolved when 0 was asked for."""
        listener = self._listeners[0]
        return str(listener.effective_host), int(listener.effective_port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    @property
    def listen_sockets(self) -> list[socket.socket]:
        return [listener.socket for listener in self._listeners if listener.socket is not None]

    def open_connections(self) -> int:
        """Client connections open now (accepted and not yet closed)."""
        return sum(len(listener.active_channels) for listener in self._listeners)

    def worker_threads(self) -> tuple[int, int]:
        """(threads in the worker pool, threads among them serving a request now). A connection only takes a
        thread while a whole request is being served; reading, idling and writing happen on the I/O loop."""
        dispatcher = self._dispatcher
        with dispatcher.lock:
            return len(dispatcher.threads), max(0, dispatcher.active_count)

    def closed_by_timeout(self) -> dict[str, int]:
        """Connections the server closed, by reason (``CLOSE_REASONS``), since it started."""
        return dict(self._closed_counts)

    def _register(self, registry: CollectorRegistry) -> None:
        Gauge("workflow_exporter_http_connections", "Client connections open now.",
              registry=registry).set_function(lambda: float(self.open_connections()))  # fmt: skip
        Gauge("workflow_exporter_http_max_connections",
              "Client connections served at once (--web.max-connections); more wait in the listen backlog.",
              registry=registry).set(self.settings.max_connections)  # fmt: skip
        self._closed_total = Counter("workflow_exporter_http_connections_closed",
                                     "Connections the server closed: idle_timeout (--web.idle-timeout) or "
                                     "read_timeout (a request not sent in full within --web.read-timeout).",
                                     ["reason"], registry=registry)  # fmt: skip
        for reason in CLOSE_REASONS:
            self._closed_total.labels(reason)

    # --- timeouts -----------------------------------------------------------------------------------------

    def _expire(self, channels: Iterable[_Channel], now: float) -> None:
        for channel in channels:
            if channel.will_close or channel.requests:  # closing already, or a request is being served
                continue
            if channel.reading_since is not None:
                if now - channel.reading_since > self.settings.read_timeout:
                    self._close_channel(channel, "read_timeout")
            elif now - channel.last_activity > self.settings.idle_timeout:
                self._close_channel(channel, "idle_timeout")

    def _close_channel(self, channel: _Channel, reason: str) -> None:
        channel.will_close = True  # waitress closes it on the loop's next turn
        self._closed_counts[reason] += 1
        if self._closed_total is not None:
            self._closed_total.labels(reason).inc()

    # --- running and stopping -----------------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Run the I/O loop in this thread until ``stop()``; then drain and close everything."""
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=_LOOP_TIMEOUT, map=self._map, use_poll=True, count=1)
            self._drain(time.monotonic() + SHUTDOWN_GRACE)
        finally:
            self._close()

    def stop(self) -> None:
        """Ask ``serve_forever()`` to finish; returns at once. Safe from signal handlers and other threads."""
        self._stopping.set()
        with contextlib.suppress(OSError), self._lock:
            if not self._closed:
                self._listeners[0].trigger.pull_trigger()  # wakes the loop; takes no lock without a thunk

    def close(self) -> None:
        """Release the sockets and threads of a server whose ``serve_forever()`` never ran."""
        self._stopping.set()
        self._close()

    def _drain(self, deadline: float) -> None:
        for listener in self._listeners:  # stop accepting; the wake-up pipes stay for the workers
            listener.accepting = False
            wasyncore.dispatcher.close(listener)
        while time.monotonic() < deadline:
            busy = False
            for channel in list(self._map.values()):
                if isinstance(channel, _Channel) and not channel.will_close:
                    if channel.requests:
                        busy = True
                    else:
                        channel.will_close = True
            if not busy and not any(isinstance(channel, _Channel) for channel in self._map.values()):
                return
            wasyncore.loop(timeout=0.1, map=self._map, use_poll=True, count=1)
        logger.warning("stopping with requests still in progress after %.0f s", SHUTDOWN_GRACE)

    def _close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            wasyncore.close_all(self._map, ignore_all=True)
        self._dispatcher.shutdown(cancel_pending=True, timeout=1)
