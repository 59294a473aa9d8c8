"""Step kinds: one module each, all with the same functions, registered in STEP_KINDS.

A kind module provides ``parse`` (its YAML block), ``parse_expect``, ``parse_extract``, ``idempotent`` and
``run(step, spec, context, result)``. Adding a kind is a new module here and one line below.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import browser, http, sql
from ._base import RunContext, StepKind

# browser imports Playwright only when a step runs: without the browser extra, configs without browser steps load.
STEP_KINDS: Mapping[str, StepKind] = {"http": http, "sql": sql, "browser": browser}

__all__ = ["STEP_KINDS", "RunContext", "StepKind"]
