"""deploy/logrotate/: the real logrotate rotates (and compresses) the demo shop's JSON log while the shop writes
it under load: no line is lost, none is split, and the trace finds lines in the rotated files."""

from __future__ import annotations

import gzip
import json
import subprocess
import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from exporter.trace._model import Window
from exporter.trace.logs import search
from tests.harness.processes import require_binary
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


def test_rotation_under_load_loses_and_splits_nothing(tmp_path: Path) -> None:
    logrotate = require_binary("logrotate")
    log = tmp_path / "log" / "app.log"
    log.parent.mkdir()
    conf = tmp_path / "shop.logrotate"
    conf.write_text(config_for("django", "/var/log/shop/app.log", log))
    conf.chmod(0o644)  # as installed; logrotate ignores a config others may write
    shop = start_shop(tmp_path / "shop", f"sqlite:///{tmp_path / 'shop.sqlite3'}",
                      extra_env={"DJANGO_LOG_FILE": str(log)})  # fmt: skip
    sent: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def client() -> None:
        session = requests.Session()
        try:
            while not stop.is_set():
                request_id = f"rotate-{uuid.uuid4().hex}"
                response = session.get(f"{shop.url}/api/auth/csrf/", headers={"X-Request-ID": request_id}, timeout=10)
                assert response.headers["X-Request-ID"] == request_id
                sent.append(request_id)
        except BaseException as error:  # reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        for rotation in range(ROTATIONS):
            # Let some requests land in this generation of the file, then rotate it under the writers' feet.
            count = len(sent)
            _wait_for(lambda count=count: len(sent) >= count + 40, f"requests before rotation {rotation}")
            result = subprocess.run([logrotate, "--force", "--state", str(tmp_path / "state"), str(conf)],
                                    capture_output=True, text=True, timeout=60)  # fmt: skip
            assert result.returncode == 0, result.stderr
        count = len(sent)
        _wait_for(lambda: len(sent) >= count + 40, "requests after the last rotation")
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
        shop.stop()
    assert not errors, errors

    files = read_rotated(log)
    assert set(files) == {"app.log", "app.log.1", *(f"app.log.{n}.gz" for n in range(2, ROTATIONS + 1))}
    records: list[tuple[str, dict[str, Any]]] = [(name, json.loads(line)) for name, lines in files.items()
                                                 for line in lines]  # fmt: skip  # a split line fails to parse
    request_lines = Counter(r["correlation_id"] for _, r in records if r.get("logger") == "django_integration.request")
    assert len(sent) > 200
    missing = [i for i in sent if request_lines[i] == 0]
    assert not missing, f"{len(missing)} of {len(sent)} request lines lost, e.g. {missing[:3]}"
    assert all(request_lines[i] == 1 for i in sent), "a request line written twice"
    for name, lines in files.items():
        assert lines or name == "app.log", f"{name} is empty: a rotation raced the writers"

    # The trace still finds the lines, in the plain and the compressed rotations.
    where = {r["correlation_id"]: name for name, r in records if r.get("logger") == "django_integration.request"}
    for name in ("app.log.1", f"app.log.{ROTATIONS}.gz", "app.log"):
        request_id = next(i for i, n in where.items() if n == name)
        report = search([str(log)], request_id, Window())
        assert not report.problems, report.problems
        assert report.events, f"the trace found nothing of {request_id} in {name}"


def _wait_for(check: Any, what: str, timeout: float = 60.0) -> None:
    from tests.harness.processes import wait_until

    wait_until(lambda: check() or None, timeout, what)
