"""Helpers the router conventions share: route segments, the app and pages folders, HTTP methods."""

from __future__ import annotations

from urllib.parse import unquote

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")


def router_dir(tree_dirs: set[str], name: str) -> str | None:
    """``name`` at the root, else under ``src/`` (Next.js ignores ``src/<name>`` when ``<name>`` is at the root)."""
    if name in tree_dirs:
        return name
    if f"src/{name}" in tree_dirs:
        return f"src/{name}"
    return None


def decode_segment(segment: str) -> str:
    """A folder name as a URL segment: ``%5F`` stands for a leading underscore (Next.js' escape for private folders)."""
    return unquote(segment) if "%" in segment else segment


def split_ext(name: str, extensions: tuple[str, ...]) -> tuple[str, str] | None:
    """(stem, extension) when ``name`` ends in one of the page extensions, else None."""
    for ext in sorted(extensions, key=len, reverse=True):
        if name.endswith(f".{ext}"):
            return name[: -len(ext) - 1], ext
    return None


def route_string(segments: list[str]) -> str:
    return "/" + "/".join(segments) if segments else "/"
