"""The formatter's one-loop path for a plain record writes exactly what python-json-logger's add_fields path writes.

``JsonFormatter`` collects a record's fields in one loop (instead of python-json-logger's ``add_fields``) when its
options are ours and the record has a text message and no exception or stack, and encodes with one reused C
encoder. One table of record shapes; each row is formatted by both paths, which must give the same bytes.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from django_integration.correlation import new_id
from django_integration.log import REDACTED, CorrelationFilter, JsonFormatter


class GeneralPathFormatter(JsonFormatter):
    """Overriding add_fields turns the one-loop path off: this is python-json-logger's add_fields at work."""

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)


class Opaque:
    def __str__(self) -> str:
        return "opaque password=hunter2"


class Named:
    def __str__(self) -> str:
        return "named"


@dataclass
class Row:
    name: str
    msg: Any = "%s %s %d"
    args: tuple[Any, ...] = ("GET", "api/products/<int:pk>/", 200)
    extra: dict[str, Any] = field(default_factory=dict)
    after: Callable[[logging.LogRecord], None] | None = None


def _add_non_string_key(record: logging.LogRecord) -> None:
    attributes: dict[Any, Any] = record.__dict__
    attributes[1] = "one"


def _add_private_field(record: logging.LogRecord) -> None:
    record.__dict__["_private"] = "not written"


ROWS = [
    Row(
        "the request line",
        extra={
            "route": "api/products/<int:pk>/",
            "method": "GET",
            "status": 200,
            "duration_ms": 1.234,
            "db_queries": 3,
            "db_ms": 0.5,
            "error_class": None,
            "synthetic": False,
        },
    ),
    Row("no extra fields", msg="plain text", args=()),
    Row("secret-looking keys", extra={"password": "hunter2", "api_key": "", "token": None, "session": 0}),
    Row("inline credentials in the message", msg="login password=%s failed", args=("hunter2",)),
    Row("inline credentials in a value", extra={"url": "https://bob:secret@example.com/?token=abc"}),
    Row("a level and a logger field of the caller's", extra={"level": 5, "logger": Named()}),
    Row("a timestamp field of the caller's", extra={"timestamp": "forged"}),
    Row(
        "values JSON cannot hold as they are",
        extra={
            "nan": float("nan"),
            "inf": float("-inf"),
            "big": 2**80,
            "huge": 2**20000,
            "raw": b"\xffabc",
            "nested": {"a": [1, {"password": "p"}], 2: (3, 4)},
            "items": {1, 2},
            "object": Opaque(),
        },
    ),
    Row("a long text", extra={"body": "x" * 40_000}),
    Row("the caller's own correlation_id and layer", extra={"correlation_id": "not a valid id!", "layer": "db"}),
    Row("a valid correlation_id of the caller's", extra={"correlation_id": new_id()}),
    Row("non-ASCII text", msg="héllo ✓ %s", args=("wörld",), extra={"note": "naïve ☃"}),
    Row("a key that is not a string", after=_add_non_string_key),
    Row("a private field", after=_add_private_field),
    Row("a message that is not text", msg=Opaque(), args=()),
]


def _record(row: Row, level: int = logging.INFO) -> logging.LogRecord:
    logger = logging.getLogger("django_integration.request")
    record = logger.makeRecord(logger.name, level, __file__, 1, row.msg, row.args, None, "f", row.extra)
    record.created = 1_700_000_000.25  # both paths format the same instant
    record.msecs = 250.0
    CorrelationFilter().filter(record)
    if row.after is not None:
        row.after(record)
    return record


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_the_one_loop_path_writes_what_add_fields_writes(row: Row) -> None:
    fast, general = JsonFormatter(), GeneralPathFormatter()
    assert fast._plain_fields and not general._plain_fields
    line = fast.format(_record(row))
    assert line == general.format(_record(row))
    assert "hunter2" not in line and ":secret@" not in line
    parsed = json.loads(line)
    assert list(parsed)[:4] == ["timestamp", "level", "logger", "message"]


def test_a_record_with_an_exception_takes_the_general_path() -> None:
    try:
        raise ValueError("boom password=hunter2")
    except ValueError:
        logger = logging.getLogger("django_integration.request")
        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "failed", (), sys.exc_info(), "f", None)
    line = json.loads(JsonFormatter().format(record))
    assert "ValueError" in line["exc_info"] and "hunter2" not in line["exc_info"] and REDACTED in line["exc_info"]


@pytest.mark.parametrize(
    ("options", "written"),
    [({"static_fields": {"app": "shop"}}, "app"), ({"timestamp": "time"}, "time"), ({"defaults": {"env": "x"}}, "env")],
    ids=["static_fields", "timestamp", "defaults"],
)
def test_formatter_options_turn_the_one_loop_path_off(options: dict[str, Any], written: str) -> None:
    formatter = JsonFormatter(**options)
    assert not formatter._plain_fields
    assert written in json.loads(formatter.format(_record(Row("plain", msg="x", args=()))))


def test_timestamps_across_seconds() -> None:
    formatter = JsonFormatter()
    lines = []
    for created in (1_700_000_000.999, 1_700_000_001.0, 1_700_000_001.5, 1_700_000_000.999):
        record = _record(Row("plain", msg="x", args=()))
        record.created, record.msecs = created, (created - int(created)) * 1000
        lines.append(json.loads(formatter.format(record))["timestamp"])
    expected = [
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(c))) + f".{int((c - int(c)) * 1000):03d}Z"
        for c in (1_700_000_000.999, 1_700_000_001.0, 1_700_000_001.5, 1_700_000_000.999)
    ]
    assert lines == expected
