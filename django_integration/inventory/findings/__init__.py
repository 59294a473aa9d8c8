"""Finding kinds of the API inventory: one module each (``ID``, ``NAME``, ``find``), registered in FINDINGS.

Each is a Django system check warning with its own id (silence one with ``SILENCED_SYSTEM_CHECKS``) and a
``finding`` label value of ``django_api_endpoint_findings``.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import anonymous_write, csrf_session_write, debug_view, list_detail, not_in_schema
from ._base import Finding, FindingKind

FINDINGS: Mapping[str, FindingKind] = {
    module.NAME: module for module in (anonymous_write, list_detail, not_in_schema, debug_view, csrf_session_write)
}

__all__ = ["FINDINGS", "Finding", "FindingKind"]
