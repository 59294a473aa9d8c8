"""TanStack Query (React Query): ``useQuery``, ``useSuspenseQuery``, ``useInfiniteQuery``, ``queryOptions``,
``useMutation``, ``prefetchQuery``/``fetchQuery``. Calls written inside an inline ``queryFn``/``mutationFn`` are
found where they are written; this style adds what depends on the function's argument: TanStack passes ``queryFn``
a ``QueryFunctionContext`` (``{queryKey, signal, pageParam}``), and ``mutationFn`` the variables given to
``mutate()``, which are known only at run time.

Without a ``queryFn`` the QueryClient's default query function runs; the docs' example fetches ``queryKey[0]``,
so a string first key element is taken as a ``GET`` of it, with a note.

Source: TanStack Query's documentation, "Query Functions" and "Default Query Function".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._values import Arr, Func, Obj, Package, Text, Undefined, Unknown, describe, get_prop

if TYPE_CHECKING:
    from .._engine import CallSpec
    from . import Site

PACKAGES = {"@tanstack/react-query", "react-query", "@tanstack/query-core"}
QUERIES = {"useQuery", "useSuspenseQuery", "useInfiniteQuery", "useSuspenseInfiniteQuery", "queryOptions",
           "infiniteQueryOptions", "prefetchQuery", "fetchQuery", "ensureQueryData"}  # fmt: skip
MUTATIONS = {"useMutation"}


def detect(site: Site) -> list[CallSpec] | None:
    from .._dropped import makes_calls
    from .._engine import CallSpec
    from .._values import UNDEFINED

    callee = site.callee
    name = ""
    if isinstance(callee, Package) and callee.package in PACKAGES:
        name = callee.name
    else:
        _, prop = site.member_parts()
        if prop in {"prefetchQuery", "fetchQuery", "ensureQueryData"}:
            name = prop
    if name not in QUERIES and name not in MUTATIONS:
        return None
    options = site.arg(0)
    literal = bool(site.arg_nodes) and site.arg_nodes[0].type == "object"
    if not isinstance(options, Obj):  # v3's positional form: (key, fn, options)
        literal = len(site.arg_nodes) > 1 or (bool(site.arg_nodes) and site.arg_nodes[0].type in ("array", "string"))
        options = Obj({"queryKey": options, "queryFn": site.arg(1)})
    field = "mutationFn" if name in MUTATIONS else "queryFn"
    function = get_prop(options, field)
    if isinstance(function, Func):
        if name in MUTATIONS:
            variables = Unknown("the variables passed to mutate(), known only at run time", "variables")
            specs = site.engine.instantiate(function, [variables], site.location)
        else:
            key = get_prop(options, "queryKey")
            context = Obj({"queryKey": key, "signal": Unknown("an AbortSignal"), "pageParam": Unknown("the page")})
            specs = site.engine.instantiate(function, [context], site.location)
        if specs or makes_calls(site.engine, function):
            return specs
        return [_unknown(site, f"its {field} makes no fetch or axios call the map reads")]
    if not isinstance(function, Undefined):
        return [_unknown(site, f"its {field} is {describe(function)}, which the map cannot read")]
    key = get_prop(options, "queryKey")
    if name in MUTATIONS:
        return [_unknown(site, "it has no mutationFn: the QueryClient's mutation defaults make the request")]
    if name in ("useQuery", "useSuspenseQuery") and isinstance(key, Arr) and key.items:
        first = key.items[0]
        if isinstance(first, Text) and first.literal is not None and first.literal.startswith("/"):
            note = "no queryFn: the default query function is taken to GET queryKey[0]"
            return [CallSpec("react-query", Text.of("GET"), first, UNDEFINED, site.location, notes=(note,))]
    if literal and name not in ("queryOptions", "infiniteQueryOptions"):
        # options built here without a queryFn: the QueryClient's default query function decides the request
        # (options from a queryOptions() helper are reported where the helper is called)
        return [_unknown(site, "it has no queryFn and queryKey[0] is not a path: the QueryClient's default query "
                         "function makes the request")]  # fmt: skip
    return []


def _unknown(site: Site, why: str) -> CallSpec:
    from .._engine import CallSpec
    from .._values import UNDEFINED

    url = Unknown(why, f"{site.callee_text[:40]}(…)")
    if site.callee_text.rsplit(".", 1)[-1] in MUTATIONS:  # a mutation's method is the mutation function's
        return CallSpec("react-query", Unknown("the method of a mutation the map cannot read"), url, UNDEFINED,
                        site.location)  # fmt: skip
    return CallSpec("react-query", UNDEFINED, url, UNDEFINED, site.location)
