"""From a call style's values to a call: the method as a word, the URL as an origin and a path template.

A URL is resolved when its start is known: a literal path (``/api/…``), a literal absolute URL, or a base URL from
``process.env.X`` that is set (in the environment given, the ``.env`` files or ``next.config``'s ``env``) or has a
default. A base from an unset variable with no default still gives the path after it (its origin is unknown; its
path is taken as empty, and the call says so). Everything else is unresolved with the reason: the URL or method
is a value known only at run time, a relative URL without a leading slash (it depends on the page's URL), an
import that cannot be resolved.
"""

from __future__ import annotations

from ._engine import CallSpec, join_url
from ._model import Call
from ._values import Fallback, Hole, Text, Undefined, Unknown, Value, describe


def finalize(spec: CallSpec) -> Call:
    call = Call(None, None, spec.location, spec.style, spec.via, notes=spec.notes)
    method = _method(spec.method, spec.default_method)
    url_value: Value = spec.url if isinstance(spec.base, Undefined) else join_url(spec.base, spec.url)
    if isinstance(method, str):
        call.method = method
    if not isinstance(url_value, Text):
        call.reason = f"the URL is {describe(url_value)}"
        return call
    origin, path, note, problem = split_url(url_value)
    if problem is not None:
        call.reason = problem
        return call
    call.path = path
    if origin:
        call.url = origin + (path or "")
    if note:
        call.notes = (*call.notes, note)
    if not isinstance(method, str):
        call.reason = method.reason
        return call
    call.status = "pending"
    return call


def _method(value: Value, default: str) -> str | Unknown:
    if isinstance(value, Undefined):
        return default
    if isinstance(value, Fallback):
        return _method(value.right, default) if isinstance(value.left, Undefined) else Unknown(
            f"the method is {describe(value.left)}")  # fmt: skip
    if isinstance(value, Text) and value.literal is not None:
        return value.literal.upper()
    if isinstance(value, Unknown) and not value.text:  # a whole reason, written by the call style
        return value
    return Unknown(f"the method is {describe(value)}")


def split_url(url: Text) -> tuple[str | None, str | None, str | None, str | None]:
    """(origin, path template, note, problem) of a URL template; ``origin`` None for a relative URL."""
    parts = list(url.parts)
    if not parts:
        return None, None, None, "the URL is an empty string"
    first = parts[0]
    origin: str | None = None
    note: str | None = None
    if isinstance(first, Hole):
        if first.env:
            note = (f"base URL from process.env.{first.env}, which is not set and has no default: its origin is "
                    "unknown and its path is taken as empty")  # fmt: skip
            origin = f"${{{first.env}}}"
            parts = parts[1:]
            if parts and isinstance(parts[0], str) and not parts[0].startswith("/"):
                parts[0] = "/" + parts[0]
            if not parts:
                parts = ["/"]
        else:
            return None, None, None, f"the URL starts with `{first.name}`, a value known only at run time"
    else:
        if first.startswith(("http://", "https://", "//")):
            scheme_end = first.index("//") + 2
            slash = first.find("/", scheme_end)
            if slash < 0:
                if len(parts) > 1 and not (isinstance(parts[1], str) and parts[1].startswith("/")):
                    return None, None, None, f"the host of `{_render(url)}` is known only at run time"
                origin, parts[0] = first, "/"
            else:
                origin, parts[0] = first[:slash], first[slash:]
            if env := url.env:
                note = f"base URL from {env[0]}"
        elif not first.startswith("/"):
            return None, None, None, (f"`{_render(url)}` is relative to the page's own URL (no leading slash); "
                                      "it cannot be known statically")  # fmt: skip
    return origin, _path_template(parts), note, None


def _path_template(parts: list[str | Hole]) -> str:
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            cut = min((i for i in (part.find("?"), part.find("#")) if i >= 0), default=-1)
            if cut >= 0:
                out.append(part[:cut])
                break
            out.append(part)
        else:
            out.append("{" + part.name + "}")
    path = "".join(out) or "/"
    return path if path.startswith("/") else "/" + path


def _render(url: Text) -> str:
    return "".join(p if isinstance(p, str) else "${" + p.name + "}" for p in url.parts)[:120]
