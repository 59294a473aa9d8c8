"""Telling the exporter's own traffic apart: the synthetic marker header, optionally HMAC-signed."""

from __future__ import annotations

from .conf import app_settings
from .marker import verify_marker


def is_synthetic(value: str | None, correlation_id: str) -> bool:
    """True when the marker header's value is present and, if a secret is configured, correctly signed."""
    if not value:
        return False
    secret = app_settings.synthetic_secret
    if not secret:
        return True
    return verify_marker(value, secret, correlation_id)
