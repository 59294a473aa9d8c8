"""A real Alertmanager (single node, fast grouping) and a webhook receiver that records what it is sent."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml

from .processes import ManagedProcess, free_port, require_binary, wait_until


@dataclass
class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that stores every JSON body POSTed to it."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    payloads: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    @classmethod
    def start(cls) -> WebhookReceiver:
        payloads: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payloads.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        return cls(server=server, thread=thread, payloads=payloads)

    def wait_for_alert(self, alertname: str, timeout: float = 30.0) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for payload in self.payloads:
                for alert in payload.get("alerts", []):
                    if alert["labels"].get("alertname") == alertname:
                        return payload
            return None

        return wait_until(find, timeout, f"webhook notification for {alertname}", interval=0.1)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Alertmanager:
    process: ManagedProcess
    url: str

    def alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = requests.get(f"{self.url}/api/v2/alerts", timeout=5).json()
        return alerts

    def stop(self) -> None:
        self.process.stop()


def webhook_config(webhook_url: str) -> dict[str, Any]:
    """A route tree that sends everything at once to one webhook: test timings, not production ones."""
    return {
        "route": {
            "receiver": "test-webhook",
            "group_by": ["alertname"],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "test-webhook", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
    }


def start_alertmanager(
    workdir: Path, config: dict[str, Any] | None = None, config_path: Path | None = None
) -> Alertmanager:
    binary = require_binary("prometheus-alertmanager")
    workdir.mkdir(parents=True, exist_ok=True)
    if config_path is None:
        config_path = workdir / "alertmanager.yml"
        config_path.write_text(yaml.safe_dump(config or {}, sort_keys=False))
    port = free_port()
    process = ManagedProcess(
        "alertmanager",
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # single node: no gossip port to collide with
        ],
        workdir / "alertmanager.log",
    )
    url = f"http://127.0.0.1:{port}"
    process.wait_ready(lambda: requests.get(f"{url}/-/ready", timeout=1).status_code == 200)
    return Alertmanager(process=process, url=url)
