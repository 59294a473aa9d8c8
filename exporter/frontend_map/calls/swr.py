"""SWR: ``useSWR(key, fetcher)``, ``useSWRImmutable``, ``useSWRMutation(key, fetcher)``. SWR calls the fetcher
with the key as its one argument (SWR 2: an array key is passed whole), so the fetcher, a wrapper, is put in with
the key; a ``null`` branch of a conditional key (``id ? `/api/x/${id}` : null``) is SWR's "don't fetch yet".

Without a fetcher argument SWR uses the one from ``<SWRConfig value={{fetcher}}>``: the key is then taken as a
``GET`` of that URL, the common global fetcher, and the call says so in its notes.

Source: SWR's documentation, "Arguments" and "Global Configuration".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._parse import text
from .._values import Func, Package, Text, Undefined, Unknown, describe

if TYPE_CHECKING:
    from .._engine import CallSpec
    from . import Site

PACKAGES = {"swr", "swr/immutable", "swr/mutation", "swr/infinite"}
HOOKS = {"default", "useSWR", "useSWRImmutable", "useSWRMutation"}


def detect(site: Site) -> list[CallSpec] | None:
    from .._dropped import makes_calls
    from .._engine import CallSpec, Ctx
    from .._values import UNDEFINED

    callee = site.callee
    if not (isinstance(callee, Package) and callee.package in PACKAGES and callee.name in HOOKS):
        return None
    key = site.arg(0)
    notes: tuple[str, ...] = ()
    if callee.package == "swr/infinite":  # useSWRInfinite(getKey, fetcher): the key of page `pageIndex`
        if isinstance(key, Func):
            page = Unknown("the page index", "pageIndex")
            previous = Unknown("the previous page's data", "previousPageData")
            key = site.engine.inline(key, [page, previous], Ctx(), site.callee_text)
        notes = ("useSWRInfinite: the key of one page",)
    fetcher = site.arg(1)
    if isinstance(fetcher, Func):
        specs = site.engine.instantiate(fetcher, [key], site.location)
        if not specs and not makes_calls(site.engine, fetcher):
            reason = (f"the fetcher `{text(site.arg_nodes[1])[:60]}` makes no fetch or axios call the map reads, "
                      "so how the key is requested is unknown")  # fmt: skip
            return [CallSpec("swr", Unknown(reason), key, UNDEFINED, site.location, notes=notes)]
        return [_styled(spec, notes) for spec in specs]
    if isinstance(fetcher, Undefined) or len(site.arg_nodes) < 2:
        note = "no fetcher argument: the SWRConfig fetcher is taken to GET the key"
        return [CallSpec("swr", Text.of("GET"), key, UNDEFINED, site.location, notes=(*notes, note))]
    reason = (f"the fetcher `{text(site.arg_nodes[1])[:60]}` is {describe(fetcher)}, which the map cannot read, so how "
              "the key is requested is unknown")  # fmt: skip
    return [CallSpec("swr", Unknown(reason), key, UNDEFINED, site.location, notes=notes)]


def _styled(spec: CallSpec, notes: tuple[str, ...]) -> CallSpec:
    from dataclasses import replace

    return replace(spec, notes=(*spec.notes, *notes, "through an SWR fetcher"))
