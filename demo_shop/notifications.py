"""The demo's notification receiver: Alertmanager's webhooks land here, and a page lists them.

``make demo`` points the shipped Alertmanager routing's receivers (``pager``, ``tickets``) at
``POST /_demo/notifications/<receiver>``; ``GET /_demo/notifications/`` lists what arrived, newest first, firing and
resolved (JSON with ``Accept: application/json``). It exists only when ``DEMO_NOTIFICATIONS_FILE`` names the file
that keeps them (JSON lines, shared by every gunicorn worker through a lock; the newest ``KEEP`` are kept).

Bounds: a webhook body over ``MAX_BODY`` bytes is 413, one that is not Alertmanager's webhook JSON (version 4) is
400 naming the problem; per notification at most ``MAX_ALERTS`` alerts and ``MAX_TEXT`` characters per text field are
kept. What is shown is what Alertmanager sent: the labels and annotations of the shipped rules, which never carry
secrets.
"""

from __future__ import annotations

import fcntl
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.utils.html import format_html, format_html_join
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

MAX_BODY = 1024 * 1024
MAX_ALERTS = 100
MAX_TEXT = 2000
KEEP = 500
RECEIVER = re.compile(r"[A-Za-z0-9_-]{1,64}")
SHOWN_LABELS = ("alertname", "severity")


def _file() -> Path:
    where = getattr(settings, "DEMO_NOTIFICATIONS_FILE", "")
    if not where:
        raise Http404("the notification receiver is off; set DEMO_NOTIFICATIONS_FILE")
    return Path(where)


@contextmanager
def _locked(path: Path) -> Iterator[Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield file
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def _text(value: object) -> str:
    return str(value)[:MAX_TEXT] if isinstance(value, str) else ""


def parse_webhook(payload: object) -> tuple[dict[str, Any] | None, str]:
    """Alertmanager's webhook (version 4) → the notification kept, or (None, the problem)."""
    if not isinstance(payload, dict):
        return None, "expected Alertmanager's webhook JSON object"
    if payload.get("version") != "4":
        return None, f"expected webhook version '4', got {str(payload.get('version'))[:20]!r}"
    if payload.get("status") not in ("firing", "resolved"):
        return None, "status must be 'firing' or 'resolved'"
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        return None, "alerts must be a list of objects"
    kept = []
    for alert in alerts[:MAX_ALERTS]:
        labels = alert.get("labels") if isinstance(alert.get("labels"), dict) else {}
        annotations = alert.get("annotations") if isinstance(alert.get("annotations"), dict) else {}
        kept.append({
            "status": _text(alert.get("status")),
            "labels": {_text(k)[:200]: _text(v) for k, v in list(labels.items())[:50]},
            "summary": _text(annotations.get("summary")),
            "description": _text(annotations.get("description")),
            "runbook_url": _text(annotations.get("runbook_url")),
            "starts_at": _text(alert.get("startsAt")),
            "ends_at": _text(alert.get("endsAt")),
        })  # fmt: skip
    return {"status": payload["status"], "alerts": kept, "truncated": len(alerts) > MAX_ALERTS}, ""


def record(path: Path, receiver: str, notification: dict[str, Any]) -> None:
    """Append one notification (a JSON line) and keep the newest ``KEEP``."""
    line = json.dumps({"received_at": time.time(), "receiver": receiver, **notification}, separators=(",", ":"))
    with _locked(path) as file:
        file.seek(0)
        lines = file.read().splitlines()[-(KEEP - 1) :]
        file.seek(0)
        file.truncate()
        file.write("".join(f"{kept}\n" for kept in [*lines, line]))


def notifications(path: Path) -> list[dict[str, Any]]:
    """What arrived, newest first."""
    with _locked(path) as file:
        file.seek(0)
        lines = file.read().splitlines()
    return [json.loads(line) for line in reversed(lines)]


def _page(entries: list[dict[str, Any]]) -> str:
    rows = []
    for entry in entries:
        received = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(entry["received_at"]))
        for alert in entry["alerts"]:
            labels = alert["labels"]
            others = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in SHOWN_LABELS)
            url = alert["runbook_url"]
            runbook = format_html('<a href="{}">runbook</a>', url) if url.startswith(("https://", "http://")) else ""
            status = alert["status"] or entry["status"]
            name, severity = labels.get("alertname", ""), labels.get("severity", "")
            rows.append((received, entry["receiver"], status, name, severity, alert["summary"], alert["description"],
                         others, runbook))  # fmt: skip
    body = format_html_join(
        "\n",
        '<tr class="{}"><td>{} UTC</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><b>{}</b><br>{}'
        "<br><small>{}</small></td><td>{}</td></tr>",
        ((row[2], *row) for row in rows),
    )
    empty = "" if rows else format_html('<tr><td colspan="7">{}</td></tr>', "No notification has arrived yet.")
    return str(
        format_html(
            "<!doctype html><html><head><meta charset=utf-8><title>Notifications</title>"
            '<meta http-equiv="refresh" content="10"><style>body{{font-family:sans-serif}}'
            "td,th{{border-bottom:1px solid #ddd;padding:4px;vertical-align:top;text-align:left}}"
            ".firing td:nth-child(3){{color:#b00}}.resolved td:nth-child(3){{color:#070}}</style></head><body>"
            "<h1>Notifications</h1><p>What Alertmanager sent to the demo's receivers, newest first (refreshes every "
            "10 s).</p><table><tr><th>received</th><th>receiver</th><th>status</th><th>alert</th><th>severity</th>"
            "<th>what it says</th><th></th></tr>{}{}</table></body></html>",
            body,
            empty,
        )
    )


@extend_schema(exclude=True)  # the demo's receiver, not part of the shop's API
class NotificationsView(APIView):
    """``POST /_demo/notifications/<receiver>``: Alertmanager's webhook; ``GET /_demo/notifications/``: the list."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        _file()
        super().initial(request, *args, **kwargs)

    def get(self, request: Request, receiver: str = "") -> HttpResponse:
        entries = notifications(_file())
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"notifications": entries})
        return HttpResponse(_page(entries), content_type="text/html; charset=utf-8")

    def post(self, request: Request, receiver: str = "") -> HttpResponse:
        if not RECEIVER.fullmatch(receiver):
            return JsonResponse({"error": "POST to /_demo/notifications/<receiver>, a name of [A-Za-z0-9_-]"},
                                status=400)  # fmt: skip
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            return JsonResponse({"error": f"the body is over {MAX_BODY} bytes"}, status=413)
        try:
            payload = json.loads(request.body)
        except ValueError:
            return JsonResponse({"error": "the body is not JSON"}, status=400)
        notification, problem = parse_webhook(payload)
        if notification is None:
            return JsonResponse({"error": problem}, status=400)
        record(_file(), receiver, notification)
        return JsonResponse({"status": "received"})
