"""Gunicorn with several workers: one /metrics merges every worker's samples (without exemplars)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import requests

from tests.harness import ManagedProcess, free_port
from tests.harness.shop import run_manage

GUNICORN = [sys.executable, "-m", "gunicorn", "demo_shop.wsgi", "-c", "python:django_integration.gunicorn"]


def test_gunicorn_workers_share_one_metrics_endpoint(tmp_path: Path) -> None:
    multiproc = tmp_path / "prometheus-multiproc"
    multiproc.mkdir()
    (multiproc / "stale_counter_1.db").write_bytes(b"left over from a previous run")
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}",
        "DEMO_PROBE_PASSWORD": "unused-here",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    run_manage(tmp_path, env, "migrate", "--no-input", "-v0")
    run_manage(tmp_path, env, "seed_shop")
    port = free_port()
    process = ManagedProcess(
        "gunicorn-multiprocess",
        [*GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "3"],
        tmp_path / "gunicorn.log",
        env=env,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_ready(lambda: requests.get(f"{url}/healthz", timeout=2).status_code == 200)
        for n in range(60):
            requests.get(f"{url}/api/products/", headers={"X-Request-ID": f"multi-{n:08d}"}, timeout=10)
        pids = {int(m) for m in re.findall(r"Booting worker with pid: (\d+)", process.log_path.read_text())}
        assert len(pids) == 3
        for _ in range(3):  # whichever worker answers the scrape, it reports all of them
            exposition = requests.get(
                f"{url}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}, timeout=10
            ).text
            series = 'django_request_duration_seconds_count{method="GET",route="api/products/",status_class="2xx"}'
            (count,) = re.findall(rf"^{re.escape(series)} (\S+)$", exposition, re.M)
            assert float(count) == 60
            assert "# {correlation_id=" not in exposition  # no exemplars: the documented trade-off of multiprocess mode
        assert not (multiproc / "stale_counter_1.db").exists()
    finally:
        process.stop()
