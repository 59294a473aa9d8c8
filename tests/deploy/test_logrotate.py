"""deploy/logrotate/: the real logrotate rotates (and compresses) the demo shop's JSON log and the exporter's
--log.file while each writes under load: no line is lost, none is split, and the trace finds lines in the rotated
files."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from exporter.trace._model import Window
from exporter.trace.logs import search
from tests.harness.http_target import Target
from tests.harness.processes import ManagedProcess, free_port, require_binary, wait_until
from tests.harness.shop import start_shop

LOGROTATE = Path(__file__).resolve().parents[2] / "deploy" / "logrotate"
ROTATIONS = 4
CLIENTS = 6


def config_for(name: str, shipped_path: str, log: Path) -> str:
    text = (LOGROTATE / name).read_text()
    assert text.count(f"\n{shipped_path} {{\n") == 1
    return text.replace(f"\n{shipped_path} {{\n", f"\n{log} {{\n")


def read_rotated(log: Path) -> dict[str, list[str]]:
    """Every file of the log (app.log, app.log.1, app.log.N.gz) → its lines; a split line fails here."""
    files: dict[str, list[str]] = {}
    for path in sorted(log.parent.glob(f"{log.name}*")):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        assert not data or data.endswith(b"\n"), f"{path.name} ends inside a line"
        files[path.name] = data.decode().splitlines()
    return files


def test_logrotate_config_parses(tmp_path: Path) -> None:
    """Installed as the docs say (mode 0644; logrotate ignores a file others may write), each file parses."""
    logrotate = require_binary("logrotate")
    for name in ("django", "workflow-exporter"):
        installed = tmp_path / name
        installed.write_text((LOGROTATE / name).read_text())
        installed.chmod(0o644)
        result = subprocess.run([logrotate, "--debug", "--state", str(tmp_path / "state"), str(installed)],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert result.returncode == 0 and "error" not in result.stderr.lower(), result.stderr
        assert "Handling 1 logs" in result.stderr, result.stderr


def rotate_under_load(conf: Path, state: Path, client: Callable[[threading.Event], None],
                      done: Callable[[], int]) -> None:  # fmt: skip
    """Run CLIENTS threads of ``client`` (each loops until the event is set, counting its work in ``done``) and
    rotate with the real logrotate ROTATIONS times, 40 units of work into each generation of the file."""
    logrotate = require_binary("logrotate")
    conf.chmod(0o644)  # as installed; logrotate ignores a config others may write
    errors: list[BaseException] = []
    stop = threading.Event()

    def guarded() -> None:
        try:
            client(stop)
        except BaseException as error:  # reported below
            errors.append(error)

    def forty_more(what: str) -> None:
        count = done()
        _wait_for(lambda: done() >= count + 40 or bool(errors), what)

    threads = [threading.Thread(target=guarded, daemon=True) for _ in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        for rotation in range(ROTATIONS):
            # Let some work land in this generation of the file, then rotate it under the writers' feet.
            forty_more(f"work before rotation {rotation}")
            result = subprocess.run([logrotate, "--force", "--state", str(state), str(conf)],
                                    capture_output=True, text=True, timeout=60)  # fmt: skip
            assert result.returncode == 0, result.stderr
        forty_more("work after the last rotation")
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
    assert not errors, errors


def assert_each_once(log: Path, ids: list[str], is_line_of: Callable[[dict[str, Any]], bool]) -> dict[str, str]:
    """Every ID has exactly one line (``is_line_of``) across the log and its rotations, every file but the live
    one has lines, and every line parses; returns ID → the file its line is in."""
    files = read_rotated(log)
    name = log.name
    assert set(files) == {name, f"{name}.1", *(f"{name}.{n}.gz" for n in range(2, ROTATIONS + 1))}
    records: list[tuple[str, dict[str, Any]]] = [(file, json.loads(line)) for file, lines in files.items()
                                                 for line in lines]  # fmt: skip  # a split line fails to parse
    lines = Counter(r["correlation_id"] for _, r in records if is_line_of(r))
    assert len(ids) > 200
    missing = [i for i in ids if lines[i] == 0]
    assert not missing, f"{len(missing)} of {len(ids)} lines lost, e.g. {missing[:3]}"
    assert all(lines[i] == 1 for i in ids), "a line written twice"
    for file, content in files.items():
        assert content or file == name, f"{file} is empty: a rotation raced the writers"
    return {r["correlation_id"]: file for file, r in records if is_line_of(r)}


def test_rotation_under_load_loses_and_splits_nothing(tmp_path: Path) -> None:
    log = tmp_path / "log" / "app.log"
    log.parent.mkdir()
    conf = tmp_path / "shop.logrotate"
    conf.write_text(config_for("django", "/var/log/shop/app.log", log))
    shop = start_shop(tmp_path / "shop", f"sqlite:///{tmp_path / 'shop.sqlite3'}",
                      extra_env={"DJANGO_LOG_FILE": str(log)})  # fmt: skip
    sent: list[str] = []

    def client(stop: threading.Event) -> None:
        session = requests.Session()
        while not stop.is_set():
            request_id = f"rotate-{uuid.uuid4().hex}"
            response = session.get(f"{shop.url}/api/auth/csrf/", headers={"X-Request-ID": request_id}, timeout=10)
            assert response.headers["X-Request-ID"] == request_id
            sent.append(request_id)

    try:
        rotate_under_load(conf, tmp_path / "state", client, lambda: len(sent))
    finally:
        shop.stop()
    where = assert_each_once(log, sent, lambda r: r.get("logger") == "django_integration.request")

    # The trace still finds the lines, in the plain and the compressed rotations.
    for name in ("app.log.1", f"app.log.{ROTATIONS}.gz", "app.log"):
        request_id = next(i for i, n in where.items() if n == name)
        report = search([str(log)], request_id, Window())
        assert not report.problems, report.problems
        assert report.events, f"the trace found nothing of {request_id} in {name}"


EXPORTER_CONFIG = """\
targets:
  local: {{base_url: "{url}"}}
workflows:
  ok:
    targets: [local]
    interval: 1h
    steps:
      - {{name: get, http: {{path: /ok}}, expect: {{status: 200}}}}
"""


def test_the_exporter_log_file_rotates_without_losing_or_splitting_a_line(tmp_path: Path, target: Target) -> None:
    """--log.file under deploy/logrotate/workflow-exporter: each stored run's line is there exactly once."""
    log = tmp_path / "log" / "exporter.log"
    log.parent.mkdir()
    conf = tmp_path / "exporter.logrotate"
    conf.write_text(config_for("workflow-exporter", "/var/log/workflow-exporter/exporter.log", log))
    config = tmp_path / "workflows.yml"
    config.write_text(EXPORTER_CONFIG.format(url=target.url))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = ManagedProcess(
        "workflow-exporter",
        [sys.executable, "-m", "exporter", f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.path={tmp_path / 'store'}", f"--log.file={log}", "--probe.max-concurrency=8"],
        tmp_path / "exporter.out",
    )  # fmt: skip
    probes: list[int] = []
    try:
        process.wait_ready(lambda: requests.get(f"{url}/-/healthy", timeout=1).ok)

        def client(stop: threading.Event) -> None:
            session = requests.Session()
            while not stop.is_set():
                answer = session.get(f"{url}/probe?target=local&workflow=ok", timeout=30)
                assert answer.status_code == 200 and "probe_success 1" in answer.text, answer.text[:200]
                probes.append(1)

        rotate_under_load(conf, tmp_path / "state", client, lambda: len(probes))
        ids = _stored_run_ids(url, len(probes) + 1)  # the probes and the start-up run
    finally:
        process.stop()
    assert process.log_path.read_text().strip() == "", "with --log.file nothing goes to stdout"
    assert_each_once(log, ids, lambda r: r.get("workflow") == "ok" and r.get("layer") == "probe")


def _stored_run_ids(url: str, expected: int) -> list[str]:
    """Every run's ID from the JSON API, once all ``expected`` runs are stored."""

    def everything() -> list[str] | None:
        ids: list[str] = []
        cursor = None
        while True:
            page = requests.get(f"{url}/api/v1/runs", params={"limit": 500, "cursor": cursor}, timeout=10).json()
            ids += [run["id"] for run in page["data"]["runs"]]
            cursor = page["data"]["next_cursor"]
            if cursor is None:
                return ids if len(ids) == expected else None

    return _wait_for(everything, f"{expected} runs stored")


def _wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    return wait_until(lambda: check() or None, timeout, what)
