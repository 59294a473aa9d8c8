"""The static evaluator: modules, scopes, imports and exports, values of expressions, and the calls in a module.

How a call becomes known:

1. Every ``call_expression`` of a module is looked at once. Its callee is evaluated (``fetch``, ``axios.get``,
   an axios instance's ``get``, ``useSWR``, a function of the tree); the call style that knows the callee
   (``calls/``) turns it into ``CallSpec``s: method, URL and base URL as values.
2. A spec whose URL, method or base depends on a parameter of an enclosing function, other than as a whole
   path segment, is the inside of a wrapper (``get<T>(path) { return client.get<T>(path) }``): it is kept in that
   function's summary and becomes a call at each call of the function, with the arguments put in. A wrapper no
   call site fills in (only exported, or passed as a callback to code outside the tree) is an unresolved call at
   its own line, saying where it went (``_dropped``).
3. Every other spec is a call of this module, at this line; a parameter used as a whole path segment
   (`` `/api/products/${id}/` `` inside ``useProduct(id)``) stays a path parameter ``{id}``.

Evaluation is bounded (``MapLimits.max_eval_depth``) and never raises for what the source holds: what it cannot
follow is an ``Unknown`` with the reason.
"""

from __future__ import annotations

import itertools
import posixpath
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from tree_sitter import Node

from ._files import SourceTree
from ._model import Location, Problem
from ._modules import Resolved, Resolver
from ._parse import Parsed, Parsers, line, string_value, text, walk
from ._values import (
    UNDEFINED,
    Arr,
    AxiosInstance,
    EnvUnset,
    Fallback,
    FetchLike,
    Func,
    Hole,
    Instance,
    Literal,
    Namespace,
    Obj,
    Package,
    Param,
    ParamRef,
    ProcessEnv,
    Text,
    Undefined,
    Unknown,
    Value,
    as_text,
    get_prop,
    params_in,
    substitute,
)

FUNCTION_TYPES = frozenset({
    "function_declaration", "function_expression", "arrow_function", "method_definition",
    "generator_function_declaration", "generator_function", "function",
})  # fmt: skip
CLASS_TYPES = frozenset({"class_declaration", "class", "abstract_class_declaration"})
TRANSPARENT = frozenset({
    "parenthesized_expression", "as_expression", "satisfies_expression", "non_null_expression",
    "type_assertion", "await_expression",
})  # fmt: skip
MISSING_IMPORT = "imported from"
ASSET_SUFFIXES = (".css", ".scss", ".sass", ".less", ".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif",
                  ".ico", ".json", ".md", ".mdx", ".txt", ".woff", ".woff2", ".mp4", ".webm")  # fmt: skip


@dataclass(frozen=True)
class Binding:
    """What a name is bound to in a scope."""

    kind: str  # param, var, function, class, import
    node: Node  # the function (param), declarator (var), declaration, or import statement
    index: int = 0
    path: tuple[str, ...] = ()
    name: str = ""
    source: str = ""  # import: the specifier
    imported: str = ""  # import: default, *, or the exported name
    const: bool = True


@dataclass
class CallSpec:
    """A call as a call style sees it, before its URL is resolved: values, not yet strings."""

    style: str
    method: Value
    url: Value
    base: Value
    location: Location
    via: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    default_method: str = "GET"
    # The top-level declaration the call is written in (name, and the property of an object literal), or None
    # for module-level code: the route reaches the call when it uses that declaration (``Engine.live``).
    owner: tuple[str, str | None] | None = None


@dataclass
class Ctx:
    """The evaluation context: arguments known for enclosing functions, ``this``, and the depth left."""

    depth: int = 0
    bindings: dict[tuple[str, int], list[Value]] = field(default_factory=dict)


@dataclass
class Module:
    """One source file: its tree and what was computed from it."""

    rel: str
    parsed: Parsed | None
    directive: str | None = None  # "use client" or "use server"
    scopes: dict[int, dict[str, Binding]] = field(default_factory=dict)
    assigned: set[str] = field(default_factory=set)
    appended: dict[str, list[Node]] = field(default_factory=dict)  # name -> its `name += …` expressions
    exports: dict[str, tuple[str, Any]] | None = None
    star_sources: list[str] = field(default_factory=list)
    calls: list[CallSpec] | None = None
    # The specs that wait for an enclosing function's arguments, with that function's node: each becomes a call
    # where the function is called (``Engine.instantiate``); one never called is reported by ``_dropped``.
    wrapped: list[tuple[CallSpec, Node]] = field(default_factory=list)
    uses: dict[tuple[str, str | None] | None, set[tuple[str, ...]]] | None = None


class Engine:
    """Modules of one source tree, parsed on first use, and the evaluator over them."""

    def __init__(self, tree: SourceTree, resolver: Resolver, env: dict[str, str], problems: list[Problem]) -> None:
        self.tree = tree
        self.resolver = resolver
        self.env = env
        self.problems = problems
        self.parsers = Parsers()
        self.modules: dict[str, Module] = {}
        self._values: dict[tuple[str, int, str], Value] = {}
        self._summaries: dict[tuple[str, int], list[CallSpec]] = {}
        self._in_progress: set[tuple[str, int]] = set()
        self.instantiated: set[tuple[str, int]] = set()  # the wrappers put in at a call site at least once
        self.axios_called: set[Location] = set()  # the axios instances (by their create call) a call went through
        self.depth_problems = 0
        from .calls import STYLES  # the call styles import the engine's types

        self.styles = STYLES

    # --- modules -----------------------------------------------------------------------------------------------

    def module(self, rel: str) -> Module | None:
        if rel in self.modules:
            return self.modules[rel]
        source = self.tree.text(rel)
        if source is None:
            self.modules[rel] = module = Module(rel, None)
            return module
        parsed, problem = self.parsers.parse(rel, source)
        if problem is not None:
            self.problems.append(problem)
        module = Module(rel, parsed)
        first = parsed.root.named_children[:1]
        if first and first[0].type == "expression_statement":
            value = string_value(first[0].named_children[0] if first[0].named_children else None)
            if value in ("use client", "use server"):
                module.directive = value
        for node in walk(parsed.root):
            if node.type in ("assignment_expression", "augmented_assignment_expression"):
                left = node.child_by_field_name("left")
                if left is not None and left.type == "identifier":
                    operator = node.child_by_field_name("operator")
                    if node.type == "augmented_assignment_expression" and operator is not None and text(
                            operator) == "+=":  # fmt: skip
                        module.appended.setdefault(text(left), []).append(node)
                    else:
                        module.assigned.add(text(left))
            elif node.type == "update_expression":
                argument = node.child_by_field_name("argument")
                if argument is not None and argument.type == "identifier":
                    module.assigned.add(text(argument))
        self.modules[rel] = module
        return module

    # --- scopes ------------------------------------------------------------------------------------------------

    def scope(self, module: Module, node: Node) -> dict[str, Binding]:
        """The names a scope node (the program or a function) declares."""
        cached = module.scopes.get(node.id)
        if cached is not None:
            return cached
        names: dict[str, Binding] = {}
        if node.type in FUNCTION_TYPES:
            name = node.child_by_field_name("name")
            if node.type in ("function_expression", "function") and name is not None:
                names[text(name)] = Binding("function", node, name=text(name))
            single = node.child_by_field_name("parameter")
            if single is not None:
                names[text(single)] = Binding("param", node, 0, (), text(single))
            params = node.child_by_field_name("parameters")
            if params is not None:
                for index, param in enumerate(p for p in params.named_children if p.type != "comment"):
                    pattern = param.child_by_field_name("pattern") or param
                    if param.type == "assignment_pattern":
                        pattern = param.child_by_field_name("left") or param
                    for bound, path in _pattern_names(pattern):
                        names[bound] = Binding("param", node, index, path, bound)
            body = node.child_by_field_name("body")
            if body is not None and body.type == "statement_block":
                self._declarations(module, body, names)
        else:
            self._declarations(module, node, names)
        module.scopes[node.id] = names
        return names

    def _declarations(self, module: Module, block: Node, names: dict[str, Binding]) -> None:
        stack = list(reversed(block.named_children))
        while stack:
            node = stack.pop()
            kind = node.type
            if kind in ("lexical_declaration", "variable_declaration"):
                const = text(node).startswith("const")
                for declarator in node.named_children:
                    if declarator.type != "variable_declarator":
                        continue
                    target = declarator.child_by_field_name("name")
                    for bound, path in _pattern_names(target):
                        is_const = const or bound not in module.assigned
                        names.setdefault(bound, Binding("var", declarator, 0, path, bound, const=is_const))
            elif kind in ("function_declaration", "generator_function_declaration"):
                name = node.child_by_field_name("name")
                if name is not None:
                    names.setdefault(text(name), Binding("function", node, name=text(name)))
            elif kind in CLASS_TYPES:
                name = node.child_by_field_name("name")
                if name is not None:
                    names.setdefault(text(name), Binding("class", node, name=text(name)))
            elif kind == "import_statement":
                self._import_bindings(node, names)
            elif kind == "export_statement":
                declaration = node.child_by_field_name("declaration")
                if declaration is not None:
                    stack.append(declaration)
            elif kind in FUNCTION_TYPES or kind in CLASS_TYPES or kind == "class_body":
                continue
            else:
                stack.extend(reversed(node.named_children))

    def _import_bindings(self, node: Node, names: dict[str, Binding]) -> None:
        source = string_value(node.child_by_field_name("source")) or ""
        for clause in node.named_children:
            if clause.type != "import_clause":
                continue
            for part in clause.named_children:
                if part.type == "identifier":
                    names[text(part)] = Binding("import", node, name=text(part), source=source, imported="default")
                elif part.type == "namespace_import":
                    ident = next((c for c in part.named_children if c.type == "identifier"), None)
                    if ident is not None:
                        names[text(ident)] = Binding("import", node, name=text(ident), source=source, imported="*")
                elif part.type == "named_imports":
                    for spec in part.named_children:
                        if spec.type != "import_specifier":
                            continue
                        imported = spec.child_by_field_name("name")
                        alias = spec.child_by_field_name("alias") or imported
                        names[text(alias)] = Binding("import", node, name=text(alias), source=source,
                                                     imported=_export_name(imported))  # fmt: skip

    def lookup(self, module: Module, node: Node, name: str) -> Binding | None:
        current: Node | None = node.parent
        while current is not None:
            if current.type in FUNCTION_TYPES or current.type == "program":
                found = self.scope(module, current).get(name)
                if found is not None:
                    return found
            current = current.parent
        return None

    # --- exports -----------------------------------------------------------------------------------------------

    def export_table(self, module: Module) -> dict[str, tuple[str, Any]]:
        """Name -> (kind, what): ``node`` (a declaration or expression to evaluate), ``local`` (a local name),
        ``from`` ((specifier, name)), ``ns`` (specifier of ``export * as``)."""
        if module.exports is not None:
            return module.exports
        table: dict[str, tuple[str, Any]] = {}
        module.exports = table
        if module.parsed is None:
            return table
        for node in module.parsed.root.named_children:
            if node.type == "export_statement":
                source = string_value(node.child_by_field_name("source"))
                declaration = node.child_by_field_name("declaration")
                value = node.child_by_field_name("value")
                is_default = any(child.type == "default" for child in node.children)
                if declaration is not None:
                    if is_default:
                        table["default"] = ("node", declaration)
                    if declaration.type in ("lexical_declaration", "variable_declaration"):
                        for declarator in declaration.named_children:
                            for bound, _ in _pattern_names(declarator.child_by_field_name("name")):
                                table[bound] = ("local", bound)
                    else:
                        name = declaration.child_by_field_name("name")
                        if name is not None:
                            table[text(name)] = ("local", text(name))
                elif value is not None:
                    table["default"] = ("node", value)
                else:
                    clause = next((c for c in node.named_children if c.type == "export_clause"), None)
                    namespace = next((c for c in node.named_children if c.type == "namespace_export"), None)
                    if clause is not None:
                        for spec in clause.named_children:
                            if spec.type != "export_specifier":
                                continue
                            local = spec.child_by_field_name("name")
                            alias = spec.child_by_field_name("alias") or local
                            exported, local_name = _export_name(alias), _export_name(local)
                            table[exported] = ("from", (source, local_name)) if source else ("local", local_name)
                    elif namespace is not None and source:
                        ident = namespace.named_children[-1] if namespace.named_children else None
                        if ident is not None:
                            table[_export_name(ident)] = ("ns", source)
                    elif source:
                        module.star_sources.append(source)
            elif node.type == "expression_statement" and node.named_children:
                assignment = node.named_children[0]
                if assignment.type != "assignment_expression":
                    continue
                left, right = assignment.child_by_field_name("left"), assignment.child_by_field_name("right")
                target = text(left)
                if target == "module.exports" and right is not None:
                    table["default"] = ("node", right)
                    if right.type == "object":
                        for pair in right.named_children:
                            key = pair.child_by_field_name("key")
                            if pair.type == "pair" and key is not None:
                                table.setdefault(_key_name(key), ("node", pair.child_by_field_name("value")))
                            elif pair.type == "shorthand_property_identifier":
                                table.setdefault(text(pair), ("local", text(pair)))
                elif target.startswith(("exports.", "module.exports.")) and right is not None:
                    table[target.rsplit(".", 1)[1]] = ("node", right)
        return table

    def export_value(self, rel: str, name: str, ctx: Ctx, seen: frozenset[tuple[str, str]] = frozenset()) -> Value:
        if (rel, name) in seen or len(seen) > 32:
            return Unknown(f"re-exports of {name} loop", name)
        seen = seen | {(rel, name)}
        module = self.module(rel)
        if module is None or module.parsed is None:
            return Unknown(f"{rel} could not be read", name)
        table = self.export_table(module)
        entry = table.get(name)
        if entry is None:
            for source in module.star_sources:
                resolved = self.resolver.resolve(rel, source)
                if resolved.kind == "file" and name != "default":
                    found = self.export_value(resolved.name, name, ctx, seen)
                    if not (isinstance(found, Unknown) and found.reason.startswith("no export")):
                        return found
            return Unknown(f"no export {name} in {rel}", name)
        kind, what = entry
        root = module.parsed.root
        if kind == "node":
            return self.evaluate(module, what, ctx)
        if kind == "local":
            binding = self.scope(module, root).get(what)
            if binding is None:
                return Unknown(f"{what} is not declared in {rel}", what)
            return self.binding_value(module, binding, ctx)
        if kind == "from":
            source, imported = what
            return self.import_value(rel, source, imported, name, ctx, seen)
        if kind == "ns":
            resolved = self.resolver.resolve(rel, what)
            return Namespace(resolved.name) if resolved.kind == "file" else Unknown(f"cannot resolve {what}", name)
        return Unknown("unknown export", name)

    def import_value(self, importer: str, source: str, imported: str, local: str, ctx: Ctx,
                     seen: frozenset[tuple[str, str]] = frozenset()) -> Value:  # fmt: skip
        resolved = self.resolver.resolve(importer, source)
        if resolved.kind == "package":
            return Package(resolved.name if source.count("/") < 1 or source.startswith("@") else source, imported)
        if resolved.kind == "missing":
            return Unknown(f"{MISSING_IMPORT} '{source}', which cannot be resolved: {resolved.reason}", local)
        if imported == "*":
            return Namespace(resolved.name)
        return self.export_value(resolved.name, imported, ctx, seen)

    # --- values ------------------------------------------------------------------------------------------------

    def binding_value(self, module: Module, binding: Binding, ctx: Ctx) -> Value:
        if ctx.depth > self.tree.limits.max_eval_depth:
            self.depth_problems += 1
            return Unknown("the evaluation depth bound was reached", binding.name)
        deeper = replace(ctx, depth=ctx.depth + 1)
        if binding.kind == "param":
            key = (module.rel, binding.node.id)
            if key in ctx.bindings:
                args = ctx.bindings[key]
                value = args[binding.index] if binding.index < len(args) else UNDEFINED
                for name in binding.path:
                    value = self.member(value, name, deeper)
                if isinstance(value, Undefined):
                    default = _param_default(binding.node, binding.index)
                    if default is not None:
                        return self.evaluate(module, default, deeper)
                return value
            ref = ParamRef(key, binding.index, binding.path, binding.path[-1] if binding.path else binding.name)
            default = _param_default(binding.node, binding.index)
            if default is not None and not binding.path:
                return Fallback(Param(ref), self.evaluate(module, default, deeper))
            return Param(ref)
        if binding.kind == "var":
            if not binding.const:
                return Unknown(f"`{binding.name}` is assigned again in {module.rel}: its value is known only at run "
                               "time", binding.name)  # fmt: skip
            value_node = binding.node.child_by_field_name("value")
            if value_node is None:
                return Unknown(f"`{binding.name}` has no initial value", binding.name)
            appended = self._appended(module, binding)
            if appended is not None:
                return appended
            value = self.evaluate(module, value_node, deeper)
            for name in binding.path:
                value = self.member(value, name, deeper)
            return value
        if binding.kind == "function":
            return Func(module, binding.node, dict(ctx.bindings))
        if binding.kind == "class":
            return Unknown(f"the class {binding.name}", binding.name)
        if binding.kind == "import":
            return self.import_value(module.rel, binding.source, binding.imported, binding.name, deeper)
        return Unknown("unknown binding", binding.name)

    def _appended(self, module: Module, binding: Binding) -> Unknown | None:
        """A ``let url = …`` that is appended to (``url += …``): a query string or fragment added to it leaves the
        path as it was (``url += `?${params}```, the common way of adding search parameters), so the initial value
        stands; anything else appended makes the value known only at run time (None: nothing to say)."""
        for node in module.appended.get(binding.name, ()):
            left = node.child_by_field_name("left")
            found = self.lookup(module, left, binding.name) if left is not None else None
            if found is None or found.node.id != binding.node.id:
                continue
            if not _query_string(node.child_by_field_name("right")):
                return Unknown(f"`{binding.name}` is appended to at {module.rel}:{line(node)} with more than a query "
                               "string: its value is known only at run time", binding.name)  # fmt: skip
        return None

    def evaluate(self, module: Module, node: Node | None, ctx: Ctx) -> Value:
        if node is None:
            return UNDEFINED
        cacheable = not ctx.bindings
        key = (module.rel, node.id, "")
        if cacheable and key in self._values:
            return self._values[key]
        if cacheable:
            self._values[key] = Unknown("a value that refers to itself", text(node)[:80])
        value = self._evaluate(module, node, ctx)
        if cacheable:
            self._values[key] = value
        return value

    def _evaluate(self, module: Module, node: Node, ctx: Ctx) -> Value:
        kind = node.type
        if kind in TRANSPARENT:
            inner = node.named_children[0] if node.named_children else None
            return self.evaluate(module, inner, ctx)
        if kind == "string":
            return Text.of(string_value(node) or "")
        if kind == "template_string":
            result = Text.of()
            for child in node.named_children:
                if child.type == "string_fragment":
                    result = result.concat(Text.of(text(child)))
                elif child.type == "escape_sequence":
                    result = result.concat(Text.of(string_value_escape(text(child))))
                elif child.type == "template_substitution":
                    inner = child.named_children[0] if child.named_children else None
                    result = result.concat(as_text(self.evaluate(module, inner, ctx), text(inner)))
            return result
        if kind == "number":
            return Literal(text(node))
        if kind in ("true", "false", "null"):
            return Literal(kind)
        if kind == "undefined":
            return UNDEFINED
        if kind == "identifier":
            name = text(node)
            if name == "undefined":
                return UNDEFINED
            binding = self.lookup(module, node, name)
            if binding is None:
                if name == "process":
                    return Package("node:process", "default")
                return Unknown(f"`{name}` is a global or not declared here", name)
            return self.binding_value(module, binding, ctx)
        if kind == "this":
            cls = _enclosing_class(node)
            return Instance(module, cls) if cls is not None else Unknown("this outside a class", "this")
        if kind in ("member_expression", "subscript_expression"):
            obj = node.child_by_field_name("object")
            if kind == "member_expression":
                prop = text(node.child_by_field_name("property"))
            else:
                index = self.evaluate(module, node.child_by_field_name("index"), ctx)
                literal = (
                    index.literal if isinstance(index, Text) else index.text if isinstance(index, Literal) else None
                )
                if literal is None:
                    return Unknown("an element chosen at run time", text(node)[:80])
                prop = literal
            if obj is not None and text(obj) in ("process.env", "import.meta.env"):
                return self.env_value(prop)
            return self.member(self.evaluate(module, obj, ctx), prop, ctx, text(node))
        if kind == "binary_expression":
            operator = text(node.child_by_field_name("operator"))
            left = self.evaluate(module, node.child_by_field_name("left"), ctx)
            if operator in ("??", "||"):
                right_node = node.child_by_field_name("right")
                if isinstance(left, (Undefined, EnvUnset)) or (operator == "||" and _falsy(left)):
                    right = self.evaluate(module, right_node, ctx)
                    if isinstance(left, EnvUnset) and isinstance(right, Text):
                        return Text.of(*right.parts, env=(*right.env, f"the default of process.env.{left.name}"))
                    return right
                if isinstance(left, (Param, Fallback)):
                    return Fallback(left, self.evaluate(module, right_node, ctx))
                if isinstance(left, Unknown):  # a run-time value with a literal default: the default, and say so
                    right = self.evaluate(module, right_node, ctx)
                    if isinstance(right, Text) and right.literal:
                        expression = text(node.child_by_field_name("left"))[:60]
                        return Text.of(*right.parts, env=(*right.env, f"the default of `{expression}`"))
                return left
            right = self.evaluate(module, node.child_by_field_name("right"), ctx)
            stringish = (Text, Param, Fallback, EnvUnset)
            if operator == "+" and (isinstance(left, stringish) or isinstance(right, stringish)):
                left_node, right_node = node.child_by_field_name("left"), node.child_by_field_name("right")
                return as_text(left, text(left_node)).concat(as_text(right, text(right_node)))
            return Unknown(f"the result of `{operator}`", text(node)[:80])
        if kind == "ternary_expression":
            consequence = self.evaluate(module, node.child_by_field_name("consequence"), ctx)
            alternative = self.evaluate(module, node.child_by_field_name("alternative"), ctx)
            query = _query_or_empty(consequence), _query_or_empty(alternative)
            if all(query) and isinstance(consequence, Text) and isinstance(alternative, Text):
                # `${qs ? `?${qs}` : ""}`: a query string or none; the path is the same either way
                return consequence if consequence.parts else alternative
            if _nullish(alternative):
                return consequence
            if _nullish(consequence):
                return alternative
            if consequence == alternative:
                return consequence
            return Unknown("one of two values, chosen at run time", text(node)[:80])
        if kind == "object":
            return self._object(module, node, ctx)
        if kind == "array":
            return Arr([self.evaluate(module, item, ctx) for item in node.named_children if item.type != "comment"])
        if kind in FUNCTION_TYPES:
            return Func(module, node, dict(ctx.bindings))
        if kind == "call_expression":
            return self._call_value(module, node, ctx)
        if kind == "new_expression":
            return self._new_value(module, node, ctx)
        if kind in ("class", "class_declaration"):
            return Unknown("a class", text(node)[:40])
        return Unknown(f"a {kind.replace('_', ' ')}", text(node)[:80])

    def _object(self, module: Module, node: Node, ctx: Ctx) -> Obj:
        obj = Obj()
        for member in node.named_children:
            if member.type == "pair":
                key = member.child_by_field_name("key")
                if key is None:
                    continue
                if key.type == "computed_property_name":
                    continue
                obj.props[_key_name(key)] = self.evaluate(module, member.child_by_field_name("value"), ctx)
            elif member.type == "shorthand_property_identifier":
                name = text(member)
                binding = self.lookup(module, member, name)
                obj.props[name] = (self.binding_value(module, binding, ctx) if binding is not None
                                   else Unknown(f"`{name}` is not declared here", name))  # fmt: skip
            elif member.type == "spread_element":
                inner = member.named_children[0] if member.named_children else None
                obj.spreads.append(self.evaluate(module, inner, ctx))
            elif member.type == "method_definition":
                method_name = member.child_by_field_name("name")
                if method_name is not None:
                    obj.props[_key_name(method_name)] = Func(module, member, dict(ctx.bindings))
        return obj

    def env_value(self, name: str) -> Value:
        if name in self.env:
            return Text.of(self.env[name], env=(f"process.env.{name}",))
        return EnvUnset(name)

    def member(self, value: Value, name: str, ctx: Ctx, expression: str = "") -> Value:
        """``value.name`` for every kind of value, the tree's modules and classes included."""
        if isinstance(value, Package):
            if value.package == "node:process" and name == "env":
                return ProcessEnv()
            return Package(value.package, name if value.name in ("default", "*") else f"{value.name}.{name}")
        if isinstance(value, ProcessEnv):
            return self.env_value(name)
        if isinstance(value, Namespace):
            return self.export_value(value.rel, name, ctx)
        if isinstance(value, Instance):
            return self._instance_member(value, name, ctx)
        if isinstance(value, AxiosInstance):
            return Unknown(f"property {name} of an axios instance", name)
        if isinstance(value, Unknown) and expression:
            return Unknown(value.reason, expression[:80])
        return get_prop(value, name)

    def _instance_member(self, instance: Instance, name: str, ctx: Ctx) -> Value:
        body = instance.node.child_by_field_name("body")
        if body is None:
            return Unknown(f"property {name} of a class", name)
        for member in body.named_children:
            member_name = member.child_by_field_name("name") or member.child_by_field_name("property")
            if member_name is None or text(member_name) != name:
                continue
            if member.type == "method_definition":
                return Func(instance.module, member, dict(ctx.bindings), this=instance)
            if member.type in ("public_field_definition", "field_definition"):
                return self.evaluate(instance.module, member.child_by_field_name("value"), ctx)
        for member in body.named_children:  # this.name = value in the constructor
            if member.type == "method_definition" and text(member.child_by_field_name("name")) == "constructor":
                for node in walk(member):
                    if (
                        node.type == "assignment_expression"
                        and text(node.child_by_field_name("left")) == f"this.{name}"
                    ):
                        return self.evaluate(instance.module, node.child_by_field_name("right"), ctx)
        return Unknown(f"property {name} of the class", name)

    def _call_value(self, module: Module, node: Node, ctx: Ctx) -> Value:
        callee_node = callee_of(node)
        args_node = node.child_by_field_name("arguments")
        args = [a for a in (args_node.named_children if args_node is not None else []) if a.type != "comment"]
        if callee_node is None:
            return Unknown("a call", text(node)[:80])
        callee: Value | None = None
        name = text(callee_node)
        if name in ("String", "encodeURIComponent", "encodeURI", "use") and args:
            return self.evaluate(module, args[0], ctx)
        if name in ("useCallback", "React.useCallback") and args:  # React's: the function itself
            return self.evaluate(module, args[0], ctx)
        if name == "require" and args and self.lookup(module, node, "require") is None:
            source = string_value(args[0])
            if source is not None:  # CommonJS: the module's default export, as bundlers' interop gives it
                resolved = self.resolver.resolve(module.rel, source)
                if resolved.kind == "file":
                    return Namespace(resolved.name)
                return self.import_value(module.rel, source, "default", name, ctx)
        if callee_node.type == "member_expression":
            prop = text(callee_node.child_by_field_name("property"))
            obj_node = callee_node.child_by_field_name("object")
            if prop in ("toString", "trim", "valueOf") and obj_node is not None:
                return self.evaluate(module, obj_node, ctx)
            obj = self.evaluate(module, obj_node, ctx)
            if isinstance(obj, Package) and obj.package == "axios" and prop == "create":
                config = self.evaluate(module, args[0], ctx) if args else Obj()
                return AxiosInstance(config, Location(module.rel, line(node)))
            if prop == "join" and isinstance(obj, Arr):
                separator = self.evaluate(module, args[0], ctx) if args else Text.of(",")
                sep = separator.literal if isinstance(separator, Text) else None
                if sep is not None:
                    result = Text.of()
                    for index, item in enumerate(obj.items):
                        result = result.concat(Text.of(sep)) if index else result
                        result = result.concat(as_text(item))
                    return result
            if prop in ("replace", "replaceAll") and isinstance(obj, Text) and len(args) == 2:
                return _replace(obj, args[0], self.evaluate(module, args[1], ctx), prop == "replaceAll")
            if prop == "concat" and isinstance(obj, Text):
                result = obj
                for arg in args:
                    result = result.concat(as_text(self.evaluate(module, arg, ctx), text(arg)))
                return result
            if obj_node is not None and text(obj_node) not in ("process.env", "import.meta.env"):
                # the object is evaluated once: a chain of n calls (`s.replace(…).replace(…)…`) costs n, not 2^n
                callee = self.member(obj, prop, ctx, text(callee_node))
        if callee is None:
            callee = self.evaluate(module, callee_node, ctx)
        if isinstance(callee, Func):
            if "typeof fetch" in text(callee.node.child_by_field_name("return_type")):
                return FetchLike(f"{callee.module.rel}: a function typed to return `typeof fetch`")
            return self.inline(callee, [self.evaluate(module, a, ctx) for a in args], ctx, text(node))
        if isinstance(callee, Package) and is_fetch_name(callee.name) and args:
            first = self.evaluate(module, args[0], ctx)
            if isinstance(first, Obj):  # a factory given options: what it returns is a fetch
                return FetchLike(f"{callee.package}'s {callee.name}()")
        return Unknown("the result of a call, known only at run time", text(node)[:80])

    def inline(self, func: Func, args: list[Value], ctx: Ctx, expression: str) -> Value:
        """The value a small function returns: its single ``return`` (or arrow expression), with the arguments in."""
        if ctx.depth > self.tree.limits.max_eval_depth:
            self.depth_problems += 1
            return Unknown("the evaluation depth bound was reached", expression[:80])
        body = func.node.child_by_field_name("body")
        result: Node | None = None
        if body is not None and body.type != "statement_block":
            result = body
        elif body is not None:
            returns = [n for n in walk(body) if n.type == "return_statement" and _enclosing_function(n) == func.node]
            if len(returns) == 1 and returns[0].named_children:
                result = returns[0].named_children[0]
        if result is None:
            return Unknown("the result of a call, known only at run time", expression[:80])
        bindings = {**ctx.bindings, **func.bindings, func.key: args}
        return self.evaluate(func.module, result, Ctx(ctx.depth + 1, bindings))

    def _new_value(self, module: Module, node: Node, ctx: Ctx) -> Value:
        constructor = node.child_by_field_name("constructor")
        args_node = node.child_by_field_name("arguments")
        args = [a for a in (args_node.named_children if args_node is not None else []) if a.type != "comment"]
        name = text(constructor)
        if name == "URL" and args:
            path = self.evaluate(module, args[0], ctx)
            if len(args) == 1:
                return path
            base = self.evaluate(module, args[1], ctx)
            return join_url(base, path)
        if name in ("Request",) and args:
            return self.evaluate(module, args[0], ctx)
        binding = (
            self.lookup(module, node, name) if constructor is not None and constructor.type == "identifier" else None
        )
        if binding is not None and binding.kind == "class":
            return Instance(module, binding.node)
        if binding is not None and binding.kind == "import":
            value = self.binding_value(module, binding, ctx)
            if isinstance(value, Unknown):
                return value
        return Unknown(f"a new {name}", text(node)[:80])

    # --- calls -------------------------------------------------------------------------------------------------

    def module_calls(self, module: Module) -> list[CallSpec]:
        """The calls of a module (specs whose URL no enclosing function's parameter decides)."""
        if module.calls is not None:
            return module.calls
        module.calls = []
        if module.parsed is not None:
            functions = {n.id: n for n in walk(module.parsed.root) if n.type in FUNCTION_TYPES}
            for spec, owner in self._calls_in(module, module.parsed.root):
                if owner is None:
                    module.calls.append(spec)
                elif owner[1] in functions:
                    module.wrapped.append((spec, functions[owner[1]]))
        return module.calls

    def summary(self, func: Func) -> list[CallSpec]:
        """The calls inside a wrapper that wait for its arguments."""
        key = func.key
        if key in self._summaries:
            return self._summaries[key]
        if key in self._in_progress:
            return []  # a recursive wrapper: its own calls of itself add nothing
        self._in_progress.add(key)
        try:
            found = [spec for spec, owner in self._calls_in(func.module, func.node) if owner == key]
        finally:
            self._in_progress.discard(key)
        self._summaries[key] = found
        return found

    def _calls_in(self, module: Module, root: Node) -> Iterator[tuple[CallSpec, tuple[str, int] | None]]:
        from .calls import Site

        for node in walk(root):
            if node.type in ("jsx_self_closing_element", "jsx_opening_element"):
                for spec in self._element_calls(module, node):
                    yield self._place(module, node, spec)
                continue
            if node.type != "call_expression":
                continue
            if self.tree.expired():
                return
            callee_node = callee_of(node)
            args_node = node.child_by_field_name("arguments")
            if callee_node is None or args_node is None or args_node.type != "arguments":
                continue
            if callee_node.type in ("import", "super"):
                continue
            site = Site(self, module, node, callee_node, [a for a in args_node.named_children if a.type != "comment"])
            for style in self.styles:
                specs = style(site)
                if specs is None:
                    continue
                for spec in specs:
                    yield self._place(module, node, spec)
                break

    def _element_calls(self, module: Module, node: Node) -> list[CallSpec]:
        """``<Viewer url={u} />`` is a call of the component ``Viewer({url: u})``: a component whose request
        depends on its props (a wrapper) becomes a call at each element, its attributes put in."""
        name = node.child_by_field_name("name")
        if name is None or (not text(name)[:1].isupper() and name.type != "member_expression"):
            return []
        component = self.evaluate(module, name, Ctx())
        if not isinstance(component, Func) or not self.summary(component):
            return []
        props = Obj()
        for attribute in node.named_children:
            if attribute.type == "jsx_attribute" and attribute.named_children:
                key = text(attribute.named_children[0])
                value = attribute.named_children[1] if len(attribute.named_children) > 1 else None
                if value is None:
                    props.props[key] = Literal("true")
                elif value.type == "jsx_expression":
                    inner = value.named_children[0] if value.named_children else None
                    props.props[key] = self.evaluate(module, inner, Ctx())
                else:
                    props.props[key] = self.evaluate(module, value, Ctx())
            elif attribute.type == "jsx_expression" and attribute.named_children:  # {...rest}
                spread = attribute.named_children[0]
                inner = spread.named_children[0] if spread.type == "spread_element" and spread.named_children else None
                props.spreads.append(self.evaluate(module, inner, Ctx()))
        return self.instantiate(component, [props], Location(module.rel, line(node)))

    def _place(self, module: Module, node: Node, spec: CallSpec) -> tuple[CallSpec, tuple[str, int] | None]:
        """Decide whether a spec is a call here or the inside of an enclosing wrapper."""
        enclosing = _enclosing_functions(module.rel, node)
        owners = [ref.fn for ref in _wrapper_refs(spec) if ref.fn in enclosing]
        if owners:
            return replace(spec, owner=owner_of(node)), min(owners, key=enclosing.index)
        return replace(_named_holes(spec), owner=owner_of(node)), None

    def instantiate(self, func: Func, args: list[Value], location: Location) -> list[CallSpec]:
        """The summary of ``func`` with ``args`` put in, as calls at ``location``."""
        specs = self.summary(func)
        self.instantiated.add(func.key)
        if not specs:
            return []
        key = func.key
        known = {**func.bindings, key: args}
        ctx = Ctx(0, known)

        def lookup(ref: ParamRef) -> Value | None:
            if ref.fn not in known:
                return None
            values = known[ref.fn]
            value = values[ref.index] if ref.index < len(values) else UNDEFINED
            for name in ref.path:
                value = self.member(value, name, ctx)
            return value

        result = []
        for spec in specs:
            result.append(
                CallSpec(
                    spec.style,
                    substitute(spec.method, lookup),
                    substitute(spec.url, lookup),
                    substitute(spec.base, lookup),
                    location,
                    (str(spec.location), *spec.via),
                    spec.notes,
                    spec.default_method,
                )
            )
        return result

    # --- the import graph --------------------------------------------------------------------------------------

    def edges(self, module: Module) -> list[tuple[str, tuple[str, ...]]]:
        """(module reached, the barrels passed on the way) for every import of ``module``.

        A named import through a barrel (``import { useCart } from '@/hooks'`` with ``export * from './useCart'``)
        reaches the module that defines the name, not every module the barrel re-exports.
        """
        if module.parsed is None:
            return []
        found: list[tuple[str, tuple[str, ...]]] = []
        for node in walk(module.parsed.root):
            kind = node.type
            source: str | None = None
            names: list[str] | None = None
            if kind == "import_statement":
                source = string_value(node.child_by_field_name("source"))
                if any(child.type == "type" for child in node.children):
                    continue  # import type: erased at build time
                names = list(_imported_names(node))
            elif kind == "export_statement" and node.child_by_field_name("source") is not None:
                continue  # re-exports are followed from the importer's side
            elif kind == "call_expression":
                callee = node.child_by_field_name("function")
                args = node.child_by_field_name("arguments")
                if callee is None or args is None or not args.named_children:
                    continue
                if callee.type == "import" or text(callee) == "require":
                    source = string_value(args.named_children[0])
                    written = text(args.named_children[0]).strip("`'\"")
                    if source is None and not written.lower().endswith(ASSET_SUFFIXES) and (
                            callee.type == "import" or self.lookup(module, node, "require") is None):  # fmt: skip
                        problem = Problem(
                            "import",
                            f"line {line(node)}: {text(node)[:80]} loads a module chosen at "
                            "run time: the modules it loads and their calls are unknown",
                            module.rel,
                        )
                        if problem not in self.problems:
                            self.problems.append(problem)
            if not source:
                continue
            resolved = self.resolver.resolve(module.rel, source)
            if resolved.kind == "missing" and source.lower().endswith(ASSET_SUFFIXES):
                continue  # a stylesheet, an image or data: the bundler's, no code to follow
            if resolved.kind == "missing":
                self._missing_import(module.rel, source, resolved, node)
                continue
            if resolved.kind != "file":
                continue
            if not names:
                found.append((resolved.name, ()))
                found.extend(self._star_closure(resolved.name))
                continue
            for name in names:
                for chain in self.defining(resolved.name, name):
                    found.append((chain[-1], tuple(chain[:-1])))
        return found

    def _missing_import(self, rel: str, source: str, resolved: Resolved, node: Node) -> None:
        problem = Problem("import", f"line {line(node)}: cannot resolve '{source}': {resolved.reason}", rel)
        if problem not in self.problems:
            self.problems.append(problem)

    def _star_closure(self, rel: str, seen: set[str] | None = None) -> list[tuple[str, tuple[str, ...]]]:
        """Every module a whole-module import reaches through ``export … from`` (a namespace import of a barrel)."""
        seen = seen or {rel}
        module = self.module(rel)
        if module is None or module.parsed is None:
            return []
        table = self.export_table(module)
        sources = list(module.star_sources)
        sources += [what[0] for kind, what in table.values() if kind == "from"]
        sources += [what for kind, what in table.values() if kind == "ns"]
        found: list[tuple[str, tuple[str, ...]]] = []
        for source in sources:
            resolved = self.resolver.resolve(rel, source)
            if resolved.kind == "file" and resolved.name not in seen:
                seen.add(resolved.name)
                found.append((resolved.name, (rel,)))
                found.extend((target, (rel, *via)) for target, via in self._star_closure(resolved.name, seen))
        return found

    def defining(self, rel: str, name: str, depth: int = 0) -> list[list[str]]:
        """Chains of modules from ``rel`` to the one that defines export ``name`` (just ``[rel]`` when it does)."""
        module = self.module(rel)
        if module is None or module.parsed is None or depth > 16:
            return [[rel]]
        if name in ("*", "default") and name not in self.export_table(module):
            return [[rel]]
        table = self.export_table(module)
        entry = table.get(name)
        if entry is not None:
            kind, what = entry
            if kind == "from":
                resolved = self.resolver.resolve(rel, what[0])
                if resolved.kind == "file":
                    return [[rel, *chain] for chain in self.defining(resolved.name, what[1], depth + 1)]
            if kind == "local":
                binding = self.scope(module, module.parsed.root).get(what)
                if binding is not None and binding.kind == "import":
                    resolved = self.resolver.resolve(rel, binding.source)
                    if resolved.kind == "file" and not _has_own_code(module):
                        return [[rel, *chain] for chain in self.defining(resolved.name, binding.imported, depth + 1)]
            return [[rel]]
        for source in module.star_sources:
            resolved = self.resolver.resolve(rel, source)
            if resolved.kind == "file":
                target = self.module(resolved.name)
                if target is not None and (name in self.export_table(target) or target.star_sources):
                    chains = self.defining(resolved.name, name, depth + 1)
                    if chains and (name in self.export_table(target) or len(chains[0]) > 1):
                        return [[rel, *chain] for chain in chains]
        return [[rel]]

    # --- what a route uses ---------------------------------------------------------------------------------------

    def final_export(self, rel: str, name: str, depth: int = 0) -> tuple[str, str] | None:
        """(module, top-level name there) that export ``name`` of ``rel`` is, through re-exports."""
        module = self.module(rel)
        if module is None or module.parsed is None or depth > 16:
            return None
        entry = self.export_table(module).get(name)
        if entry is None:
            for source in module.star_sources:
                resolved = self.resolver.resolve(rel, source)
                if resolved.kind == "file" and name != "default":
                    found = self.final_export(resolved.name, name, depth + 1)
                    if found is not None:
                        return found
            return None
        kind, what = entry
        if kind == "node":
            named = what.child_by_field_name("name") if what.type in FUNCTION_TYPES | CLASS_TYPES else None
            return (rel, text(named) if named is not None else "default")
        if kind == "local":
            binding = self.scope(module, module.parsed.root).get(what)
            if binding is not None and binding.kind == "import":
                resolved = self.resolver.resolve(rel, binding.source)
                if resolved.kind == "file" and binding.imported != "*":
                    return self.final_export(resolved.name, binding.imported, depth + 1)
            return (rel, what)
        if kind == "from":
            resolved = self.resolver.resolve(rel, what[0])
            return self.final_export(resolved.name, what[1], depth + 1) if resolved.kind == "file" else None
        return None

    def uses(self, module: Module) -> dict[tuple[str, str | None] | None, set[tuple[str, ...]]]:
        """For each top-level owner of the module (None: module-level code), what it refers to: ``("local", name,
        prop)`` a top-level declaration here, ``("ext", rel, name, prop)`` one of another module, ``("whole", rel)``
        a whole module (a namespace used as a value, a dynamic import)."""
        if module.uses is not None:
            return module.uses
        found: dict[tuple[str, str | None] | None, set[tuple[str, ...]]] = {}
        module.uses = found
        if module.parsed is None:
            return found
        top = self.scope(module, module.parsed.root)
        for node in walk(module.parsed.root):
            if node.type == "call_expression":
                callee = node.child_by_field_name("function")
                args = node.child_by_field_name("arguments")
                if callee is not None and args is not None and args.named_children and (
                        callee.type == "import" or text(callee) == "require"):  # fmt: skip
                    source = string_value(args.named_children[0])
                    resolved = self.resolver.resolve(module.rel, source) if source else None
                    if resolved is not None and resolved.kind == "file":
                        found.setdefault(owner_of(node), set()).add(("whole", resolved.name, ""))
                continue
            if node.type not in ("identifier", "shorthand_property_identifier") or _declares(node):
                continue
            name = text(node)
            binding = self.lookup(module, node, name)
            if binding is None or binding.kind == "param":
                continue
            parent = node.parent
            prop = None
            if (
                parent is not None
                and parent.type == "member_expression"
                and parent.child_by_field_name("object") == node
            ):
                prop = text(parent.child_by_field_name("property"))
            ref: tuple[str, ...] | None = None
            if binding.kind == "import":
                resolved = self.resolver.resolve(module.rel, binding.source)
                if resolved.kind != "file":
                    continue
                exported = prop if binding.imported == "*" else binding.imported
                target = self.final_export(resolved.name, exported) if exported else None
                if target is None or exported is None:
                    ref = ("whole", resolved.name, "")
                else:  # the barrels between the import and the module that defines the name
                    barrels = "|".join(m for m in self.defining(resolved.name, exported)[0][:-1] if m != target[0])
                    inner = "" if binding.imported == "*" else prop or ""
                    ref = ("ext", target[0], target[1], inner, barrels)
            elif top.get(name) is binding:
                ref = ("local", name, prop or "")
            if ref is not None:
                found.setdefault(owner_of(node), set()).add(ref)
        return found

    def live(
        self, entries: list[str]
    ) -> tuple[set[str], set[str], set[tuple[str, str, str | None]], dict[str, tuple[str, ...]]]:
        """(modules used whole or touched, top-level declarations used) from a route's entry files: what its
        page, layouts and slots refer to, and what those refer to, through every import.

        Returns (modules used whole, modules whose code runs because they are imported, (module, name, property)
        of the top-level declarations used; property None for the whole declaration), and for each module (and
        each ``module#name#property`` used) the chain of modules from an entry file that led to it, barrels
        included."""
        whole: set[str] = set()
        touched: set[str] = set()
        used: set[tuple[str, str, str | None]] = set()
        chains: dict[str, tuple[str, ...]] = {}
        queue: deque[tuple[str, tuple[str, str | None] | str | None]] = deque()

        def touch(rel: str, via: tuple[str, ...]) -> None:
            if rel not in chains:
                chains[rel] = (*via, rel)
            if rel not in touched:
                touched.add(rel)
                queue.append((rel, None))  # its module-level code runs when it is imported

        def use(rel: str, name: str, prop: str | None, via: tuple[str, ...]) -> None:
            key = (rel, name, prop)
            if key in used or (rel, name, None) in used or rel in whole:
                return
            used.add(key)
            chains.setdefault(f"{rel}#{name}#{prop or ''}", (*via, rel))
            touch(rel, via)
            queue.append((rel, (name, prop)))

        def use_whole(rel: str, via: tuple[str, ...]) -> None:
            if rel not in whole:
                whole.add(rel)
                touch(rel, via)
                queue.append((rel, "*"))

        for entry in entries:
            use_whole(entry, ())
        steps = 0
        while queue and steps < 200_000:
            steps += 1
            rel, owner = queue.popleft()
            module = self.module(rel)
            if module is None:
                continue
            here = chains[rel]
            for key, refs in self.uses(module).items():
                if owner == "*" or key == owner or (
                        owner is not None and key is not None and isinstance(owner, tuple) and owner[1] is None
                        and key[0] == owner[0]):  # fmt: skip
                    for ref in sorted(refs):
                        if ref[0] == "whole":
                            use_whole(ref[1], here)
                        elif ref[0] == "local":
                            use(rel, ref[1], ref[2] or None, here[:-1])
                        else:
                            barrels = tuple(b for b in ref[4].split("|") if b) if len(ref) > 4 else ()
                            use(ref[1], ref[2], ref[3] or None, (*here, *barrels))
            if owner is None:
                for target, via in self.edges(module):
                    touch(target, (*here, *via))  # imported: its module-level code runs
        return whole, touched, used, chains

    def reach(self, entries: list[str]) -> dict[str, tuple[str, ...]]:
        """Every module reachable from ``entries``, with the shortest chain of modules to it (itself last)."""
        chains: dict[str, tuple[str, ...]] = {}
        queue: deque[str] = deque()
        for entry in entries:
            if entry not in chains:
                chains[entry] = (entry,)
                queue.append(entry)
        while queue:
            rel = queue.popleft()
            module = self.module(rel)
            if module is None:
                continue
            for target, via in self.edges(module):
                if target in chains:
                    continue
                chains[target] = (*chains[rel], *via, target)
                queue.append(target)
        return chains


def _query_or_empty(value: Value) -> bool:
    """Whether a value is an empty string or one that starts with a query string or a fragment."""
    if not isinstance(value, Text):
        return False
    first = value.parts[0] if value.parts else ""
    return isinstance(first, str) and (not value.parts or first.startswith(("?", "&", "#")))


def _query_string(node: Node | None) -> bool:
    """Whether an expression starts with a literal ``?``, ``&`` or ``#``: a query string or a fragment."""
    while node is not None and node.type in ("binary_expression", *TRANSPARENT):
        node = node.child_by_field_name("left") if node.type == "binary_expression" else (
            node.named_children[0] if node.named_children else None)  # fmt: skip
    if node is None:
        return False
    if node.type == "string":
        return (string_value(node) or "").startswith(("?", "&", "#"))
    if node.type == "template_string":
        first = node.named_children[0] if node.named_children else None
        return first is not None and first.type == "string_fragment" and text(first).startswith(("?", "&", "#"))
    return False


def callee_of(call: Node) -> Node | None:
    """The callee of a call expression. tree-sitter-typescript reads ``await api.get<T>(url)`` (type arguments after
    an awaited member) as a call of ``await api.get``; the await changes nothing about what is called."""
    callee = call.child_by_field_name("function")
    while callee is not None and callee.type == "await_expression" and callee.named_children:
        callee = callee.named_children[0]
    return callee


def is_fetch_name(name: str) -> bool:
    """``fetch``, ``ofetch``, ``serverFetch``, ``correlatedFetch``: a package function named as a fetch."""
    last = name.rsplit(".", 1)[-1]
    return last == "fetch" or last.endswith("Fetch") or last == "ofetch"


def _replace(value: Text, pattern: Node, replacement: Value, every: bool) -> Value:
    """``text.replace(pattern, replacement)`` on a literal text (or on its literal end for a ``$``-anchored regex)."""
    import re

    with_text = replacement.literal if isinstance(replacement, Text) else None
    if with_text is None:
        return Unknown("the result of replace() with a run-time replacement", text(pattern)[:40])
    if pattern.type == "string":
        needle = string_value(pattern) or ""
        if value.literal is None:
            return Unknown("the result of replace() on a run-time string", needle)
        return Text.of(value.literal.replace(needle, with_text, -1 if every else 1), env=value.env)
    if pattern.type != "regex":
        return Unknown("the result of replace()", text(pattern)[:40])
    source = text(pattern.child_by_field_name("pattern"))
    flags = text(pattern.child_by_field_name("flags"))
    count = 0 if every or "g" in flags else 1
    try:
        compiled = re.compile(source, re.IGNORECASE if "i" in flags else 0)
    except re.error:
        return Unknown("the result of replace() with a regular expression Python does not read", source)
    parts = list(value.parts)
    if value.literal is not None:
        return Text.of(compiled.sub(with_text, value.literal, count=count), env=value.env)
    if source.endswith("$") and parts and isinstance(parts[-1], str):
        parts[-1] = compiled.sub(with_text, parts[-1], count=count)
        return Text.of(*parts, env=value.env)
    return Unknown("the result of replace() on a run-time string", source)


def string_value_escape(sequence: str) -> str:
    from ._parse import _unescape

    return _unescape(sequence)


def join_url(base: Value, path: Value) -> Value:
    """``new URL(path, base)`` and axios' ``baseURL`` + ``url``: an absolute ``path`` wins; else joined by one ``/``."""
    if isinstance(path, Text):
        first = path.parts[0] if path.parts else ""
        if isinstance(first, str) and first.startswith(("http://", "https://", "//")):
            return path
    if isinstance(base, (Undefined,)) or base is None:
        return path
    base_text = as_text(base)
    path_text = as_text(path)
    if not base_text.parts:
        return path_text
    last = base_text.parts[-1]
    first = path_text.parts[0] if path_text.parts else ""
    if isinstance(last, str) and last.endswith("/") and isinstance(first, str) and first.startswith("/"):
        path_text = Text.of(first[1:], *path_text.parts[1:], env=path_text.env)
    elif (
        not (isinstance(last, str) and last.endswith("/"))
        and not (isinstance(first, str) and first.startswith("/"))
        and path_text.parts
    ):
        path_text = Text.of("/", *path_text.parts, env=path_text.env)
    return base_text.concat(path_text)


def _wrapper_refs(spec: CallSpec) -> list[ParamRef]:
    """Parameters that make a spec the inside of a wrapper: in the method, the base, a whole config, or in the
    URL other than as a whole path segment."""
    refs = list(params_in(spec.method)) + list(params_in(spec.base))
    url = spec.url
    if not isinstance(url, Text):
        return refs + list(params_in(url))
    parts = url.parts
    for index, part in enumerate(parts):
        if isinstance(part, str) and ("?" in part or "#" in part):
            break  # the query and fragment do not choose the endpoint
        if not isinstance(part, Hole) or part.param is None:
            continue
        before = parts[index - 1] if index else None
        after = parts[index + 1] if index + 1 < len(parts) else None
        segment = (
            isinstance(before, str)
            and before.endswith("/")
            and (after is None or (isinstance(after, str) and after[:1] in ("/", "?", "#")))
        )
        if not segment:
            refs.append(part.param)
    return refs


def _named_holes(spec: CallSpec) -> CallSpec:
    """A spec reported here: parameters left in it are path parameters, named, no longer tied to a function."""

    def strip(value: Value) -> Value:
        if isinstance(value, Text):
            return Text.of(
                *(Hole(p.name) if isinstance(p, Hole) and p.param else p for p in value.parts), env=value.env
            )
        if isinstance(value, Param):
            return Unknown(f"parameter `{value.ref.name}`", value.ref.name)
        if isinstance(value, Fallback):
            return strip(value.left) if not isinstance(value.left, Param) else strip(value.right)
        return value

    return replace(spec, url=strip(spec.url), method=strip(spec.method), base=strip(spec.base))


def owner_of(node: Node) -> tuple[str, str | None] | None:
    """The top-level declaration ``node`` is written in: its name, and the key of the object literal's property
    when the declaration is ``const name = { key: ... }``; None for module-level code."""
    chain: list[Node] = []
    current: Node | None = node
    while current is not None and current.type != "program":
        chain.append(current)
        current = current.parent
    if not chain:
        return None
    top = chain[-1]
    inner = chain[:-1]
    if top.type == "export_statement":
        declaration = top.child_by_field_name("declaration")
        if declaration is None:
            return ("default", None) if top.child_by_field_name("value") is not None else None
        if not inner or inner[-1] != declaration:
            return None
        top, inner = declaration, inner[:-1]
    if top.type in FUNCTION_TYPES or top.type in CLASS_TYPES:
        name = top.child_by_field_name("name")
        return (text(name), None) if name is not None else None
    if top.type in ("lexical_declaration", "variable_declaration"):
        declarator = next((n for n in reversed(inner) if n.type == "variable_declarator"), None)
        target = declarator.child_by_field_name("name") if declarator is not None else None
        if target is None or target.type != "identifier":
            return None
        value = declarator.child_by_field_name("value") if declarator is not None else None
        while value is not None and value.type in TRANSPARENT:
            value = value.named_children[0] if value.named_children else None
        if value is not None and value.type == "object":
            for child, parent in itertools.pairwise(inner):
                if parent == value and child.type in ("pair", "method_definition", "shorthand_property_identifier"):
                    key = child.child_by_field_name("key") or child.child_by_field_name("name")
                    return (text(target), _key_name(key) if key is not None else text(child))
        return (text(target), None)
    return None


def _declares(node: Node) -> bool:
    """Whether an identifier is the name a declaration gives (not a use of one)."""
    parent = node.parent
    if parent is None:
        return True
    if parent.type in ("import_specifier", "import_clause", "namespace_import", "export_specifier"):
        return True
    if parent.child_by_field_name("name") == node and parent.type in (
            "variable_declarator", "function_declaration", "class_declaration", "function_expression",
            "generator_function_declaration", "method_definition", "abstract_class_declaration"):  # fmt: skip
        return True
    return parent.type in ("pair_pattern", "object_pattern", "array_pattern", "required_parameter",
                           "optional_parameter", "formal_parameters", "rest_pattern")  # fmt: skip


def _enclosing_functions(rel: str, node: Node) -> list[tuple[str, int]]:
    found = []
    current = node.parent
    while current is not None:
        if current.type in FUNCTION_TYPES:
            found.append((rel, current.id))
        current = current.parent
    return found


def _enclosing_function(node: Node) -> Node | None:
    current = node.parent
    while current is not None:
        if current.type in FUNCTION_TYPES:
            return current
        current = current.parent
    return None


def _enclosing_class(node: Node) -> Node | None:
    current = node.parent
    while current is not None:
        if current.type in CLASS_TYPES:
            return current
        current = current.parent
    return None


def _pattern_names(pattern: Node | None, path: tuple[str, ...] = ()) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(name, property path) for every name a binding pattern declares."""
    if pattern is None:
        return
    kind = pattern.type
    if kind in ("identifier", "shorthand_property_identifier_pattern"):
        yield text(pattern), path
    elif kind == "object_pattern":
        for child in pattern.named_children:
            if child.type == "shorthand_property_identifier_pattern":
                yield text(child), (*path, text(child))
            elif child.type == "pair_pattern":
                key = child.child_by_field_name("key")
                yield from _pattern_names(child.child_by_field_name("value"), (*path, _key_name(key)))
            elif child.type == "object_assignment_pattern":
                left = child.child_by_field_name("left")
                yield from ((n, (*path, n)) for n, _ in _pattern_names(left))
            elif child.type == "rest_pattern":
                for name, _ in _pattern_names(child.named_children[0] if child.named_children else None):
                    yield name, path
    elif kind == "array_pattern":
        for index, child in enumerate(pattern.named_children):
            yield from _pattern_names(child, (*path, str(index)))
    elif kind == "assignment_pattern":
        yield from _pattern_names(pattern.child_by_field_name("left"), path)


def _param_default(function: Node, index: int) -> Node | None:
    params = function.child_by_field_name("parameters")
    if params is None:
        return None
    items = [p for p in params.named_children if p.type != "comment"]
    if index >= len(items):
        return None
    param = items[index]
    if param.type == "assignment_pattern":
        return param.child_by_field_name("right")
    return param.child_by_field_name("value")


def _key_name(key: Node | None) -> str:
    if key is None:
        return ""
    value = string_value(key)
    return value if value is not None else text(key)


def _export_name(node: Node | None) -> str:
    if node is None:
        return ""
    value = string_value(node)
    return value if value is not None else text(node)


def _imported_names(node: Node) -> Iterator[str]:
    for clause in node.named_children:
        if clause.type != "import_clause":
            continue
        for part in clause.named_children:
            if part.type == "identifier":
                yield "default"
            elif part.type == "namespace_import":
                yield "*"
            elif part.type == "named_imports":
                for spec in part.named_children:
                    if spec.type == "import_specifier" and not any(c.type == "type" for c in spec.children):
                        yield _export_name(spec.child_by_field_name("name"))


def _has_own_code(module: Module) -> bool:
    """Whether a module does more than import and re-export (a barrel has no code of its own)."""
    if module.parsed is None:
        return False
    return any(
        node.type not in ("import_statement", "export_statement", "comment", "expression_statement")
        or (node.type == "export_statement" and node.child_by_field_name("source") is None
            and node.child_by_field_name("declaration") is not None)
        for node in module.parsed.root.named_children
    )  # fmt: skip


def _falsy(value: Value) -> bool:
    if isinstance(value, Text):
        return value.literal == ""
    if isinstance(value, Literal):
        return value.text in ("false", "null", "0")
    return isinstance(value, (Undefined, EnvUnset))


def _nullish(value: Value) -> bool:
    return isinstance(value, Undefined) or (isinstance(value, Literal) and value.text in ("null", "false"))


def relpath(rel: str) -> str:
    return posixpath.normpath(rel)
