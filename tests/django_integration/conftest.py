from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import call_command
from prometheus_client import REGISTRY

from django_integration.log import CorrelationFilter, JsonFormatter

LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_logs(raw_logs: Callable[[], list[str]]) -> LogLines:
    """Every log line of the test, as the integration's JSON formatter writes it, parsed back."""
    return lambda: [json.loads(line) for line in raw_logs()]


@pytest.fixture
def raw_logs() -> Iterator[Callable[[], list[str]]]:
    """Every log line of the test as the integration's JSON formatter wrote it (a real StreamHandler), as text."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(CorrelationFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    try:
        yield lambda: stream.getvalue().splitlines()
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.fixture
def seeded(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_PROBE_PASSWORD", "in-process-password")
    call_command("seed_shop", stdout=io.StringIO())


def sample(name: str, **labels: str) -> float:
    """A sample of the process-wide registry, 0 when it does not exist yet."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
