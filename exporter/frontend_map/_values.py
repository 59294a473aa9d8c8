"""The values the static evaluator knows: strings with holes, parameters, objects, functions, axios instances.

A string is a ``Text``: literal parts and ``Hole``s. A hole is a value known only at run time (a path parameter:
`` `/api/products/${id}/` `` is ``("/api/products/", Hole("id"), "/")``), a parameter of an enclosing function
(a wrapper's ``path``: filled in at each call of the wrapper), or an unset environment variable. Anything the
evaluator cannot follow is ``Unknown`` with the reason, which reaches the report when a URL depends on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node

    from ._engine import Module
    from ._model import Location


@dataclass(frozen=True)
class ParamRef:
    """Parameter ``index`` of function ``fn`` (a (file, node id) key), then the properties in ``path``."""

    fn: tuple[str, int]
    index: int
    path: tuple[str, ...]
    name: str


@dataclass(frozen=True)
class Hole:
    """A part of a string known only at run time. ``param``: it is that parameter; ``env``: an unset variable."""

    name: str
    param: ParamRef | None = None
    env: str | None = None


Part = str | Hole


@dataclass(frozen=True)
class Text:
    """A string: literal parts and holes, adjacent literals merged. ``env`` names the variables it came from."""

    parts: tuple[Part, ...]
    env: tuple[str, ...] = ()

    @classmethod
    def of(cls, *parts: Part, env: tuple[str, ...] = ()) -> Text:
        merged: list[Part] = []
        for part in parts:
            if isinstance(part, str):
                if not part:
                    continue
                if merged and isinstance(merged[-1], str):
                    merged[-1] = merged[-1] + part
                    continue
            merged.append(part)
        return cls(tuple(merged), env)

    @property
    def literal(self) -> str | None:
        """The whole value when it has no hole."""
        if all(isinstance(part, str) for part in self.parts):
            return "".join(part for part in self.parts if isinstance(part, str))
        return None

    def concat(self, other: Text) -> Text:
        return Text.of(*self.parts, *other.parts, env=tuple(dict.fromkeys((*self.env, *other.env))))

    def params(self) -> Iterator[ParamRef]:
        for part in self.parts:
            if isinstance(part, Hole) and part.param is not None:
                yield part.param


@dataclass(frozen=True)
class Param:
    """The value of a parameter (or a property of one) of a function not called with known arguments here."""

    ref: ParamRef


@dataclass
class Obj:
    """An object literal: its properties, and the values spread into it (``{...init, method: 'POST'}``)."""

    props: dict[str, Value] = field(default_factory=dict)
    spreads: list[Value] = field(default_factory=list)


@dataclass
class Arr:
    items: list[Value] = field(default_factory=list)


@dataclass
class Func:
    """A function (declaration, expression, arrow or method) of a module, with the arguments of the functions it
    was created in, when known (a factory ``makeClient(base)`` returning closures over ``base``)."""

    module: Module
    node: Node
    bindings: dict[tuple[str, int], list[Value]] = field(default_factory=dict)
    this: Value | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.module.rel, self.node.id)


@dataclass
class Instance:
    """``new SomeClass(...)`` of a class of the tree: its fields and methods are looked up in the class body."""

    module: Module
    node: Node


@dataclass(frozen=True)
class Package:
    """A binding imported from a package (not in the tree): ``axios``'s default export, ``swr``'s ``useSWR``."""

    package: str
    name: str


@dataclass(frozen=True)
class Namespace:
    """``import * as api from './api'``: the module's exports as properties."""

    rel: str


@dataclass
class AxiosInstance:
    """``axios.create(config)``: the config (``baseURL``, ``headers``) its calls start from; ``origin`` where the
    ``create`` call is (the map names an instance no call the map follows uses)."""

    config: Value
    origin: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class EnvUnset:
    """``process.env.NAME`` with no value in the environment, the ``.env`` files or ``next.config``'s ``env``."""

    name: str


@dataclass(frozen=True)
class Fallback:
    """``left ?? right`` (or ``||``) whose left side is a parameter: decided when the parameter is known."""

    left: Value
    right: Value


@dataclass(frozen=True)
class Unknown:
    """A value the source does not give statically: ``reason`` says why, ``text`` is the expression."""

    reason: str
    text: str = ""


@dataclass(frozen=True)
class Undefined:
    pass


@dataclass(frozen=True)
class Literal:
    """A number, boolean or null; as a string part it is its JavaScript text."""

    text: str


@dataclass(frozen=True)
class ProcessEnv:
    pass


@dataclass(frozen=True)
class FetchLike:
    """A function that is ``fetch``: typed ``typeof fetch``, or made by a package's ``*Fetch`` factory."""

    origin: str


Value = (
    Text
    | Param
    | Obj
    | Arr
    | Func
    | Instance
    | Package
    | Namespace
    | AxiosInstance
    | EnvUnset
    | Fallback
    | Unknown
    | Undefined
    | Literal
    | ProcessEnv
    | FetchLike
)

UNDEFINED = Undefined()
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_IGNORED_NAMES = {"encodeURIComponent", "encodeURI", "String", "toString", "trim", "join", "params", "props", "this"}


def hole_name(expression: str) -> str:
    """A path parameter's name from the expression that fills it: the last identifier that is not a helper
    (`` `${product.id}` `` gives ``id``, ``encodeURIComponent(slug)`` gives ``slug``)."""
    names = [name for name in _IDENT.findall(expression) if name not in _IGNORED_NAMES and name.strip("$")]
    return names[-1] if names else "param"


def get_prop(value: Value, name: str) -> Value:
    """``value.name``, or ``value[name]``."""
    if isinstance(value, Obj):
        if name in value.props:
            return value.props[name]
        for spread in reversed(value.spreads):
            found = get_prop(spread, name)
            if not isinstance(found, Undefined):
                return found
        return UNDEFINED if not any(isinstance(s, (Param, Unknown)) for s in value.spreads) else _spread_unknown(value)
    if isinstance(value, Param):
        ref = value.ref
        return Param(ParamRef(ref.fn, ref.index, (*ref.path, name), name))
    if isinstance(value, Arr):
        if name.isdigit() and int(name) < len(value.items):
            return value.items[int(name)]
        return UNDEFINED if name.isdigit() else Unknown(f"property {name} of an array")
    if isinstance(value, Undefined):
        return UNDEFINED  # optional chaining reads through: init?.method
    if isinstance(value, Fallback):  # (init = {}).method: the argument's, else the default's
        return Fallback(get_prop(value.left, name), get_prop(value.right, name))
    if isinstance(value, Unknown):
        return Unknown(value.reason, f"{value.text}.{name}" if value.text else name)
    return Unknown(f"property {name} of a value the source does not give", name)


def _spread_unknown(value: Obj) -> Value:
    for spread in value.spreads:
        if isinstance(spread, Param):
            return Unknown("a property spread from a parameter")
    return Unknown("a property spread from a value known only at run time")


def as_text(value: Value, expression: str = "") -> Text:
    """``value`` as a string part of a template: literals as text, everything else as one hole."""
    if isinstance(value, Text):
        return value
    if isinstance(value, Literal):
        return Text.of(value.text)
    if isinstance(value, Param):
        return Text.of(Hole(value.ref.name, param=value.ref))
    if isinstance(value, EnvUnset):
        return Text.of(Hole(value.name, env=value.name), env=(value.name,))
    if isinstance(value, Fallback):
        left = value.left
        if isinstance(left, Param):
            return Text.of(Hole(left.ref.name, param=left.ref))
        return as_text(value.right, expression)
    name = hole_name(expression) if expression else "param"
    if isinstance(value, Unknown) and value.text:
        name = hole_name(value.text)
    return Text.of(Hole(name))


def params_in(value: Value, seen: set[int] | None = None) -> Iterator[ParamRef]:
    """Every parameter reference inside ``value``."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, Param):
        yield value.ref
    elif isinstance(value, Text):
        yield from value.params()
    elif isinstance(value, Obj):
        for item in (*value.props.values(), *value.spreads):
            yield from params_in(item, seen)
    elif isinstance(value, Arr):
        for item in value.items:
            yield from params_in(item, seen)
    elif isinstance(value, Fallback):
        yield from params_in(value.left, seen)
        yield from params_in(value.right, seen)
    elif isinstance(value, AxiosInstance):
        yield from params_in(value.config, seen)


def substitute(value: Value, lookup: Callable[[ParamRef], Value | None]) -> Value:
    """``value`` with every parameter that ``lookup`` knows replaced by its argument."""
    if isinstance(value, Param):
        found = lookup(value.ref)
        return value if found is None else found
    if isinstance(value, Text):
        if not any(True for _ in value.params()):
            return value
        result = Text.of(env=value.env)
        for part in value.parts:
            if isinstance(part, Hole) and part.param is not None:
                found = lookup(part.param)
                result = result.concat(as_text(found, part.name) if found is not None else Text.of(part))
            else:
                result = result.concat(Text.of(part))
        return result
    if isinstance(value, Obj):
        return Obj({k: substitute(v, lookup) for k, v in value.props.items()},
                   [substitute(s, lookup) for s in value.spreads])  # fmt: skip
    if isinstance(value, Arr):
        return Arr([substitute(item, lookup) for item in value.items])
    if isinstance(value, Fallback):
        left = substitute(value.left, lookup)
        if isinstance(left, (Undefined, EnvUnset)):
            return substitute(value.right, lookup)
        if isinstance(left, (Param, Fallback)):
            return Fallback(left, substitute(value.right, lookup))
        return left
    if isinstance(value, AxiosInstance):
        return AxiosInstance(substitute(value.config, lookup), value.origin)
    return value


def describe(value: Value) -> str:
    """A short phrase for a value in a reason."""
    if isinstance(value, Unknown):
        return f"`{value.text}` ({value.reason})" if value.text else value.reason
    if isinstance(value, EnvUnset):
        return f"process.env.{value.name} (not set, no default)"
    if isinstance(value, Param):
        return f"parameter `{value.ref.name}`"
    if isinstance(value, Package):
        name = "" if value.name in ("default", "*") else f"`{value.name}` of "
        return f"{name}the package {value.package}"
    return type(value).__name__.lower()
