"""``logging_config()`` adds to what a project logs instead of switching it off.

One table of configurations, each applied the way Django applies ``LOGGING`` (its defaults first, then the
project's dict) and each serving the same failing request: Django's own default logging for reference (one
mail to ``ADMINS`` for a 500), ``logging_config()`` on its own, with ``mail_admins=False``, merged into a
project's ``LOGGING`` with its own handlers, into one that configures the ``django`` logger itself, into one
whose names clash with ours, and with ``DEBUG`` on. For each: the mails sent, the JSON line, and what the
project's own handlers wrote. Then ``runserver`` for real: its ``django.server`` lines are JSON with the
response's correlation ID and status, once.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils.log import configure_logging
from pytest_django.fixtures import Settings

from django_integration.log import logging_config
from tests.harness import ManagedProcess, free_port, wait_until
from tests.harness.shop import run_manage

pytestmark = [pytest.mark.urls("tests.django_integration.views"), pytest.mark.django_db]


def project_logging(tmp: Path) -> dict[str, Any]:
    """A project's own LOGGING: a text file handler on the root with the ID in its format, and a logger."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"text": {"format": "%(levelname)s %(correlation_id)s %(name)s %(message)s"}},
        "handlers": {"project": {"class": "logging.FileHandler", "filename": str(tmp / "project.log"),
                                 "formatter": "text"}},
        "root": {"handlers": ["project"], "level": "INFO"},
        "loggers": {"shop": {"level": "WARNING"}},
    }  # fmt: skip


def project_owning_django(tmp: Path) -> dict[str, Any]:
    config = project_logging(tmp)
    config["handlers"]["audit"] = {"class": "logging.FileHandler", "filename": str(tmp / "audit.log"),
                                   "formatter": "text"}  # fmt: skip
    config["loggers"]["django"] = {"handlers": ["audit"], "level": "WARNING", "propagate": False}
    return config


def project_with_clashing_names(tmp: Path) -> dict[str, Any]:
    config = project_logging(tmp)
    config["formatters"]["json"] = {"format": "PROJECT-JSON %(message)s"}
    config["handlers"]["json"] = {"class": "logging.FileHandler", "filename": str(tmp / "clash.log"),
                                  "formatter": "json"}  # fmt: skip
    config["root"]["handlers"].append("json")
    return config


@dataclass(frozen=True)
class Row:
    name: str
    config: Callable[[Path], dict[str, Any] | None]  # None: Django's default logging only
    mails: int
    json_lines: bool = True  # our JSON line for the 500 is written
    project_file: str | None = None  # a file of the project's own that must have the 500 with the ID
    debug: bool = False


ROWS = [
    Row("Django's default logging", lambda tmp: None, mails=1, json_lines=False),
    Row("logging_config()", lambda tmp: logging_config(file=str(tmp / "app.log")), mails=1),
    Row("logging_config(mail_admins=False)",
        lambda tmp: logging_config(file=str(tmp / "app.log"), mail_admins=False), mails=0),
    Row("merged into the project's LOGGING",
        lambda tmp: logging_config(file=str(tmp / "app.log"), base=project_logging(tmp)), mails=1,
        project_file="project.log"),
    Row("merged into a LOGGING that configures the django logger itself",
        lambda tmp: logging_config(file=str(tmp / "app.log"), base=project_owning_django(tmp)), mails=0,
        json_lines=False, project_file="audit.log"),
    Row("merged into a LOGGING whose names clash with ours",
        lambda tmp: logging_config(file=str(tmp / "app.log"), base=project_with_clashing_names(tmp)), mails=1,
        project_file="clash.log"),
    Row("DEBUG on: no mail, one JSON line, no plain-text copy",
        lambda tmp: logging_config(file=str(tmp / "app.log")), mails=0, debug=True),
]  # fmt: skip


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Every logger as it was: the settings' LOGGING again, and the levels the rows' configs set undone."""
    manager = logging.root.manager
    before = {
        name: (logger.level, logger.propagate, logger.disabled)
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
    for name, logger in list(manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            level, logger.propagate, logger.disabled = before.get(name, (logging.NOTSET, True, False))
            logger.setLevel(level)  # setLevel, not the attribute: it clears the loggers' isEnabledFor caches


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_logging_config_keeps_what_django_and_the_project_did(
    row: Row, tmp_path: Path, settings: Settings, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.DEBUG = row.debug
    base_before = copy.deepcopy(project_logging(tmp_path))
    config = row.config(tmp_path)
    configure_logging("logging.config.dictConfig", config or {})  # what django.setup() does with LOGGING

    cid = f"logcfg-{uuid.uuid4().hex[:12]}"
    response = Client(raise_request_exception=False).get("/t/crash/", headers={"X-Request-ID": cid})
    assert response.status_code == 500
    configure_logging("logging.config.dictConfig", {"version": 1, "disable_existing_loggers": False})  # flush, close

    assert len(mail.outbox) == row.mails
    if row.mails:
        assert "/t/crash/" in str(mail.outbox[0].subject)

    json_file = tmp_path / "app.log"
    lines = [json.loads(line) for line in json_file.read_text().splitlines()] if json_file.exists() else []
    django_lines = [line for line in lines if line["logger"] == "django.request"]
    if row.json_lines:
        (line,) = django_lines
        assert (line["correlation_id"], line["status"], line["level"]) == (cid, 500, "ERROR")
        assert [line["status"] for line in lines if line["logger"] == "django_integration.request"] == [500]
    else:
        assert django_lines == []
    if row.project_file:
        text = (tmp_path / row.project_file).read_text()
        assert f"ERROR {cid} django.request Internal Server Error: /t/crash/" in text or (
            row.project_file == "clash.log" and "PROJECT-JSON Internal Server Error: /t/crash/" in text
        ), text
    assert project_logging(tmp_path) == base_before  # building the config did not touch the project's dict
    if row.debug:
        captured = capsys.readouterr()
        assert "Internal Server Error" not in captured.err  # Django's DEBUG console handler is not doubling it


def server_lines(output: str) -> list[dict[str, Any]]:
    """The django.server JSON lines of a runserver log's text (its other output is not JSON)."""
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "django.server"]


def test_runserver_lines_are_json_with_the_request_id(tmp_path: Path) -> None:
    """``runserver`` writes one django.server JSON line per request, with the response's ID and status."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}", "DJANGO_DEBUG": "0"}
    run_manage(tmp_path, env, "migrate", "--no-input", "-v0")
    port = free_port()
    server = ManagedProcess(
        "runserver",
        [sys.executable, "-m", "demo_shop", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
        tmp_path / "runserver.log",
        env=env,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_ready(lambda: requests.get(f"{url}/healthz", timeout=2).status_code == 200)
        found = requests.get(f"{url}/api/products/?token=hunter2x", headers={"X-Request-ID": "runserver-0001"})
        missing = requests.get(f"{url}/api/nope/", headers={"X-Request-ID": "runserver-0002"})
        assert (found.status_code, missing.status_code) == (200, 404)
        # runserver writes its line after the response has gone out; the 404's django.request line ("Not Found",
        # with the same ID) comes before the response, so it is the django.server line that is waited for.
        wait_until(lambda: any(line["correlation_id"] == "runserver-0002"
                               for line in server_lines(server.log_path.read_text())),
                   10, "runserver's line for the second request")  # fmt: skip
    finally:
        server.stop()
    output = (tmp_path / "runserver.log").read_text()
    written = server_lines(output)
    by_id = {line["correlation_id"]: line for line in written}
    assert by_id["runserver-0001"]["status"] == 200
    assert by_id["runserver-0001"]["message"].startswith('"GET /api/products/?token=[REDACTED] HTTP/1.1" 200')
    assert by_id["runserver-0002"]["status"] == 404
    assert len([line for line in written if line["correlation_id"] == "runserver-0001"]) == 1
    for line in written:
        assert "request" not in line and "server_time" not in line
    assert "hunter2x" not in output
    assert not [line for line in output.splitlines() if "GET /api/products/" in line and not line.startswith("{")]
    logging.getLogger(__name__).debug("runserver wrote %d lines", len(written))
