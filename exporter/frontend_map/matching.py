"""Judging calls: where each resolved call ends up, and whether the backend (or the app itself) answers it.

A call to a relative path goes through Next.js the way a request does (Next.js docs, ``rewrites``): ``basePath``
is taken off, the trailing-slash redirect is applied (``trailingSlash: false``, the default, redirects
``/api/x/`` to ``/api/x`` unless ``skipTrailingSlashRedirect`` is set), then ``beforeFiles`` rewrites, the app's
own route handlers and API routes, ``afterFiles`` rewrites, ``fallback`` rewrites. A rewrite to an absolute URL
sends it to the backend with the destination's path; one to a relative path is routed again. A relative call no
rewrite or route takes is judged against the backend as it is, with a note: it reaches the backend only when a
proxy in front of Next.js sends it there.

An absolute call goes to the backend when its origin is the backend's (the OpenAPI document's URL or ``servers``,
a rewrite destination, ``--backend-origin``) or its base came from an environment variable; other origins are
``external``, listed and not judged.

Path templates are compared segment by segment (rewrite sources strictly, trailing slash included, as Next.js'
``path-to-regexp`` matching does; backend paths strictly too, as Django's URL patterns are): a literal equals a
literal, a parameter (``{id}``, ``[id]``, ``:id``) matches any one segment, a catch-all (``[...slug]``, ``:path*``)
any run of them. The most literal match wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ._model import Call, Operation, Route
from .next_config import NextConfig, Rewrite

# A segment: ("lit", text) | ("var", name) one segment | ("many", name, min_count) a run of segments
Segment = tuple[str, ...]
_REWRITE_PARAM = re.compile(r"^:([A-Za-z_][A-Za-z0-9_]*)(\([^)]*\))?([*+?])?$")
_CAPTURE = re.compile(r"(/?):([A-Za-z_][A-Za-z0-9_]*)(\([^)]*\))?([*+?])?")


@dataclass(frozen=True)
class Pattern:
    segments: tuple[Segment, ...]
    trailing: bool


def call_pattern(path: str) -> Pattern:
    """A call's path template (``/api/products/{id}/``) as segments; a segment with a ``{hole}`` is a parameter."""
    trailing = path.endswith("/") and path != "/"
    segments = tuple(("var", s) if "{" in s else ("lit", s) for s in path.strip("/").split("/") if s)
    return Pattern(segments, trailing)


def openapi_pattern(path: str) -> Pattern:
    trailing = path.endswith("/") and path != "/"
    segments = tuple(("var", s) if "{" in s else ("lit", s) for s in path.strip("/").split("/") if s)
    return Pattern(segments, trailing)


def next_route_pattern(route: str) -> Pattern:
    segments: list[Segment] = []
    for s in route.strip("/").split("/"):
        if not s:
            continue
        if s.startswith("[[...") and s.endswith("]]"):
            segments.append(("many", s[5:-2], "0"))
        elif s.startswith("[...") and s.endswith("]"):
            segments.append(("many", s[4:-1], "1"))
        elif s.startswith("[") and s.endswith("]"):
            segments.append(("var", s[1:-1]))
        else:
            segments.append(("lit", s))
    return Pattern(tuple(segments), False)


def rewrite_pattern(source: str) -> Pattern:
    segments: list[Segment] = []
    for s in source.strip("/").split("/"):
        if not s:
            continue
        match = _REWRITE_PARAM.match(s)
        if s == "(.*)":
            segments.append(("many", "0", "0"))
        elif match is None:
            segments.append(("lit", s))
        elif match.group(3) == "*":
            segments.append(("many", match.group(1), "0"))
        elif match.group(3) == "+":
            segments.append(("many", match.group(1), "1"))
        elif match.group(3) == "?":
            segments.append(("many", match.group(1), "0", "1"))
        else:
            segments.append(("var", match.group(1)))
    return Pattern(tuple(segments), source.endswith("/") and source != "/")


def match(pattern: Pattern, call: Pattern, strict_slash: bool) -> tuple[int, dict[str, list[Segment]]] | None:
    """(literal segments matched, captures) when ``call`` fits ``pattern``; None otherwise."""
    if strict_slash and pattern.trailing != call.trailing:
        return None
    return _match(pattern.segments, call.segments, 0, {})


def _match(pattern: tuple[Segment, ...], call: tuple[Segment, ...], score: int,
           captures: dict[str, list[Segment]]) -> tuple[int, dict[str, list[Segment]]] | None:  # fmt: skip
    if not pattern:
        return (score, captures) if not call else None
    head, rest = pattern[0], pattern[1:]
    if head[0] == "many":
        minimum = int(head[2])
        maximum = int(head[3]) if len(head) > 3 else len(call)
        best = None
        for count in range(minimum, min(maximum, len(call)) + 1):
            found = _match(rest, call[count:], score, {**captures, head[1]: list(call[:count])})
            if found is not None and (best is None or found[0] > best[0]):
                best = found
        return best
    if not call:
        return None
    segment = call[0]
    if head[0] == "lit":
        if segment[0] == "lit":
            if segment[1] != head[1]:
                return None
            return _match(rest, call[1:], score + 2, captures)
        return _match(rest, call[1:], score, captures)  # a call's parameter may be this literal
    return _match(rest, call[1:], score + (1 if segment[0] == "var" else 0), {**captures, head[1]: [segment]})


def render(segments: list[Segment], trailing: bool) -> str:
    text = "/" + "/".join(s[1] if s[0] == "lit" else s[1] if s[1].startswith("{") else "{" + s[1] + "}"
                          for s in segments)  # fmt: skip
    return text + "/" if trailing and text != "/" else text


class Matcher:
    """Judges calls against the Next.js config, the app's own route handlers and the backend's operations."""

    def __init__(self, config: NextConfig, routes: list[Route], operations: list[Operation],
                 backend_origins: set[str]) -> None:  # fmt: skip
        self.config = config
        self.handlers = [r for r in routes if r.kind in ("route-handler", "api")]
        self.operations = operations
        self.patterns = [(op, openapi_pattern(op.path)) for op in operations]
        self.backend_origins = {o.rstrip("/") for o in backend_origins}
        for rewrite in config.rewrites:
            parts = urlsplit(rewrite.destination)
            if parts.scheme and parts.netloc:
                self.backend_origins.add(f"{parts.scheme}://{parts.netloc}")
        self.used: set[Operation] = set()

    def judge(self, call: Call) -> None:
        if call.status != "pending" or call.path is None or call.method is None:
            call.status = "unresolved"
            call.reason = call.reason or "the URL cannot be resolved statically"
            return
        if call.url is not None:
            origin = call.url[: len(call.url) - len(call.path)] if call.url.endswith(call.path) else call.url
            from_env = any(note.startswith("base URL from") for note in call.notes)
            if origin.rstrip("/") in self.backend_origins or from_env or origin.startswith("${"):
                self._backend(call, call.path)
            else:
                call.target, call.status, call.reason = "external", "external", f"another origin ({origin})"
            return
        self._relative(call, call.path, hops=0)

    def _relative(self, call: Call, path: str, hops: int) -> None:
        config = self.config
        original = path
        notes = list(call.notes)
        if not config.skip_trailing_slash_redirect and path != "/":
            last = path.rsplit("/", 1)[-1]
            if not config.trailing_slash and path.endswith("/"):
                notes.append(f"Next.js redirects {path} to {path.rstrip('/')} first (trailingSlash: false)")
                path = path.rstrip("/")
            elif config.trailing_slash and not path.endswith("/") and "." not in last:
                notes.append(f"Next.js redirects {path} to {path}/ first (trailingSlash: true)")
                path += "/"
        call.notes = tuple(notes)
        # basePath: routes and most rewrites see the path without it; a rewrite with basePath: false sees it whole
        whole = path
        inside = not config.base_path or path == config.base_path or path.startswith(config.base_path + "/")
        if config.base_path and inside:
            path = path[len(config.base_path) :] or "/"
        pattern, whole_pattern = call_pattern(path), call_pattern(whole)
        for phase in ("beforeFiles", "handlers", "afterFiles", "fallback"):
            if phase == "handlers":
                if inside and self._handler(call, pattern):
                    return
                continue
            for rewrite in config.rewrites:
                if rewrite.phase != phase or (rewrite.base_path and not inside):
                    continue
                found = match(rewrite_pattern(rewrite.source), pattern if rewrite.base_path else whole_pattern,
                              strict_slash=True)  # fmt: skip
                if found is None:
                    continue
                destination = _substitute(rewrite.destination, found[1])
                note = f"rewritten by {rewrite.source} -> {rewrite.destination}"
                if rewrite.conditional:
                    note += " (a conditional rewrite: has/missing; taken as applying)"
                call.notes = (*call.notes, note)
                parts = urlsplit(destination)
                if (parts.scheme and parts.netloc) or rewrite.env_origin:
                    self._backend(call, parts.path or "/")
                elif hops < 4:
                    self._relative(call, parts.path or "/", hops + 1)
                else:
                    call.status, call.reason = "unresolved", "rewrites loop"
                return
        if not inside:
            self._backend(call, original, f"{original} is outside basePath {config.base_path}: Next.js does not "
                          "serve it")  # fmt: skip
            return
        call.notes = (*call.notes, "no rewrite or route handler takes this path: it reaches the backend only if a "
                      "proxy in front of Next.js sends it there")  # fmt: skip
        self._backend(call, original if hops == 0 else path)

    def _handler(self, call: Call, pattern: Pattern) -> bool:
        best: tuple[int, Route] | None = None
        for route in self.handlers:
            found = match(next_route_pattern(route.route), pattern, strict_slash=False)
            if found is not None and (best is None or found[0] > best[0]):
                best = (found[0], route)
        if best is None:
            return False
        route = best[1]
        call.target, call.backend_path = "next", None
        methods = set(route.methods)
        if methods and "GET" in methods:
            methods.add("HEAD")
        if not methods or call.method in methods or call.method == "OPTIONS":
            call.status, call.operation = "matched", f"next {call.method} {route.route}"
        else:
            call.status = "method"
            call.operation = f"next {route.route}"
            call.reason = (
                f"the route handler {route.file} exports {', '.join(sorted(route.methods))}, not {call.method}"
            )
        return True

    def _backend(self, call: Call, path: str, reason: str | None = None) -> None:
        call.target, call.backend_path = "backend", path
        pattern = call_pattern(path)
        ranked: list[tuple[int, Operation]] = []
        for operation, op_pattern in self.patterns:
            found = match(op_pattern, pattern, strict_slash=True)
            if found is not None:
                ranked.append((found[0], operation))
        if not ranked:
            call.status = "unmatched"
            call.reason = reason or self._near_miss(pattern, path)
            return
        best = max(score for score, _ in ranked)
        at_path = [op for score, op in ranked if score == best]
        allowed = {op.method for op in at_path}
        wanted = call.method or "GET"
        chosen = next((op for op in at_path if op.method == wanted), None)
        if chosen is None and wanted == "HEAD":
            chosen = next((op for op in at_path if op.method == "GET"), None)
        if chosen is None and wanted == "OPTIONS":
            chosen = at_path[0]
        if chosen is None:
            call.status = "method"
            call.operation = at_path[0].path
            call.reason = f"{at_path[0].path} allows {', '.join(sorted(allowed))}, not {wanted}"
            return
        call.status, call.operation = "matched", str(chosen)
        self.used.add(chosen)

    def _near_miss(self, pattern: Pattern, path: str) -> str:
        flipped = Pattern(pattern.segments, not pattern.trailing)
        for operation, op_pattern in self.patterns:
            if match(op_pattern, flipped, strict_slash=True) is not None:
                return (f"no backend operation at {path}; {operation.path} differs only in its trailing slash "
                        "(Django answers a redirect or 404)")  # fmt: skip
        return f"no backend operation at {path}"

    def unused(self) -> list[Operation]:
        return [op for op in self.operations if op not in self.used]


def _substitute(destination: str, captures: dict[str, list[Segment]]) -> str:
    def put(found: re.Match[str]) -> str:
        segments = captures.get(found.group(2))
        if segments is None:
            return found.group(0)
        if not segments:  # an empty :path* takes its slash with it, as path-to-regexp's compile does
            return ""
        return found.group(1) + "/".join(s[1] for s in segments)

    path = _CAPTURE.sub(put, destination)
    return re.sub(r"(?<!:)//+", "/", path)


def rewrites_json(rewrites: list[Rewrite]) -> list[dict[str, object]]:
    return [rewrite.to_json() for rewrite in rewrites]
