"""A logging call never raises into the application and never loses its line.

One table of what an application can hand to ``logger.info`` (in ``extra``, as the message, as its arguments,
as ``exc_info``) that JSON cannot hold as it is: reference cycles, depth, huge values, objects JSON does not
know, keys it cannot take, NaN, objects whose ``str()`` raises, lazy translation strings, odd exceptions; and
the browser's log beacon. Each row is logged from a view served through the whole middleware stack, to a real
``StreamHandler`` with the integration's formatter (``StreamHandler`` re-raises ``RecursionError``, which is
how the reported cycle turned into a 500). Every row must answer 200, write exactly one line that is strict JSON
(no NaN), show its marker, stay under the size bound, and count a formatting failure only where one happened.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from django.utils.translation import gettext_lazy

from django_integration import views as integration_views
from django_integration._jsonsafe import MAX_LINE_TEXT
from django_integration.client_logs import RateLimiter
from tests.django_integration.conftest import sample

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]

LOGGER = "t.hostile"
LINE_BOUND = MAX_LINE_TEXT + 200_000  # the containers' text budget plus the top-level fields (each cut at 32 KiB)


class StrRaises:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        return "<StrRaises (repr works)>"


class Unrepresentable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class StrNotAString:
    def __str__(self) -> Any:
        return 42

    def __repr__(self) -> str:
        return "<StrNotAString>"


class EqRaises:
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparisons")

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "<EqRaises>"


class ItemsRaise(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("cannot iterate this mapping")

    def __len__(self) -> int:
        return 1


class StrRecurses:
    def __str__(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return "<StrRecurses>"


class ItemsRecurse(dict[str, Any]):
    def items(self) -> Any:
        return self.items()


class BadStrError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("the exception's own str fails")


class Colour(enum.Enum):
    RED = "red"


def cycle_dict() -> dict[str, Any]:
    d: dict[str, Any] = {}
    d["self"] = d
    return d


def cycle_list() -> list[Any]:
    items: list[Any] = []
    items.append(items)
    return items


def two_dict_cycle() -> dict[str, Any]:
    a: dict[str, Any] = {}
    b = {"a": a}
    a["b"] = b
    return a


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": True}
    for _ in range(levels):
        value = {"down": value}
    return value


def shared() -> dict[str, Any]:
    part = {"x": 1}
    return {"first": part, "second": part}


def raise_and_log(logger: Any, exception: BaseException) -> None:
    try:
        raise exception
    except BaseException:
        logger.exception("it failed")


@dataclass(frozen=True)
class Row:
    name: str
    log: Callable[[Any], None]  # given the logger, makes the call
    shows: list[str]  # texts the written line (as JSON text) must contain
    counted: bool = False  # a formatting failure is counted (django_integration_internal_errors_total)
    absent: list[str] = field(default_factory=list)


def extra(value: Any) -> Callable[[Any], None]:
    return lambda logger: logger.info("with a payload", extra={"payload": value})


ROWS = [
    Row("dict that contains itself", extra(cycle_dict()), ['"self": "<circular reference>"']),
    Row("list that contains itself", extra(cycle_list()), ['"payload": ["<circular reference>"]']),
    Row("two dicts that contain each other", extra(two_dict_cycle()), ['"a": "<circular reference>"']),
    Row("one dict twice is not a cycle", extra(shared()), ['"first": {"x": 1}, "second": {"x": 1}'],
        absent=["circular"]),
    Row("nested 100 000 levels deep", extra(deep(100_000)), ["<nested deeper than 8 levels>"]),
    Row("a string of ten million characters", extra("x" * 10_000_000), ["...[9967232 more characters]"]),
    Row("a list of a million items", extra(list(range(1_000_000))), ["<999500 more items>"]),
    Row("tuple, set and frozenset", extra({"t": (1, 2), "s": {3}, "f": frozenset({4})}),
        ['"t": [1, 2]', '"s": [3]', '"f": [4]']),
    Row("bytes that are not UTF-8", extra(b"ok \xff\xfe"), ['"payload": "ok \\\\xff\\\\xfe"']),
    Row("decimals, NaN decimal", extra([decimal.Decimal("1.10"), decimal.Decimal("NaN")]), ['["1.10", "NaN"]']),
    Row("dates, times, UUID, path, enum",
        extra([datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC), datetime.date(2026, 1, 2),
               datetime.time(3, 4), datetime.timedelta(seconds=90), uuid.UUID(int=1), PurePosixPath("/tmp/x"),
               Colour.RED]),
        ['"2026-01-02T03:04:05+00:00", "2026-01-02", "03:04:00", "0:01:30", '
         '"00000000-0000-0000-0000-000000000001", "/tmp/x", "red"']),
    Row("keys JSON cannot take", extra({(1, 2): "tuple", None: "none", 1.5: "float", True: "bool",
                                        frozenset(): "frozenset", 2: "int", "2": "str", float("nan"): "nan"}),
        ['"(1, 2)": "tuple"', '"null": "none"', '"1.5": "float"', '"true": "bool"', '"frozenset()": "frozenset"',
         '"2": "int"', '"2 (str)": "str"', '"NaN": "nan"']),
    Row("NaN and infinities", lambda logger: logger.info("numbers", extra={
        "nan": float("nan"), "inf": float("inf"), "nested": [float("-inf")]}),
        ['"nan": "NaN"', '"inf": "Infinity"', '"nested": ["-Infinity"]']),
    Row("an integer of 20 000 digits", extra(10**20_000), ["<integer of 66439 bits>"]),
    Row("an object whose str() raises", extra(StrRaises()), ['"payload": "<StrRaises (repr works)>"']),
    Row("an object whose str() and repr() raise", extra(Unrepresentable()),
        ['"payload": "<unrepresentable Unrepresentable>"'], counted=True),
    Row("an object whose str() returns a number", extra(StrNotAString()), ['"payload": "<StrNotAString>"']),
    Row("an object whose == raises, under a secret key", lambda logger: logger.info(
        "x", extra={"password": EqRaises(), "nested": {"token": EqRaises()}}),
        ['"password": "[REDACTED]"', '"token": "[REDACTED]"']),
    Row("a lazy translation string", extra(gettext_lazy("Enter a valid value.")), ['"Enter a valid value."']),
    Row("an exception whose args hold a cycle", extra(ValueError(cycle_list())), ['"payload": "[[...]]"']),
    Row("logger.exception with an exception whose str() raises", lambda logger: raise_and_log(logger, BadStrError()),
        ["BadStrError: <exception str() failed>"]),
    Row("a message object whose str() and repr() raise", lambda logger: logger.info(Unrepresentable()),
        ['"message": "<unrepresentable Unrepresentable>"', '"log_error": "RuntimeError: no str"'], counted=True),
    Row("a message whose arguments do not fit", lambda logger: logger.info("%d items", "many"),
        ['"message": "%d items"', '"log_args": "(\'many\',)"', '"log_error": "TypeError:'], counted=True),
    Row("a message that is a dict with odd keys", lambda logger: logger.info({1: cycle_list(), "k": "v"}),
        ['"1": ["<circular reference>"]', '"k": "v"']),
    Row("a huge key", extra({"k" * 1_000_000: 1}), ["...[999800 more characters]"]),
    Row("a generator is shown, not run", extra(x for x in [1 / 1]), ['"payload": "<generator object']),
    Row("a mapping that cannot be iterated", extra(ItemsRaise()),
        ['"message": "with a payload"', '"log_error": "RuntimeError: cannot iterate this mapping"'], counted=True),
    Row("an object whose str() recurses forever", extra(StrRecurses()), ['"payload": "<StrRecurses>"']),
    Row("a mapping whose items() recurses forever", extra(ItemsRecurse(a=1)),
        ['"message": "with a payload"', '"log_error": "RecursionError: maximum recursion depth exceeded'],
        counted=True),
]  # fmt: skip


def logging_view(request: HttpRequest, index: int) -> HttpResponse:
    ROWS[index].log(logging.getLogger(LOGGER))
    return HttpResponse("logged")


urlpatterns = [
    path("t/log/<int:index>/", logging_view),
    path("client-logs", integration_views.client_logs),
]


def strict(line: str) -> dict[str, Any]:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    parsed: dict[str, Any] = json.loads(line, parse_constant=refuse)
    return parsed


@pytest.fixture(autouse=True)
def standard_capture_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest's own log-capture handler fails the test on a logging error; a standard handler reports it on
    stderr and goes on. Give it the standard behaviour, so what is tested is our handler, not pytest's."""
    from _pytest.logging import LogCaptureHandler

    monkeypatch.setattr(LogCaptureHandler, "handleError", logging.Handler.handleError)


def formatting_failures() -> float:
    return sample("django_integration_internal_errors_total", component="log_format")


@pytest.mark.parametrize("index", range(len(ROWS)), ids=[row.name for row in ROWS])
def test_a_logging_call_never_raises_nor_loses_its_line(index: int, raw_logs: Callable[[], list[str]]) -> None:
    row = ROWS[index]
    failures = formatting_failures()
    response = Client().get(f"/t/log/{index}/", headers={"X-Request-ID": f"hostile-{index:04d}"})
    assert response.status_code == 200
    lines = [line for line in raw_logs() if f'"logger": "{LOGGER}"' in line]
    assert len(lines) == 1, lines
    (text,) = lines
    parsed = strict(text)
    assert parsed["correlation_id"] == f"hostile-{index:04d}"
    assert len(text) < LINE_BOUND
    for shown in row.shows:
        assert shown in text, text[:2000]
    for hidden in row.absent:
        assert hidden not in text
    assert formatting_failures() - failures == (1 if row.counted else 0)
    request_lines = [strict(line) for line in raw_logs() if '"logger": "django_integration.request"' in line]
    assert [line["status"] for line in request_lines] == [200]


def test_the_beacon_path(raw_logs: Callable[[], list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Browser events reach the same formatter: odd text in every field is one strict JSON line each."""
    monkeypatch.setattr(integration_views, "_limiter", RateLimiter())
    events: list[dict[str, Any]] = [
        {"level": "error", "message": "lone surrogate \ud800 and nul \x00", "route": "/checkout\ud800"},
        {"level": "warn", "message": "x" * 2000, "timestamp": "\udfff" * 40, "timing": {"ttfb": 3_600_000}},
    ]
    body = json.dumps({"events": events})
    response = Client().post("/client-logs", body, content_type="application/json")
    assert response.status_code == 202
    lines = [strict(line) for line in raw_logs() if '"logger": "django_integration.frontend"' in line]
    assert [line["message"] for line in lines] == [event["message"] for event in events]
    assert lines[0]["route"] == "/checkout\ud800"
