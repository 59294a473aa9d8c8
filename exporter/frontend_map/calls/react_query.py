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

from .._values import Arr, Func, Obj, Package, Text, Unknown, get_prop

if TYPE_CHECKING:
    from .._engine import CallSpec
    from . import Site

PACKAGES = {"@tanstack/react-query", "react-query", "@tanstack/query-core"}
QUERIES = {"useQuery", "useSuspenseQuery", "useInfiniteQuery", "useSuspenseInfiniteQuery", "queryOptions",
           "infiniteQueryOptions", "prefetchQuery", "fetchQuery", "ensureQueryData"}  # fmt: skip
MUTATIONS = {"useMutation"}


def detect(site: Site) -> list[CallSpec] | None:
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
    if not isinstance(options, Obj):  # v3's positional form: (key, fn, options)
        options = Obj({"queryKey": options, "queryFn": site.arg(1)})
    if name in MUTATIONS:
        function = get_prop(options, "mutationFn")
        if isinstance(function, Func):
            variables = Unknown("the variables passed to mutate(), known only at run time", "variables")
            return site.engine.instantiate(function, [variables], site.location)
        return []
    key = get_prop(options, "queryKey")
    function = get_prop(options, "queryFn")
    if isinstance(function, Func):
        context = Obj({"queryKey": key, "signal": Unknown("an AbortSignal"), "pageParam": Unknown("the page")})
        return site.engine.instantiate(function, [context], site.location)
    if name in ("useQuery", "useSuspenseQuery") and isinstance(key, Arr) and key.items:
        first = key.items[0]
        if isinstance(first, Text) and first.literal is not None and first.literal.startswith("/"):
            note = "no queryFn: the default query function is taken to GET queryKey[0]"
            return [CallSpec("react-query", Text.of("GET"), first, UNDEFINED, site.location, notes=(note,))]
    return []
