"""The demo's notification receiver (demo_shop/notifications.py) behind the demo's Alertmanager routing
(scripts/demo.py: the shipped alertmanager.yml, receivers pointed at the shop): a real Alertmanager delivers a
firing and a resolved notification to the receiver its severity routes to, and the page lists them; what is not
Alertmanager's webhook is refused with a clear 4xx and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from demo_shop.notifications import KEEP, MAX_BODY
from tests.harness import ShopServer, start_alertmanager, start_shop, wait_until
from tests.harness.scripts import load_script


def demo_script() -> Any:
    return load_script("demo")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopServer]:
    workdir = tmp_path_factory.mktemp("notifications-shop")
    server = start_shop(workdir, f"sqlite:///{workdir / 'shop.sqlite3'}",
                        {"DEMO_NOTIFICATIONS_FILE": str(workdir / "notifications.jsonl")})  # fmt: skip
    yield server
    server.stop()


def listed(shop: ShopServer) -> list[dict[str, Any]]:
    answer = requests.get(f"{shop.url}/_demo/notifications/", headers={"Accept": "application/json"}, timeout=10)
    assert answer.status_code == 200
    notifications: list[dict[str, Any]] = answer.json()["notifications"]
    return notifications


def webhook(status: str = "firing", **alert: Any) -> dict[str, Any]:
    return {"version": "4", "status": status, "receiver": "tickets",
            "alerts": [{"status": status, "labels": {"alertname": "JourneyTest", "severity": "warning"},
                        "annotations": {"summary": "s", "description": "d"}, **alert}]}  # fmt: skip


def test_the_demo_routing_delivers_firing_and_resolved_to_the_page(shop: ShopServer, tmp_path: Path) -> None:
    config = demo_script().demo_alertmanager_config(int(shop.url.rsplit(":", 1)[1]))
    config["route"].update(group_wait="0s", group_interval="1s")  # the shipped timings, at test speed
    alertmanager = start_alertmanager(tmp_path / "am", config)
    try:
        labels = {"alertname": "JourneyOrphanedRows", "severity": "warning", "job": "demo-shop",
                  "relation": "product"}  # fmt: skip
        alert = {"labels": labels, "annotations": {"summary": "Rows point at parent rows that do not exist.",
                 "description": "3 rows of shop.OrderItem <b>point</b> nowhere.",
                 "runbook_url": "https://example.org/docs/runbooks/database.md#journeyorphanedrows"}}  # fmt: skip
        assert requests.post(f"{alertmanager.url}/api/v2/alerts", json=[alert], timeout=10).status_code == 200

        def arrived(status: str) -> dict[str, Any] | None:
            return next((n for n in listed(shop) if n["status"] == status), None)

        firing = wait_until(lambda: arrived("firing"), 60, "the firing notification")
        assert firing["receiver"] == "tickets"  # severity warning routes there
        (kept,) = firing["alerts"]
        assert kept["labels"] == labels and kept["description"] == "3 rows of shop.OrderItem <b>point</b> nowhere."

        now = datetime.now(UTC).isoformat()
        assert requests.post(f"{alertmanager.url}/api/v2/alerts", json=[{**alert, "endsAt": now}],
                             timeout=10).status_code == 200  # fmt: skip
        wait_until(lambda: arrived("resolved"), 60, "the resolved notification")

        page = requests.get(f"{shop.url}/_demo/notifications/", timeout=10)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert "JourneyOrphanedRows" in page.text and "resolved" in page.text and "firing" in page.text
        assert "&lt;b&gt;point&lt;/b&gt;" in page.text and "<b>point</b>" not in page.text  # escaped
        assert 'href="https://example.org/docs/runbooks/database.md#journeyorphanedrows"' in page.text
    finally:
        alertmanager.stop()


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("tickets", b"not json", 400, "not JSON"),
        ("tickets", json.dumps([1]).encode(), 400, "webhook JSON object"),
        ("tickets", json.dumps({**webhook(), "version": "3"}).encode(), 400, "version '4'"),
        ("tickets", json.dumps({**webhook(), "status": "maybe"}).encode(), 400, "'firing' or 'resolved'"),
        ("tickets", json.dumps({**webhook(), "alerts": {"a": 1}}).encode(), 400, "list of objects"),
        ("tickets", b"{" + b" " * MAX_BODY + b"}", 413, "over"),
        ("a%20b", json.dumps(webhook()).encode(), 400, "[A-Za-z0-9_-]"),
    ],
    ids=[
        "not JSON",
        "not an object",
        "another version",
        "unknown status",
        "alerts not a list",
        "over 1 MiB",
        "a receiver name with a space",
    ],
)
def test_what_is_not_a_webhook_is_refused_and_kept_nowhere(shop: ShopServer, path: str, body: bytes, status: int,
                                                           says: str) -> None:  # fmt: skip
    before = listed(shop)
    answer = requests.post(f"{shop.url}/_demo/notifications/{path}", data=body, timeout=10,
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == status and says in answer.json()["error"]
    assert listed(shop) == before


def test_only_web_links_become_links_and_the_list_is_bounded(shop: ShopServer) -> None:
    hostile = webhook(annotations={"summary": "<script>alert(1)</script>", "runbook_url": "javascript:alert(1)"})
    assert requests.post(f"{shop.url}/_demo/notifications/pager", json=hostile, timeout=10).status_code == 200
    page = requests.get(f"{shop.url}/_demo/notifications/", timeout=10).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "javascript:" not in page
    for _ in range(KEEP + 5 - len(listed(shop))):
        requests.post(f"{shop.url}/_demo/notifications/tickets", json=webhook(), timeout=10).raise_for_status()
    assert len(listed(shop)) == KEEP


def test_the_receiver_is_off_unless_configured(tmp_path: Path) -> None:
    shop = start_shop(tmp_path / "shop", f"sqlite:///{tmp_path / 'shop.sqlite3'}")
    try:
        for method in ("GET", "POST"):
            answer = requests.request(method, f"{shop.url}/_demo/notifications/tickets", json=webhook(), timeout=10)
            assert answer.status_code == 404, method
    finally:
        shop.stop()
