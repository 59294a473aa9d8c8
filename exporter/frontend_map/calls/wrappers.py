"""Wrappers: a function of the tree that calls ``fetch`` or axios with its own parameters, such as an API client
module's ``get<T>(path)`` or ``apiFetch(path, init)``, an object of such methods, or a class whose methods call
an axios instance held in a field. Each call of the wrapper is a call, at the wrapper's call site, with its
arguments put in; the wrapper's own line is listed in the call's ``via``.

A call through an import that cannot be resolved (a missing file, an alias without ``tsconfig.json``) whose
first argument is a literal path is reported as unresolved, with the import's problem as the reason: a method
named like an HTTP verb (``api.get('/x')``) gives the method. Nothing that looks like an API call is dropped
without a word.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._values import Func, Text, Unknown

if TYPE_CHECKING:
    from .._engine import CallSpec
    from . import Site

VERBS = {"get": "GET", "post": "POST", "put": "PUT", "patch": "PATCH", "delete": "DELETE", "head": "HEAD",
         "options": "OPTIONS"}  # fmt: skip


def detect(site: Site) -> list[CallSpec] | None:
    from .._engine import MISSING_IMPORT, CallSpec
    from .._values import UNDEFINED

    callee = site.callee
    if isinstance(callee, Func):
        if not site.engine.summary(callee):
            return None
        return site.engine.instantiate(callee, site.args(), site.location)
    if isinstance(callee, Unknown) and callee.reason.startswith(MISSING_IMPORT) and site.arg_nodes:
        first = site.arg(0)
        literal = first.parts[0] if isinstance(first, Text) and first.parts else None
        if isinstance(literal, str) and literal.startswith(("/", "http://", "https://")):
            _, prop = site.member_parts()
            method = Text.of(VERBS[prop]) if prop in VERBS else Unknown("the method of a call through an "
                                                                        "unresolved import")  # fmt: skip
            reason = f"{site.callee_text}: {callee.reason}"
            return [CallSpec("wrapper", method, Unknown(reason, ""), UNDEFINED, site.location,
                             notes=(f"the literal path given is {literal}",))]  # fmt: skip
    return None
