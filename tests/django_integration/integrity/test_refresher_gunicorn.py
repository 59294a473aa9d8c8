"""The refresher under gunicorn with three workers and a MariaDB of its own: exactly one worker runs the checks
(another takes over when it dies), every worker's /metrics reports them, and when the database goes away the
checks report failing while no worker crashes and no response changes."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.django_integration.integrity.conftest import manage
from tests.harness import ManagedProcess, MariaDB, free_port, start_mariadb, wait_until

SETTINGS = "tests.django_integration.integrity.refresh_settings"
GUNICORN = [sys.executable, "-m", "gunicorn", "demo_shop.wsgi", "-c", "python:django_integration.gunicorn"]


class Group:
    def __init__(self, process: ManagedProcess, url: str, state_dir: Path) -> None:
        self.process, self.url, self.state_dir = process, url, state_dir

    def results(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.state_dir / "integrity-results.json").read_text()))
        except (OSError, ValueError):
            return {}

    def lines(self) -> list[dict[str, Any]]:
        text = self.process.log_path.read_text(errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def booted(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", self.process.log_path.read_text())]

    def refreshers(self) -> set[int]:
        return {line["pid"] for line in self.lines() if line["message"].startswith("integrity refresher started")}

    def gauge(self, name: str, **labels: str) -> float | None:
        """The first sample of ``name`` with (at least) these labels on /metrics, whichever worker answers."""
        text = requests.get(f"{self.url}/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return None

    def leaders_over(self, seconds: float) -> set[int]:
        """The pids that wrote the results over ``seconds`` (a run every second)."""
        seen, runs, deadline = set(), set(), time.monotonic() + seconds
        while time.monotonic() < deadline:
            results = self.results()
            if results:
                seen.add(results["pid"])
                runs.add(results["finished_at"])
            time.sleep(0.1)
        assert len(runs) >= max(seconds / 2, 2), f"the checks ran {len(runs)} times in {seconds}s"
        return seen


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MariaDB]:
    """A MariaDB of this test's own: the test stops and restarts it."""
    db = start_mariadb(tmp_path / "mariadb")
    yield db
    db.process.stop()


@pytest.fixture
def group(server: MariaDB, tmp_path: Path) -> Iterator[Group]:
    url = server.create_database("shop", "shop", "shop-password")
    env = {"DJANGO_SETTINGS_MODULE": SETTINGS}
    for args in (("migrate", "--no-input", "-v0"), ("seed_shop",)):
        assert manage(url, *args, env=env).returncode == 0
    state_dir = tmp_path / "multiproc"
    state_dir.mkdir()
    port = free_port()
    process = ManagedProcess(
        "gunicorn-integrity",
        [*GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "3", "--graceful-timeout", "5"],
        tmp_path / "gunicorn.log",
        env={"DATABASE_URL": url, "PROMETHEUS_MULTIPROC_DIR": str(state_dir), **env},
        cwd=REPO_ROOT,
    )
    shop = Group(process, f"http://127.0.0.1:{port}", state_dir)
    process.wait_ready(lambda: requests.get(f"{shop.url}/healthz", timeout=2).status_code == 200)
    yield shop
    process.stop()


def product(group: Group) -> tuple[int, Any, str]:
    """Status, body and the query count of Server-Timing (its durations vary) of a product page."""
    response = requests.get(f"{group.url}/api/products/3/", timeout=10)
    queries = re.findall(r'desc="([^"]*)"', response.headers.get("Server-Timing", ""))
    return response.status_code, response.json(), queries[0] if queries else ""


def restart(server: MariaDB) -> None:
    server.process = ManagedProcess("mariadb", server.process.args, server.process.log_path)
    server.process.wait_ready(lambda: server.query("SELECT 1"))


def test_one_worker_runs_the_checks_and_the_database_going_away_harms_nothing(group: Group, server: MariaDB) -> None:
    def three_refreshers() -> bool:
        product(group)  # each request lands on some worker, which starts its refresher with its first request
        return len(group.refreshers()) >= 3

    wait_until(three_refreshers, 60, "a refresher in every worker")
    workers = set(group.booted())
    assert group.refreshers() == workers and len(workers) == 3
    expected = product(group)
    assert expected[0] == 200 and expected[2] == "1 query"

    leaders = group.leaders_over(5)
    assert len(leaders) == 1 and leaders <= workers, leaders
    for _ in range(6):  # whichever worker answers, it reports the leader's results
        assert group.gauge("django_integrity_check_success", check="schema", alias="default") == 1
        assert group.gauge("django_integrity_orphaned_rows", relation="product", model="OrderItem") == 0
    for _ in range(20):  # runs every second beside the requests: same answer, same one query
        assert product(group) == expected

    # The leader dies: another worker takes over; gunicorn boots a replacement.
    (leader,) = leaders
    os.kill(leader, signal.SIGKILL)
    wait_until(lambda: group.results().get("pid") not in (None, leader), 30, "a new leader")
    new_leaders = group.leaders_over(4)
    assert len(new_leaders) == 1 and leader not in new_leaders
    workers = set(group.booted()) - {leader}
    assert len(workers) == 3

    # The database goes away: the checks report failing; the workers stay; /healthz and /metrics answer.
    server.process.stop()
    wait_until(lambda: group.gauge("django_integrity_check_success", check="schema", alias="default") == 0, 30,
               "the schema check reported failing")  # fmt: skip
    failed = {r["check"]: r for r in group.results()["results"]}
    assert failed["schema"]["status"] == "failed" and "OperationalError" in failed["schema"]["error"]
    assert [f["kind"] for f in failed["connections"]["findings"]][-1] == "connect_failed"
    for _ in range(10):
        assert requests.get(f"{group.url}/healthz", timeout=10).status_code == 200
        assert requests.get(f"{group.url}/api/products/3/", timeout=10).status_code == 500  # as without us
    time.sleep(2)
    assert set(group.booted()) - {leader} == workers, "a worker crashed while the database was away"

    # It comes back: so do the checks.
    restart(server)
    wait_until(lambda: group.gauge("django_integrity_check_success", check="schema", alias="default") == 1, 30,
               "the schema check back")  # fmt: skip
    for _ in range(5):  # (the first request of each worker reconnects: Django's own statements, with or without us)
        assert product(group)[:2] == expected[:2]
    assert set(group.booted()) - {leader} == workers
