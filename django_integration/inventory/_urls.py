"""Every URL pattern of a URL conf, nested includes followed, with the route template Django matches it by.

The template is what ``request.resolver_match.route`` holds for a request to it (``api/products/<int:pk>/``;
for ``re_path`` the joined regular expressions), so the inventory's ``route`` is the same value as the
``route`` label of ``django_request_duration_seconds``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

__all__ = ["MAX_DEPTH", "MAX_PATTERNS", "UrlEntry", "url_entries"]

# A URL conf deeper or larger than this is cut (and said so): bounds the inventory and the gauge family.
MAX_DEPTH = 32
MAX_PATTERNS = 5000


@dataclass(frozen=True)
class UrlEntry:
    """One URL pattern: its route template, the view callback, its (namespaced) name and the names of the
    keyword arguments the route captures."""

    route: str
    callback: Callable[..., Any]
    name: str | None
    kwargs: tuple[str, ...]


def _join_route(route1: str, route2: str) -> str:
    """As Django joins the routes of nested patterns into ``ResolverMatch.route`` (URLResolver._join_route)."""
    if not route1:
        return route2
    return route1 + route2.removeprefix("^")


def url_entries(urlconf: str | None = None) -> Iterator[UrlEntry]:
    """The patterns of ``urlconf`` (default ``ROOT_URLCONF``), depth first, in the order Django tries them."""
    count = 0
    stack: list[tuple[list[Any], str, tuple[str, ...], int]] = [(list(get_resolver(urlconf).url_patterns), "", (), 0)]
    while stack:
        patterns, prefix, namespaces, depth = stack.pop()
        for index, pattern in enumerate(patterns):
            route = _join_route(prefix, str(pattern.pattern))
            if isinstance(pattern, URLResolver):
                if depth + 1 > MAX_DEPTH:
                    continue
                namespace = (*namespaces, pattern.namespace) if pattern.namespace else namespaces
                # The rest of this level after the include, then the include itself (it comes first).
                stack.append((patterns[index + 1 :], prefix, namespaces, depth))
                stack.append((list(pattern.url_patterns), route, namespace, depth + 1))
                break
            if isinstance(pattern, URLPattern):
                count += 1
                if count > MAX_PATTERNS:
                    return
                name = ":".join([*namespaces, pattern.name]) if pattern.name else None
                yield UrlEntry(route, pattern.callback, name, tuple(pattern.pattern.regex.groupindex))
