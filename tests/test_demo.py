"""``make demo``'s launcher as a user runs it: serves the seeded shop, Ctrl-C leaves nothing behind, and ``make demo``
again (the same state directory) still opens the run pages from before the restart."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.harness import free_port, require_binary, wait_until
from tests.harness.scripts import load_script


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def answers(url: str) -> bool:
    return requests.get(url, timeout=5).status_code == 200


def start_demo(tmp_path: Path, ports: dict[str, int], log_name: str) -> subprocess.Popen[bytes]:
    """``make demo``'s launcher in its own process group, like a terminal job, its state under ``tmp_path``."""
    with (tmp_path / log_name).open("wb") as log:
        return subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "scripts" / "demo.py")],
            env={**os.environ, **{k: str(v) for k, v in ports.items()}, "DEMO_STATE_DIR": str(tmp_path / "state")},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def ctrl_c(demo: subprocess.Popen[bytes], ports: dict[str, int]) -> None:
    """What Ctrl-C in a terminal does to the foreground job; then nothing of it listens or runs."""
    os.killpg(demo.pid, signal.SIGINT)
    assert demo.wait(timeout=30) in (0, 130, -signal.SIGINT)
    for name, port in ports.items():
        assert not listening(port), f"{name} {port} still listening after Ctrl-C"
    try:
        os.killpg(demo.pid, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError("processes of the demo survived Ctrl-C")


def kill(demo: subprocess.Popen[bytes]) -> None:
    """After a failure: whatever of the demo still runs."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(demo.pid, signal.SIGKILL)
    demo.wait()


def stored_run(exporter: str, run_id: str) -> dict[str, Any]:
    """The run's page and its API answer both open; what identifies the run, from the API."""
    page = requests.get(f"{exporter}/runs/{run_id}", timeout=10)
    assert page.status_code == 200 and run_id in page.text, page.status_code
    api = requests.get(f"{exporter}/api/v1/runs/{run_id}", timeout=10)
    assert api.status_code == 200, api.text[:2000]
    data = api.json()["data"]
    return {key: data[key] for key in ("id", "workflow", "target", "result", "source", "started_at")}


def test_demo_serves_the_shop_ctrl_c_stops_everything_and_a_restart_keeps_the_runs(tmp_path: Path) -> None:
    names = ("SHOP_PORT", "EXPORTER_PORT", "FRONTEND_PORT", "PROMETHEUS_PORT", "ALERTMANAGER_PORT", "MARIADB_PORT",
             "MYSQLD_EXPORTER_PORT")  # fmt: skip
    ports = {name: free_port() for name in names}
    demo = start_demo(tmp_path, ports, "demo.log")
    try:
        shop = f"http://127.0.0.1:{ports['SHOP_PORT']}"
        products = wait_until(
            lambda: requests.get(f"{shop}/api/products/", timeout=2).json(), 90, "demo shop serving products"
        )
        assert products["count"] == 32
        assert products["results"][0]["sku"] == "COF-001"
        exporter = f"http://127.0.0.1:{ports['EXPORTER_PORT']}"
        succeeded = re.compile(
            r'^workflow_runs_total\{result="success",target="demo-shop",workflow="checkout"\} [1-9]', re.M
        )
        wait_until(
            lambda: succeeded.search(requests.get(f"{exporter}/metrics", timeout=2).text),
            60,
            "the exporter's first successful checkout run",
        )
        # The trace of a run joins the shop's log (make demo writes it to a file the exporter reads).
        openmetrics = {"Accept": "application/openmetrics-text; version=1.0.0"}
        exemplar = re.search(r'checkout"\} [0-9.]+ # \{correlation_id="([^"]+)"',
                             requests.get(f"{exporter}/metrics", headers=openmetrics, timeout=5).text)  # fmt: skip
        assert exemplar, "an exemplar on workflow_runs_total"
        run_id = exemplar.group(1)
        trace = requests.get(f"{exporter}/trace/{run_id}", timeout=30)
        assert trace.status_code == 200 and "POST api/auth/token/ 200" in trace.text, trace.text[:2000]
        wait_until(lambda: listening(ports["PROMETHEUS_PORT"]), 30, "demo Prometheus listening")
        wait_until(lambda: listening(ports["ALERTMANAGER_PORT"]), 30, "demo Alertmanager listening")
        output = (tmp_path / "demo.log").read_text()
        assert f"http://127.0.0.1:{ports['SHOP_PORT']}/api/products/" in output
        # Every page the banner prints answers with the packages installed here (Debian's Prometheus has only the
        # classic UI, its Alertmanager only the API); the storefront builds for a minute and is tested elsewhere.
        banner = dict(re.findall(r"^  (\S[^\n]*?) +(http://127\.0\.0\.1:\d+\S*)", output, re.M))
        assert {"Prometheus", "Alertmanager", "notifications", "report", "mysqld_exporter"} <= set(banner), banner
        # MariaDB and mysqld_exporter are installed here, so the demo runs on them, as the compose stack on MySQL.
        assert f"MariaDB on 127.0.0.1:{ports['MARIADB_PORT']}" in output, output[-3000:]
        wait_until(lambda: "mysql_up 1" in requests.get(banner["mysqld_exporter"], timeout=5).text, 30,
                   "mysqld_exporter connected to the demo's MariaDB")  # fmt: skip
        # Every collector of docker-compose.yml's flags has the grants it needs (slave_status: SLAVE MONITOR).
        scrape = requests.get(banner["mysqld_exporter"], timeout=5).text
        assert "mysql_exporter_last_scrape_error 0" in scrape, [line for line in scrape.splitlines() if "error" in line]
        for name, url in banner.items():
            if name != "storefront":
                wait_until(functools.partial(answers, url), 30, f"{name} at {url}")

        before = stored_run(exporter, run_id)
        assert (before["id"], before["workflow"], before["result"]) == (run_id, "checkout", "success")
        ctrl_c(demo, ports)
    finally:
        kill(demo)

    # `make demo` again on the same state: the run page and the API answer for the run from before the restart.
    again = start_demo(tmp_path, ports, "demo-again.log")
    try:
        wait_until(lambda: answers(f"{exporter}/-/healthy"), 90, "the exporter after the restart")
        assert stored_run(exporter, run_id) == before
        ctrl_c(again, ports)
    finally:
        kill(again)


def test_demo_rejects_a_bad_port() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "demo.py")],
        env={**os.environ, "SHOP_PORT": "eighty"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "SHOP_PORT='eighty' is not a TCP port" in result.stderr


def test_migrations_are_committed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demo_shop", "makemigrations", "--check", "--dry-run"],
        env={**os.environ, "DATABASE_URL": "sqlite://:memory:"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def demo_script() -> Any:
    return load_script("demo")


@pytest.mark.parametrize(
    ("env", "path", "expected"),
    [
        ({}, None, "mariadb:3307"),  # installed: the demo runs on it
        ({"MARIADB_PORT": "3400"}, None, "mariadb:3400"),
        ({"DEMO_DATABASE": "sqlite"}, None, "sqlite"),  # asked for SQLite
        ({"DATABASE_URL": "sqlite:////tmp/mine.sqlite3"}, None, "sqlite"),  # a database of the user's own
        ({"DATABASE_URL": "sqlite:////tmp/mine.sqlite3", "DEMO_DATABASE": "mariadb"}, None, "mariadb:3307"),
        ({}, "empty", "sqlite: no mariadbd, mariadb-install-db, mariadb (sudo apt-get install mariadb-server)"),
        ({"DEMO_DATABASE": "postgres"}, None, "exit: DEMO_DATABASE='postgres': expected mariadb or sqlite"),
        ({"MARIADB_PORT": "70000"}, None, "exit: MARIADB_PORT='70000' is not a TCP port"),
    ],
)
def test_the_demo_chooses_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], path: str | None, expected: str
) -> None:
    """MariaDB when it is installed and nothing else was asked for; SQLite when asked, with a database of the
    user's own, or without the server (the banner says why); a bad choice or port is named."""
    require_binary("mariadbd")
    database = load_script("demo_database")
    if path == "empty":
        monkeypatch.setenv("PATH", str(tmp_path))
    try:
        mariadb, problem = database.find(tmp_path / "state", env)
    except SystemExit as error:
        assert f"exit: {error}" == expected
        return
    if mariadb is None:
        assert ("sqlite" + (f": {problem}" if problem else "")) == expected
    else:
        assert f"mariadb:{mariadb.port}" == expected and problem is None
        assert mariadb.datadir == tmp_path / "state" / "mariadb"
        assert len(str(mariadb.socket)) < 100  # a unix socket path's limit, whatever the state directory


def test_the_demo_prometheus_watches_mysql_only_with_mariadb() -> None:
    """With mysqld_exporter the demo's Prometheus scrapes it as job mysql and loads the MySQL rules; without, neither
    (they would only report MySQL absent)."""
    demo = demo_script()
    for port, watched in ((9104, True), (None, False)):
        config = demo.prometheus_config(8000, 9716, 9093, port)
        jobs = {job["job_name"]: job for job in config["scrape_configs"]}
        assert ("mysql" in jobs) is watched
        assert any(rule.endswith("mysql.rules.yml") for rule in config["rule_files"]) is watched
        if watched:
            assert jobs["mysql"]["static_configs"] == [{"targets": ["127.0.0.1:9104"]}]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:////srv/demo/shop.sqlite3", "sqlite:////srv/demo/shop.sqlite3"),
        ("mysql://shop:s3cret@db.internal:3306/shop", "mysql://shop:***@db.internal:3306/shop"),
        ("mysql://shop:p%40ss%3Aword@db/shop", "mysql://shop:***@db/shop"),  # encoded @ and : in the password
        ("mysql://shop@db/shop", "mysql://shop@db/shop"),
    ],
)
def test_the_banner_never_prints_a_database_password(url: str, shown: str) -> None:
    """A DATABASE_URL of the user's own is printed in the banner without its password."""
    assert demo_script().without_password(url) == shown
