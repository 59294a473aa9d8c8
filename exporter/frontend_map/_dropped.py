"""What would otherwise end without a call and without a word: wrappers never called with their arguments, and axios
instances no call goes through. Each becomes an unresolved call at its own line, with the reason saying where the
wrapper or instance goes instead (exported, passed to a function or a prop, put in an object), so that nothing the
map found is dropped silently.

A wrapper (``get(path) { return api.get(path) }``) turns into calls at the places it is called, its arguments put
in. One that no code the map follows calls (it is only exported, or passed as a callback to a package such as
``<SWRConfig value={{fetcher}}>``, ``interceptors.response.use(...)`` or ``items.map(load)``) has no such place:
its requests depend on arguments known only at run time.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from tree_sitter import Node

from ._engine import CLASS_TYPES, FUNCTION_TYPES, CallSpec, Engine, Module, _declares, _wrapper_refs, callee_of
from ._model import Call
from ._parse import line, string_value, text, walk
from ._values import AxiosInstance, Func, Package, ParamRef, Text, Value, as_text

HANDLER_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def dropped_wrappers(engine: Engine, module: Module) -> Iterator[tuple[CallSpec, Call]]:
    """(spec, unresolved call) for every spec of ``module`` waiting for a function that was never called."""
    seen: set[tuple[int, int]] = set()
    for spec, function in module.wrapped:
        key = (module.rel, function.id)
        if key in engine.instantiated or (function.id, spec.location.line) in seen:
            continue
        seen.add((function.id, spec.location.line))
        named = _params_named(function, [ref for ref in _wrapper_refs(spec) if ref.fn == key])
        what = "the URL" if any(ref.fn == key for ref in _params_of(spec.url)) else "the request"
        where = _whereabouts(engine, module, function)
        reason = (f"{what} depends on {named}, a parameter of {where}: no call the map follows gives it an "
                  "argument, so it is known only at run time")  # fmt: skip
        method = _literal_method(spec)
        yield spec, Call(method, None, spec.location, spec.style, notes=spec.notes, reason=reason)


def dropped_instances(engine: Engine, module: Module) -> Iterator[tuple[CallSpec, Call]]:
    """(spec, unresolved call) for every ``axios.create(...)`` of ``module`` that no call the map follows used."""
    from ._engine import Ctx

    if module.parsed is None:
        return
    for node in walk(module.parsed.root):
        if node.type != "call_expression":
            continue
        callee = callee_of(node)
        if callee is None or callee.type != "member_expression" or text(callee.child_by_field_name("property")) != (
                "create"):  # fmt: skip
            continue
        obj = engine.evaluate(module, callee.child_by_field_name("object"), Ctx())
        if not (isinstance(obj, Package) and obj.package == "axios"):
            continue
        instance = engine.evaluate(module, node, Ctx())
        if not isinstance(instance, AxiosInstance) or instance.origin in engine.axios_called:
            continue
        if instance.origin is None:
            continue
        base = as_text(_base(instance))
        shown = "".join(p if isinstance(p, str) else "${" + p.name + "}" for p in base.parts)[:80]
        where = _whereabouts(engine, module, node, kind="an axios instance")
        based = f" (baseURL `{shown}`)" if shown else ""
        reason = (f"{where}: no call the map follows goes through this axios instance{based}, so its requests are "
                  "known only at run time")  # fmt: skip
        from ._engine import owner_of
        from ._values import UNDEFINED

        spec = CallSpec("axios", UNDEFINED, UNDEFINED, UNDEFINED, instance.origin, owner=owner_of(node))
        yield spec, Call(None, None, instance.origin, "axios", reason=reason)


def _params_named(function: Node, refs: list[ParamRef]) -> str:
    """The parameters a spec waits for, as the source writes them; properties of one parameter taken together
    (``error.config.url`` and ``error.config.method`` are ``error.config``)."""
    by_index: dict[int, list[ParamRef]] = {}
    for ref in refs:
        by_index.setdefault(ref.index, []).append(ref)
    names = []
    for group in by_index.values():
        common = group[0].path
        for ref in group[1:]:
            size = 0
            while size < min(len(common), len(ref.path)) and common[size] == ref.path[size]:
                size += 1
            common = common[:size]
        names.append(f"`{_param_text(function, ParamRef(group[0].fn, group[0].index, common, group[0].name))}`")
    return ", ".join(names) or "its parameters"


def _param_text(function: Node, ref: ParamRef) -> str:
    """A parameter as the source writes it, with the properties taken of it: ``error.config.url``."""
    params = function.child_by_field_name("parameters")
    items = [p for p in params.named_children if p.type != "comment"] if params is not None else []
    single = function.child_by_field_name("parameter")
    node = single if single is not None else items[ref.index] if ref.index < len(items) else None
    pattern = node.child_by_field_name("pattern") if node is not None else None
    name = text(pattern if pattern is not None else node) if node is not None else ref.name
    if pattern is not None and pattern.type in ("object_pattern", "array_pattern") and ref.path:
        return ".".join(ref.path)  # `{ params }` and params.next: the names the source gives
    return ".".join((name.split(":")[0].strip()[:40], *ref.path))


def makes_calls(engine: Engine, func: Func) -> bool:
    """Whether a function calls anything the map reads: a call style, or a function of the tree."""
    from ._engine import Ctx

    if engine.summary(func) or any(True for _ in engine._calls_in(func.module, func.node)):
        return True
    for node in walk(func.node):
        if node.type == "call_expression":
            callee = callee_of(node)
            if callee is not None and isinstance(engine.evaluate(func.module, callee, Ctx()), Func):
                return True
    return False


def _base(instance: AxiosInstance) -> Text:
    from ._values import get_prop

    value = get_prop(instance.config, "baseURL")
    return value if isinstance(value, Text) else Text.of()


def _params_of(value: Value) -> Iterator[ParamRef]:
    from ._values import params_in

    return params_in(value)


def _literal_method(spec: CallSpec) -> str | None:
    value = spec.method
    if isinstance(value, Text) and value.literal is not None:
        return value.literal.upper()
    from ._values import Undefined

    return spec.default_method if isinstance(value, Undefined) else None


def _whereabouts(engine: Engine, module: Module, node: Node, kind: str = "") -> str:
    """What a function (or an ``axios.create`` call) is and where it goes: ``exported `get` (never called here)``,
    ``an inline function passed to `api.interceptors.response.use(…)` (line 54)``…"""
    parent = node.parent
    while parent is not None and parent.type in ("parenthesized_expression", "as_expression", "satisfies_expression"):
        node, parent = parent, parent.parent
    if parent is None:
        return kind or "a function"
    if parent.type == "arguments":
        call = parent.parent
        if call is not None and call.type == "call_expression":
            callee = callee_of(call)
            if callee is not None and text(callee) in ("useCallback", "React.useCallback", "useMemo", "memo"):
                return _whereabouts(engine, module, call, kind)
            label = kind or "an inline function"
            return f"{label} passed to `{_short(callee)}(…)` (line {line(call)})"
        if call is not None and call.type == "new_expression":
            constructor = _short(call.child_by_field_name("constructor"))
            return f"{kind or 'an inline function'} passed to `new {constructor}(…)` (line {line(call)})"
    if parent.type == "jsx_expression":
        return f"{kind or 'an inline function'} in {_jsx_place(parent)} (line {line(parent)})"
    if parent.type == "variable_declarator" and parent.child_by_field_name("value") == node:
        name = parent.child_by_field_name("name")
        if name is not None and name.type == "identifier":
            return _named(engine, module, name, kind)
    if node.type in ("function_declaration", "generator_function_declaration"):
        name = node.child_by_field_name("name")
        if name is not None:
            return _named(engine, module, name, kind)
    if parent.type == "pair" or (node.type == "method_definition" and parent.type == "object"):
        key = (parent if parent.type == "pair" else node).child_by_field_name("key") or node.child_by_field_name(
            "name")  # fmt: skip
        holder = parent.parent if parent.type == "pair" else parent
        owner = _whereabouts(engine, module, holder, "an object") if holder is not None else "an object"
        return f"`{_key(key)}` of {owner}"
    if node.type == "method_definition" or parent.type in ("public_field_definition", "field_definition"):
        cls: Node | None = parent
        while cls is not None and cls.type not in CLASS_TYPES:
            cls = cls.parent
        name = cls.child_by_field_name("name") if cls is not None else None
        member = node.child_by_field_name("name") or parent.child_by_field_name("name") or parent.child_by_field_name(
            "property")  # fmt: skip
        return (f"{kind or 'the method'} `{text(member) if member is not None else '?'}` of class "
                f"`{text(name) if name is not None else '?'}`")  # fmt: skip
    if parent.type == "return_statement" or (parent.type == "arrow_function" and node.type in FUNCTION_TYPES):
        return f"{kind or 'a function'} returned at line {line(node)}"
    return f"{kind or 'a function'} at line {line(node)}"


def _named(engine: Engine, module: Module, name: Node, kind: str) -> str:
    """A named declaration: where its name is used in its module (passed on, put in a prop or an object), or that
    it is exported, or that nothing here uses it."""
    label = f"{kind} `{text(name)}`" if kind else f"`{text(name)}`"
    binding = engine.lookup(module, name, text(name))
    if module.parsed is None or binding is None:
        return label
    entry = posixpath.basename(module.rel).split(".")[0]
    if not kind and _is_exported(engine, module, text(name)):
        if entry == "route" and text(name) in HANDLER_METHODS:
            return f"the route handler `{text(name)}`, which Next.js calls with the request"
        if entry in ("page", "layout", "template", "default") and _is_default(engine, module, text(name)):
            given = "`params` and `searchParams`" if entry == "page" else "`params`"
            return f"the {entry} component `{text(name)}`, which Next.js calls with {given}"
    places: list[str] = []
    for ref in walk(module.parsed.root):
        if ref.type not in ("identifier", "shorthand_property_identifier") or text(ref) != text(name):
            continue
        if ref.id == name.id or _declares(ref) or engine.lookup(module, ref, text(ref)) is not binding:
            continue
        parent = ref.parent
        if parent is None:
            continue
        if parent.type == "arguments" and parent.parent is not None and parent.parent.type == "call_expression":
            places.append(f"passed to `{_short(callee_of(parent.parent))}(…)` (line {line(ref)})")
        elif parent.type == "arguments" and parent.parent is not None and parent.parent.type == "new_expression":
            constructor = _short(parent.parent.child_by_field_name("constructor"))
            places.append(f"passed to `new {constructor}(…)` (line {line(ref)})")
        elif parent.type == "jsx_expression":
            places.append(f"given to {_jsx_place(parent)} (line {line(ref)})")
        elif ref.type == "shorthand_property_identifier" or parent.type == "pair":
            places.append(f"put in an object (line {line(ref)})")
        elif parent.type == "call_expression" and callee_of(parent) == ref:
            places.append(f"called at line {line(ref)} with arguments the map cannot follow")
        elif parent.type == "member_expression":
            places.append(f"used as `{text(parent)[:40]}` (line {line(ref)})")
        elif parent.type in ("export_specifier", "export_clause"):
            continue
        else:
            places.append(f"used at line {line(ref)}")
        if len(places) == 2:
            break
    exported = _is_exported(engine, module, text(name))
    if places:
        return f"{label}, {' and '.join(places)}{', and exported' if exported else ''}"
    if exported:
        return f"{label}, which is only exported"
    return f"{label}, not called in its module"


def _is_default(engine: Engine, module: Module, name: str) -> bool:
    entry = engine.export_table(module).get("default")
    if entry is None:
        return False
    if entry[0] == "local":
        return bool(entry[1] == name)
    named = entry[1].child_by_field_name("name") if entry[0] == "node" else None
    return named is not None and text(named) == name


def _is_exported(engine: Engine, module: Module, name: str) -> bool:
    table = engine.export_table(module)
    return any(entry == ("local", name) for entry in table.values()) or (
        "default" in table and table["default"][0] == "node" and text(table["default"][1]) == name)  # fmt: skip


def _jsx_place(expression: Node) -> str:
    attribute = expression.parent
    if attribute is not None and attribute.type == "jsx_attribute":
        element = attribute.parent
        tag = element.child_by_field_name("name") if element is not None else None
        prop = attribute.named_children[0] if attribute.named_children else None
        return f"the `{text(prop) if prop is not None else '?'}` prop of <{text(tag) if tag is not None else '?'}>"
    return "a JSX expression"


def _short(node: Node | None) -> str:
    return text(node)[:60] if node is not None else "?"


def _key(node: Node | None) -> str:
    if node is None:
        return "?"
    value = string_value(node)
    return value if value is not None else text(node)
