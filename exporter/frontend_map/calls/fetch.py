"""``fetch(url, init)``: the global Fetch API, as the browser and Next.js' server (which extends it) define it.

The method is ``init.method`` (default ``GET``, as the Fetch standard says); ``url`` may be a string, a template,
``new URL(path, base)`` or ``new Request(url)``. A ``fetch`` that a module declares or imports itself is not
this one (it is a wrapper, found by ``wrappers``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._values import UNDEFINED, get_prop

if TYPE_CHECKING:
    from .._engine import CallSpec
    from . import Site

GLOBALS = ("fetch", "window.fetch", "globalThis.fetch", "self.fetch", "global.fetch")


def detect(site: Site) -> list[CallSpec] | None:
    from .._engine import CallSpec

    name = site.callee_text
    if name not in GLOBALS:
        return None
    if name == "fetch" and site.engine.lookup(site.module, site.callee_node, "fetch") is not None:
        return None  # a local or imported `fetch`: not the global one
    if not site.arg_nodes:
        return []
    init = site.arg(1)
    method = get_prop(init, "method") if not isinstance(init, type(UNDEFINED)) else UNDEFINED
    return [CallSpec("fetch", method, site.arg(0), UNDEFINED, site.location)]
