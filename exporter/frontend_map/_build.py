"""Building the map: walk the tree, read the config, list the routes, follow each route's imports, resolve and judge
every call, and list the backend operations no route uses."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from . import app_router, pages_router
from ._dropped import dropped_instances, dropped_wrappers
from ._engine import CallSpec, Engine
from ._files import MapLimits, SourceTree
from ._model import Call, FrontendMap, Operation, Problem, Route, RouteCall
from ._modules import Resolver, load_aliases
from ._resolve import finalize
from .matching import Matcher
from .next_config import read_next_config
from .openapi import operations, server_origins

# Next.js' order for production builds (docs, "Environment Variables"): the first file that sets a name wins.
ENV_FILES = (".env.production.local", ".env.local", ".env.production", ".env")
CONVENTIONS = (app_router.discover, pages_router.discover)


class FrontendMapError(ValueError):
    """The map cannot be made at all (the source folder is missing); the message says why."""


def _reached(owner: tuple[str, str | None] | None, rel: str, whole: set[str], touched: set[str],
             used: set[tuple[str, str, str | None]]) -> bool:  # fmt: skip
    """Whether a route uses the declaration a call is written in (module-level code: whether the module runs)."""
    if owner is None:
        return rel in touched
    name, prop = owner
    return rel in whole or (rel, name, None) in used or (rel, name, prop) in used


def _chain(spec: CallSpec, rel: str, module_chain: tuple[str, ...], chains: dict[str, tuple[str, ...]]) -> tuple[
        str, ...]:  # fmt: skip
    """The module chain to a call: to the declaration it is written in when a route reaches that one by name."""
    owner = spec.owner
    if owner is None:
        return module_chain
    return chains.get(f"{rel}#{owner[0]}#{owner[1] or ''}") or chains.get(f"{rel}#{owner[0]}#") or module_chain


def _add(route: Route, spec: CallSpec, call: Call, chain: tuple[str, ...],
         calls: dict[tuple[str, int, str, str, str], Call], matcher: Matcher, document: dict[str, Any] | None,
         kind: str = "") -> None:  # fmt: skip
    """One call of a route: judged once (the first route that reaches it), listed for every route that does."""
    key = (*call.key, kind or (spec.via[0] if spec.via else ""))
    if key not in calls:
        calls[key] = call
        if document is not None:
            matcher.judge(call)
        elif call.status == "pending":
            call.status = "unjudged"  # routes and calls only: nothing to judge against
    route.calls.append(RouteCall(calls[key], chain))


def parse_operation(text: str) -> Operation:
    """``"GET /readyz"`` as an operation; ValueError naming what is wrong."""
    method, _, path = text.strip().partition(" ")
    path = path.strip()
    if method.upper() not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS") or not path.startswith("/"):
        raise ValueError(f"{text!r}: expected 'METHOD /path', e.g. 'GET /readyz'")
    return Operation(method.upper(), path)


def read_env_files(tree: SourceTree) -> dict[str, str]:
    """``NAME=value`` lines of the tree's ``.env`` files (quotes removed, ``export`` and comments allowed)."""
    env: dict[str, str] = {}
    for name in ENV_FILES:
        if not tree.exists(name):
            continue
        text = tree.text(name) or ""
        for raw in text.splitlines():
            entry = raw.strip()
            if not entry or entry.startswith("#") or "=" not in entry:
                continue
            key, _, value = entry.removeprefix("export ").partition("=")
            key, value = key.strip(), value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            elif " #" in value:
                value = value.split(" #", 1)[0].rstrip()
            env.setdefault(key, value)
    return env


def build_map(
    source: str | Path,
    document: dict[str, Any] | None,
    *,
    openapi_location: str | None = None,
    env: dict[str, str] | None = None,
    backend_origins: set[str] | None = None,
    limits: MapLimits | None = None,
    extra_operations: list[Operation] | None = None,
) -> FrontendMap:
    """The map of the Next.js app at ``source`` against the OpenAPI ``document`` (None: routes and calls only,
    nothing judged). Raises FrontendMapError when ``source`` is not a folder; every other problem is reported in
    the map's ``problems``. ``extra_operations`` are served by the backend outside its document (``GET /readyz``)."""
    root = Path(source)
    if not root.is_dir():
        raise FrontendMapError(f"{source}: not a folder" if root.exists() else f"{source}: no such folder")
    limits = limits or MapLimits()
    deadline = time.monotonic() + limits.seconds
    tree = SourceTree.walk(root, limits, deadline)
    problems: list[Problem] = []
    variables = {**read_env_files(tree), **(env or {})}
    aliases = load_aliases(tree, problems)
    engine = Engine(tree, Resolver(tree, aliases), variables, problems)
    config = read_next_config(engine, problems)
    for name, value in config.env.items():
        engine.env.setdefault(name, value)
    routes: list[Route] = []
    for discover in CONVENTIONS:
        routes += discover(engine, config, problems)
    result = FrontendMap(str(source), openapi_location, base_path=config.base_path, routes=routes,
                         rewrites=[r.to_json() for r in config.rewrites])  # fmt: skip
    ops = (operations(document) if document is not None else []) + list(extra_operations or [])
    result.operations = ops
    origins = set(backend_origins or ())
    if document is not None:
        origins |= server_origins(document)
    if openapi_location and openapi_location.startswith(("http://", "https://")):
        from urllib.parse import urlsplit

        parts = urlsplit(openapi_location)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    matcher = Matcher(config, routes, ops, origins)
    calls: dict[tuple[str, int, str, str, str], Call] = {}
    lives: list[tuple[Route, set[str], set[str], set[tuple[str, str, str | None]], dict[str, tuple[str, ...]]]] = []
    for route in routes:
        if tree.expired():
            problems.append(Problem("time", f"the time bound of {limits.seconds:g} s ran out; routes from "
                                    f"{route.route} on have no calls"))  # fmt: skip
            break
        for rel in route.files:
            module = engine.module(rel)
            if module is None or module.parsed is None:
                route.problems.append(f"{rel} could not be parsed: its calls are unknown")
        whole, touched, used, chains = engine.live(list(route.files))
        lives.append((route, whole, touched, used, chains))
        for rel, module_chain in sorted(chains.items(), key=lambda item: (len(item[1]), item[0])):
            if "#" in rel:
                continue
            module = engine.module(rel)
            if module is None:
                continue
            for spec in engine.module_calls(module):
                if not _reached(spec.owner, rel, whole, touched, used):
                    continue
                _add(route, spec, finalize(spec), _chain(spec, rel, module_chain, chains), calls, matcher, document)
    # Every route's calls are known: the wrappers no call site filled in and the axios instances no call went
    # through are named now, as unresolved calls of the routes that reach them.
    reached = sorted({rel for live in lives for rel in live[4] if "#" not in rel})
    for rel in reached:
        module = engine.module(rel)
        if module is None:
            continue
        for spec, call in [*dropped_wrappers(engine, module), *dropped_instances(engine, module)]:
            for route, whole, touched, used, chains in lives:
                if rel in chains and _reached(spec.owner, rel, whole, touched, used):
                    _add(route, spec, call, _chain(spec, rel, chains[rel], chains), calls, matcher, None, "dropped")
    for route in routes:
        route.calls.sort(key=lambda rc: (rc.call.location.file, rc.call.location.line, rc.call.method or "",
                                         rc.call.path or ""))  # fmt: skip
    result.calls = sorted(calls.values(), key=lambda c: (c.location.file, c.location.line, c.method or "",
                                                         c.path or ""))  # fmt: skip
    if document is not None:
        result.unused_operations = matcher.unused()
    if engine.depth_problems:
        problems.append(Problem("depth", f"{engine.depth_problems} value(s) were nested deeper than "
                                f"{limits.max_eval_depth} and are unknown"))  # fmt: skip
    result.problems = [*tree.problems, *problems]
    return result
