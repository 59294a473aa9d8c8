"""A tiny HTTP target whose behaviour tests control: /ok answers JSON, /slow?s=N sleeps, /hang waits until
the test ends, /fail answers 500. It counts the hits per path."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Target:
    """A local HTTP server: /ok answers JSON, /slow?s=N sleeps, /hang waits until the test ends, /fail 500s."""

    server: ThreadingHTTPServer
    hits: dict[str, int] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def serve_target() -> Iterator[Target]:
    state: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            hits = state["target"].hits
            hits[path] = hits.get(path, 0) + 1
            if path == "/slow":
                time.sleep(float(self.path.split("s=")[1]))
            if path == "/hang":
                state["target"].release.wait(30)
            status = 500 if path == "/fail" else 200
            body = json.dumps({"ok": status == 200, "path": path, "html": "<script>alert(1)</script>"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
    server.request_queue_size = 1024  # socketserver's listen backlog of 5 drops connects under a burst of probes
    server.server_bind()
    server.server_activate()
    server.daemon_threads = True
    state["target"] = Target(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state["target"]
    finally:
        state["target"].release.set()
        server.shutdown()
        server.server_close()
