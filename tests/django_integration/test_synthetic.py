"""The exporter's synthetic marker: flagged in logs and metrics; with a shared secret only when signed."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from django_integration.marker import sign_marker, verify_marker
from tests.django_integration.conftest import LogLines, sample

pytestmark = [pytest.mark.urls("tests.django_integration.views"), pytest.mark.django_db]

CID = "synthetic-run-0001"


def request_line(json_logs: LogLines) -> dict[str, object]:
    (line,) = [entry for entry in json_logs() if entry["logger"] == "django_integration.request"]
    return line


def test_marker_without_secret_flags_the_request(json_logs: LogLines) -> None:
    before = sample("django_synthetic_requests_total", route="t/log/", method="GET", status_class="2xx")
    Client().get("/t/log/", headers={"X-Request-ID": CID, "X-Synthetic": "1"})
    assert request_line(json_logs)["synthetic"] is True
    assert sample("django_synthetic_requests_total", route="t/log/", method="GET", status_class="2xx") - before == 1


def test_no_marker_is_real_traffic(json_logs: LogLines) -> None:
    before = sample("django_synthetic_requests_total", route="t/log/", method="GET", status_class="2xx")
    Client().get("/t/log/")
    assert request_line(json_logs)["synthetic"] is False
    assert sample("django_synthetic_requests_total", route="t/log/", method="GET", status_class="2xx") == before


@pytest.mark.parametrize(
    ("marker", "synthetic"),
    [
        (lambda: sign_marker("shared", CID), True),
        (lambda: "1", False),  # unsigned
        (lambda: sign_marker("wrong secret", CID), False),
        (lambda: sign_marker("shared", "another-id-0001"), False),  # replayed for another request
        (lambda: sign_marker("shared", CID, now=time.time() - 3600), False),  # stale
        (lambda: "v1:notanumber:abc", False),
    ],
)
def test_marker_with_secret_must_be_signed(
    settings: object, json_logs: LogLines, marker: object, synthetic: bool
) -> None:
    settings.WORKFLOW_EXPORTER = {"SYNTHETIC_SECRET": "shared"}  # type: ignore[attr-defined]
    Client().get("/t/log/", headers={"X-Request-ID": CID, "X-Synthetic": marker()})  # type: ignore[operator]
    assert request_line(json_logs)["synthetic"] is synthetic


def test_marker_round_trip() -> None:
    now = 1_800_000_000.0
    value = sign_marker("s", "abcdefgh", now=now)
    assert value.startswith("v1:1800000000:")
    assert verify_marker(value, "s", "abcdefgh", now=now + 299)
    assert not verify_marker(value, "s", "abcdefgh", now=now + 301)
