"""An exporter served in-process on a free port (the tiny HTTP ``target`` fixture is in tests/conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import make_server

import pytest
from prometheus_client import CollectorRegistry

from exporter.app import ExporterApp
from exporter.cli import _QuietHandler, _ThreadingServer
from exporter.service import Exporter


@dataclass
class RunningExporter:
    exporter: Exporter
    registry: CollectorRegistry
    url: str
    config_path: Path


@pytest.fixture
def serve_exporter(tmp_path: Path) -> Iterator[Callable[..., RunningExporter]]:
    """Start an exporter for a config text; stopped at the end of the test."""
    started: list[tuple[Exporter, Any]] = []

    def start(config: str, schedule: bool = False, **kwargs: Any) -> RunningExporter:
        path = tmp_path / f"config-{len(started)}.yml"
        path.write_text(config)
        registry = CollectorRegistry()
        exporter = Exporter(path, registry, **kwargs)
        server = make_server("127.0.0.1", 0, ExporterApp(exporter, registry), server_class=_ThreadingServer,
                             handler_class=_QuietHandler)  # fmt: skip
        threading.Thread(target=server.serve_forever, daemon=True).start()
        if schedule:
            exporter.start()
        started.append((exporter, server))
        return RunningExporter(exporter, registry, f"http://127.0.0.1:{server.server_port}", path)

    yield start
    for exporter, server in started:
        exporter.stop()
        server.shutdown()
        server.server_close()


def simple_config(base_url: str, path: str = "/ok", interval: str = "1s", timeout: str = "1s", **extra: str) -> str:
    """One target, one one-step workflow ``probe-ok`` hitting ``path``."""
    lines = "\n".join(f"    {key}: {value}" for key, value in extra.items())
    return f"""
targets:
  local:
    base_url: {base_url}
    circuit_breaker: {{failures: 2, cooldown: 1s}}
workflows:
  probe-ok:
    targets: [local]
    interval: {interval}
    timeout: {timeout}
{lines}
    steps:
      - name: get
        http: {{path: "{path}"}}
        expect: {{status: 200, max_duration: 800ms}}
"""
