"""The pages router's file conventions: every file under ``pages/`` (or ``src/pages/``) with a page extension is a
route, ``index`` naming its folder; ``pages/api/`` holds API routes (any method; the handler decides). ``_app``
wraps every page (its imports count for every page's calls); ``_document`` and ``_error`` are not routes.

Source: Next.js docs (pages router), "Pages and Layouts", "Dynamic Routes", "API Routes", "Custom App",
"Custom Document".
"""

from __future__ import annotations

from ._engine import Engine
from ._model import Problem, Route
from ._routes import decode_segment, route_string, router_dir, split_ext
from .next_config import NextConfig

SPECIAL = ("_app", "_document", "_error")


def discover(engine: Engine, config: NextConfig, problems: list[Problem]) -> list[Route]:
    base = router_dir(engine.tree.dirs, "pages")
    if base is None:
        return []
    app = next((rel for rel in sorted(engine.tree.files) if rel.startswith(f"{base}/_app.")
                and split_ext(rel.rsplit("/", 1)[1], config.page_extensions)), None)  # fmt: skip
    routes: dict[str, Route] = {}
    for rel in sorted(engine.tree.files):
        if not rel.startswith(base + "/"):
            continue
        inner = rel[len(base) + 1 :]
        folders, _, name = inner.rpartition("/")
        split = split_ext(name, config.page_extensions)
        if split is None:
            continue
        stem = split[0]
        if not folders and stem in SPECIAL:
            continue
        segments = [decode_segment(p) for p in folders.split("/")] if folders else []
        if stem != "index":
            segments.append(decode_segment(stem))
        route = route_string(segments)
        is_api = segments[:1] == ["api"]
        if route in routes:
            problems.append(Problem("route", f"two files resolve to {route}: {routes[route].file} and {rel}", rel))
            continue
        files = (rel,) if is_api or app is None else (app, rel)
        routes[route] = Route(route, "api" if is_api else "page", "pages", rel, files)
    return [routes[key] for key in sorted(routes)]
