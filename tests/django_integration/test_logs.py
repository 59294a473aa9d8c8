"""The JSON log format: fields, redaction of secrets, one event per line, and the file setup."""

from __future__ import annotations

import json
import logging
import logging.config
import os
from pathlib import Path

import pytest

from django_integration.log import REDACTED, logging_config, redact, redact_text
from tests.django_integration.conftest import LogLines


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("login with password=hunter2 failed", f"login with password={REDACTED} failed"),
        ('{"password": "hunter2", "user": "bob"}', f'{{"password": "{REDACTED}", "user": "bob"}}'),
        ("password: 'hunter2'", f"password: '{REDACTED}'"),
        ("Authorization: Bearer eyJhbGciOi.abc.def", f"Authorization: {REDACTED}"),
        ("sent bearer eyJhbGciOi.abc.def upstream", f"sent bearer {REDACTED} upstream"),
        ("GET /cb?token=abc123&page=2", f"GET /cb?token={REDACTED}&page=2"),
        ("Cookie: sessionid=abc; csrftoken=def", f"Cookie: {REDACTED}; csrftoken={REDACTED}"),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_inline_secrets_are_redacted(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_secret_keys_are_redacted_at_any_depth() -> None:
    value = {
        "headers": {"Authorization": "Bearer x", "Accept": "application/json", "Cookie": "sessionid=1"},
        "body": {"username": "bob", "password": "hunter2", "items": [{"refresh_token": "r"}]},
    }
    assert redact(value) == {
        "headers": {"Authorization": REDACTED, "Accept": "application/json", "Cookie": REDACTED},
        "body": {"username": "bob", "password": REDACTED, "items": [{"refresh_token": REDACTED}]},
    }


def test_a_record_is_one_json_line_with_the_contract_fields(json_logs: LogLines) -> None:
    logging.getLogger("shop").warning(
        "line one\r\nInjected: fake line", extra={"headers": {"Authorization": "Basic abc"}, "db_queries": 3}
    )
    (line,) = json_logs()
    assert list(line)[:6] == ["timestamp", "level", "logger", "message", "correlation_id", "layer"]
    assert line["message"] == "line one\r\nInjected: fake line"  # escaped by JSON, still one line
    assert line["headers"] == {"Authorization": REDACTED}
    assert line["db_queries"] == 3
    assert line["correlation_id"] is None and line["layer"] == "api"


def test_exceptions_are_one_line_too(json_logs: LogLines) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("shop").exception("it failed")
    (line,) = json_logs()
    assert line["level"] == "ERROR"
    assert "ValueError: boom" in line["exc_info"]


def test_file_logging_survives_rotation(tmp_path: Path) -> None:
    """logrotate moves the file; the WatchedFileHandler reopens it and no line is lost."""
    path = tmp_path / "app.log"
    config = logging_config(file=str(path))
    config["root"]["level"] = "INFO"
    logging.config.dictConfig(config)
    try:
        logger = logging.getLogger("rotation-test")
        logger.info("before rotation")
        os.rename(path, tmp_path / "app.log.1")
        logger.info("after rotation")
    finally:
        for handler in logging.getLogger().handlers:
            handler.close()
        logging.config.dictConfig(logging_config())
    before = [json.loads(line)["message"] for line in (tmp_path / "app.log.1").read_text().splitlines()]
    after = [json.loads(line)["message"] for line in path.read_text().splitlines()]
    assert before == ["before rotation"] and after == ["after rotation"]
