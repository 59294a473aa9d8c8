"""Check kinds: one module each, all with ``NAME``, ``plan`` and ``judge`` (see ``_base``), registered in CHECKS.

Names are schemathesis' where it has the check (``not_a_server_error``, ``status_code_conformance``,
``content_type_conformance``, ``response_schema_conformance``, ``ignored_auth``), plus ``invalid_payload_rejected``
and ``cors_preflight``. Adding a kind is a new module here, one line below and its name in
``synthetic.contracts.config.CHECK_NAMES``.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import (
    content_type_conformance,
    cors_preflight,
    ignored_auth,
    invalid_payload_rejected,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from ._base import Answer, CheckKind, Probe, SweepContext, Verdict

CHECKS: Mapping[str, CheckKind] = {
    module.NAME: module
    for module in (
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        ignored_auth,
        invalid_payload_rejected,
        cors_preflight,
    )
}

__all__ = ["CHECKS", "Answer", "CheckKind", "Probe", "SweepContext", "Verdict"]
