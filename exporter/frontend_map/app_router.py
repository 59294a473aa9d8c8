"""The app router's file conventions: which files under ``app/`` (or ``src/app/``) are routes, at which URL.

* ``page`` makes a route segment public; ``route`` is a route handler (its exported ``GET``, ``POST``… are its
  methods); a folder with both is a conflict Next.js refuses, reported as a ``route`` problem.
* ``layout`` and ``template`` wrap every page below them: their imports count for those pages' calls.
* ``(group)`` folders leave the URL; ``[id]`` is dynamic, ``[...slug]`` catch-all, ``[[...slug]]`` optional
  catch-all (written as Next.js writes them).
* ``@slot`` folders are parallel routes: not in the URL; a slot's page belongs to the route at its URL.
* ``(.)x``, ``(..)x``, ``(..)(..)x``, ``(...)x`` are intercepting routes: they show route ``x`` (one level here,
  one or two up, from the root; counted in route segments, not folders) when navigated to from the folder they
  sit in. Listed as routes of their own with ``intercepts``.
* ``_folder`` is private: it and everything below it is not routable (``%5Ffolder`` is a URL segment ``_folder``).

Source: Next.js docs, "Project Structure", "Route Groups", "Dynamic Routes", "Parallel Routes", "Intercepting
Routes", "Private Folders", "Route Handlers", "src Directory".
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from ._engine import Engine
from ._model import Problem, Route
from ._routes import HTTP_METHODS, decode_segment, route_string, router_dir, split_ext
from .next_config import NextConfig

INTERCEPT_PREFIXES = (("(..)(..)", 2), ("(...)", -1), ("(..)", 1), ("(.)", 0))
WRAPPERS = ("layout", "template")


@dataclass
class _Entry:
    rel: str
    kind: str  # page or route
    route: str
    slot: str | None
    intercepts: str | None


def discover(engine: Engine, config: NextConfig, problems: list[Problem]) -> list[Route]:
    base = router_dir(engine.tree.dirs, "app")
    if base is None:
        return []
    entries: list[_Entry] = []
    wrappers: dict[str, list[str]] = {}  # folder -> its layout/template files
    for rel in sorted(engine.tree.files):
        if not rel.startswith(base + "/"):
            continue
        inner = rel[len(base) + 1 :]
        folders, _, name = inner.rpartition("/")
        split = split_ext(name, config.page_extensions)
        if split is None:
            continue
        stem = split[0]
        parts = folders.split("/") if folders else []
        if any(part.startswith("_") for part in parts):
            continue  # private folder
        if stem in WRAPPERS:
            wrappers.setdefault(folders, []).append(rel)
        elif stem in ("page", "route"):
            url, slot, intercepts = _url(parts)
            entries.append(_Entry(rel, stem, url, slot, intercepts))
    groups: dict[tuple[str, str | None, str], list[_Entry]] = {}
    for entry in entries:
        groups.setdefault((entry.route, entry.intercepts, entry.kind), []).append(entry)
    routes: list[Route] = []
    for (url, intercepts, kind), members in groups.items():
        if kind == "page" and (url, intercepts, "route") in groups:
            problems.append(Problem("route", f"a page and a route handler both answer {url}; Next.js refuses this",
                                    members[0].rel))  # fmt: skip
        if kind == "route":
            entry = members[0]
            module = engine.module(entry.rel)
            table = engine.export_table(module) if module is not None else {}
            methods = tuple(method for method in HTTP_METHODS if method in table)
            routes.append(Route(url, "route-handler", "app", entry.rel, (entry.rel,), methods))
            continue
        mains = [entry for entry in members if entry.slot is None]
        for extra in mains[1:]:
            problems.append(Problem("route", f"two pages resolve to {url}: {mains[0].rel} and {extra.rel} (route "
                                    "groups cannot share a URL)", extra.rel))  # fmt: skip
        slots = sorted((entry for entry in members if entry.slot is not None), key=lambda e: e.rel)
        ordered = mains[:1] + slots
        files: list[str] = []
        for entry in ordered:  # every page's layouts and templates, outermost first, then the pages
            folders = posixpath.dirname(entry.rel[len(base) + 1 :])
            levels = folders.split("/") if folders else []
            for depth in range(len(levels) + 1):
                folder = "/".join(levels[:depth])
                files += [f for f in sorted(wrappers.get(folder, []), key=_wrapper_order) if f not in files]
        files += [entry.rel for entry in ordered]
        first = ordered[0]
        routes.append(Route(url, "page", "app", first.rel, tuple(files), slot=first.slot, intercepts=intercepts))
    return sorted(routes, key=lambda r: (r.route, r.intercepts or "", r.kind))


def _url(parts: list[str]) -> tuple[str, str | None, str | None]:
    """(URL route, slot, folder route an intercepting route sits in) for the folders of a page."""
    segments: list[str] = []
    slot: str | None = None
    intercepts: str | None = None
    for part in parts:
        if part.startswith("@"):
            slot = part[1:]
            continue
        for prefix, levels in INTERCEPT_PREFIXES:
            if part.startswith(prefix):
                intercepts = route_string(segments)
                if levels == -1:
                    segments = []
                elif levels:
                    segments = segments[: max(0, len(segments) - levels)]
                part = part[len(prefix) :]
                break
        if part.startswith("(") and part.endswith(")"):
            continue
        segments.append(decode_segment(part))
    return route_string(segments), slot, intercepts


def _wrapper_order(rel: str) -> int:
    return 0 if posixpath.basename(rel).startswith("layout") else 1
