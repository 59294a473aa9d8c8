"""Telling the exporter's own traffic apart: the synthetic marker header, optionally HMAC-signed."""

from __future__ import annotations

from collections.abc import Mapping

from synthetic.marker import verify_marker

from .conf import app_settings


def is_synthetic(headers: Mapping[str, str], correlation_id: str) -> bool:
    """True when the marker is present and, if a secret is configured, its signature is valid."""
    value = headers.get(app_settings.synthetic_header)
    if not value:
        return False
    secret = app_settings.synthetic_secret
    if not secret:
        return True
    return verify_marker(value, secret, correlation_id)
