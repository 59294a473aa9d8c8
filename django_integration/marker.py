"""The synthetic-traffic marker the exporter sends and the Django integration checks.

Unsigned: any non-empty value of the marker header (``X-Synthetic: 1``). Signed, when both sides share a
secret: ``v1:<unix time>:<hex HMAC-SHA256 of "<unix time>:<correlation id>">``. The signature binds the
marker to the request's correlation ID and to a time window, so a captured header cannot mark other traffic.
"""

from __future__ import annotations

import hashlib
import hmac
import time

MAX_SKEW_SECONDS = 300


def _mac(secret: str, timestamp: int, correlation_id: str) -> str:
    message = f"{timestamp}:{correlation_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_marker(secret: str, correlation_id: str, now: float | None = None) -> str:
    timestamp = int(time.time() if now is None else now)
    return f"v1:{timestamp}:{_mac(secret, timestamp, correlation_id)}"


def verify_marker(value: str, secret: str, correlation_id: str, now: float | None = None) -> bool:
    parts = value.strip().split(":")
    if len(parts) != 3 or parts[0] != "v1" or not parts[1].isdigit():
        return False
    timestamp = int(parts[1])
    current = time.time() if now is None else now
    if abs(current - timestamp) > MAX_SKEW_SECONDS:
        return False
    return hmac.compare_digest(parts[2], _mac(secret, timestamp, correlation_id))
