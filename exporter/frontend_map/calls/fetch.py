"""``fetch(url, init)``: the global Fetch API, as the browser and Next.js' server (which extends it) define it, and
functions that are ``fetch``: a value typed ``typeof fetch`` (a module's ``api(): typeof fetch``), and functions
of a package named as a fetch (``ofetch``, ``serverFetch``; a ``*Fetch`` factory given an options object, such as
``correlatedFetch({...})``, returns one).

The method is ``init.method`` (default ``GET``, as the Fetch standard says); ``url`` may be a string, a template,
``new URL(path, base)`` or ``new Request(url)``. A ``fetch`` that a module declares or imports itself from the
tree is not the global one (it is a wrapper, found by ``wrappers``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._values import UNDEFINED, FetchLike, Obj, Package, Undefined, get_prop

if TYPE_CHECKING:
    from .._engine import CallSpec
    from . import Site

GLOBALS = ("fetch", "window.fetch", "globalThis.fetch", "self.fetch", "global.fetch")


def detect(site: Site) -> list[CallSpec] | None:
    from .._engine import CallSpec, is_fetch_name

    name = site.callee_text
    notes: tuple[str, ...] = ()
    if name in GLOBALS:
        if name == "fetch" and site.engine.lookup(site.module, site.callee_node, "fetch") is not None:
            callee = site.callee
            if not (isinstance(callee, Package) and is_fetch_name(callee.name)):
                return None  # a local `fetch` of the tree: not the global one
    else:
        callee = site.callee
        if isinstance(callee, FetchLike):
            notes = (f"through {callee.origin}",)
        elif isinstance(callee, Package) and is_fetch_name(callee.name):
            if site.arg_nodes and isinstance(site.arg(0), Obj):
                return []  # a factory called with options: what it returns is the fetch
            notes = (f"through {callee.package}'s {callee.name}",)
        else:
            return None
    if not site.arg_nodes:
        return []
    init = site.arg(1)
    method = get_prop(init, "method") if not isinstance(init, Undefined) else UNDEFINED
    return [CallSpec("fetch", method, site.arg(0), UNDEFINED, site.location, notes=notes)]
