"""``next.config.{js,mjs,ts}``: ``basePath``, ``trailingSlash``, ``skipTrailingSlashRedirect``, ``pageExtensions``,
``env`` and ``rewrites``, read statically from the file's literal forms.

The file is parsed, not run: ``module.exports = {...}``, ``export default {...}``, ``const nextConfig: NextConfig =
{...}; export default nextConfig``, a function config (``(phase) => ({...})``, called as Next.js does with the
production server phase), a plugin wrapper (``withBundleAnalyzer(config)``: the config inside is read, and the
wrapper reported), and ``async rewrites() { return [...] }`` returning an array (``afterFiles``) or
``{beforeFiles, afterFiles, fallback}``. ``process.env.X ?? 'default'`` is resolved as elsewhere. A rewrite whose
``source`` or ``destination`` is not a literal is reported (``next-config``), never guessed.

Source: Next.js' ``next.config.js`` reference: ``basePath``, ``trailingSlash``, ``skipTrailingSlashRedirect``,
``pageExtensions``, ``env``, ``rewrites`` (and the order: ``beforeFiles``, the filesystem, ``afterFiles``, dynamic
routes, ``fallback``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._engine import Ctx, Engine
from ._model import Problem
from ._values import Arr, EnvUnset, Fallback, Func, Hole, Literal, Obj, Text, Unknown, Value, describe, get_prop

CONFIG_FILES = ("next.config.js", "next.config.mjs", "next.config.ts", "next.config.cjs", "next.config.mts")
DEFAULT_PAGE_EXTENSIONS = ("tsx", "ts", "jsx", "js")
PHASES = ("beforeFiles", "afterFiles", "fallback")


@dataclass(frozen=True)
class Rewrite:
    """One rewrite: ``source`` pattern and ``destination`` (path-to-regexp style ``:name``, ``:name*``)."""

    source: str
    destination: str
    phase: str = "afterFiles"
    base_path: bool = True  # False: ``basePath: false``, the source is not under basePath
    conditional: bool = False  # has/missing: applied only to some requests
    env_origin: str | None = None  # the destination's origin came from this unset variable

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"source": self.source, "destination": self.destination, "phase": self.phase}
        if not self.base_path:
            data["basePath"] = False
        if self.conditional:
            data["conditional"] = True
        return data


@dataclass
class NextConfig:
    file: str | None = None
    base_path: str = ""
    trailing_slash: bool = False
    skip_trailing_slash_redirect: bool = False
    page_extensions: tuple[str, ...] = DEFAULT_PAGE_EXTENSIONS
    env: dict[str, str] = field(default_factory=dict)
    rewrites: list[Rewrite] = field(default_factory=list)


def read_next_config(engine: Engine, problems: list[Problem]) -> NextConfig:
    """The tree's Next.js config; defaults (and no problem) when there is no config file."""
    rel = next((name for name in CONFIG_FILES if engine.tree.exists(name)), None)
    config = NextConfig(file=rel)
    if rel is None:
        return config
    module = engine.module(rel)
    if module is None or module.parsed is None:
        problems.append(Problem("next-config", "could not be read; defaults used", rel))
        return config
    ctx = Ctx()
    value = engine.export_value(rel, "default", ctx)
    root_node = engine.export_table(module).get("default")
    if isinstance(value, Unknown) and root_node is not None and root_node[0] == "node":
        node = root_node[1]
        if node.type == "call_expression":  # withPlugin(config) or withA(withB(config))
            while node.type == "call_expression":
                args = node.child_by_field_name("arguments")
                inner = args.named_children[0] if args is not None and args.named_children else None
                if inner is None:
                    break
                node = inner
            problems.append(Problem("next-config", "the config is wrapped in a plugin call; the config inside is "
                                    "read, what the plugin changes is not known", rel))  # fmt: skip
            value = engine.evaluate(module, node, ctx)
    if isinstance(value, Func):
        value = engine.inline(value, [Text.of("phase-production-server"), Obj()], ctx, "config function")
    if not isinstance(value, Obj):
        problems.append(Problem("next-config", f"the exported config is {describe(value)}; defaults used", rel))
        return config

    def literal(name: str) -> Value:
        return get_prop(value, name)

    base = literal("basePath")
    if isinstance(base, Text) and base.literal is not None:
        config.base_path = base.literal.rstrip("/")
    elif not _absent(base):
        problems.append(Problem("next-config", f"basePath is {describe(base)}; taken as none", rel))
    config.trailing_slash = _true(literal("trailingSlash"))
    config.skip_trailing_slash_redirect = _true(literal("skipTrailingSlashRedirect"))
    extensions = literal("pageExtensions")
    if isinstance(extensions, Arr):
        found = [item.literal for item in extensions.items if isinstance(item, Text) and item.literal]
        if found:
            config.page_extensions = tuple(ext.lstrip(".") for ext in found if ext)
    env = literal("env")
    if isinstance(env, Obj):
        for name, item in env.props.items():
            if isinstance(item, Text) and item.literal is not None:
                config.env[name] = item.literal
    rewrites = literal("rewrites")
    if isinstance(rewrites, Func):
        rewrites = engine.inline(rewrites, [], ctx, "rewrites()")
    if isinstance(rewrites, Arr):
        config.rewrites = _rewrites(rewrites, "afterFiles", rel, problems)
    elif isinstance(rewrites, Obj):
        for phase in PHASES:
            items = get_prop(rewrites, phase)
            if isinstance(items, Arr):
                config.rewrites += _rewrites(items, phase, rel, problems)
            elif not _absent(items):
                problems.append(Problem("next-config", f"rewrites().{phase} is {describe(items)}; not applied", rel))
    elif not _absent(rewrites):
        problems.append(Problem("next-config", f"rewrites is {describe(rewrites)}: not literal; no rewrite is "
                                "applied, calls that rely on one are judged without it", rel))  # fmt: skip
    return config


def _rewrites(items: Arr, phase: str, rel: str, problems: list[Problem]) -> list[Rewrite]:
    found = []
    for index, item in enumerate(items.items):
        where = f"rewrites {phase}[{index}]"
        if not isinstance(item, Obj):
            problems.append(Problem("next-config", f"{where} is {describe(item)}; not applied", rel))
            continue
        source, destination = get_prop(item, "source"), get_prop(item, "destination")
        source_text = source.literal if isinstance(source, Text) else None
        if source_text is None:
            problems.append(Problem("next-config", f"{where}: source is {describe(source)}; not applied", rel))
            continue
        env_origin = None
        destination_text: str | None = None
        if isinstance(destination, Text):
            parts = destination.parts
            if parts and isinstance(parts[0], Hole) and parts[0].env and all(isinstance(p, str) for p in parts[1:]):
                env_origin = parts[0].env
                destination_text = "".join(p for p in parts[1:] if isinstance(p, str))
            else:
                destination_text = destination.literal
        elif isinstance(destination, EnvUnset):
            env_origin, destination_text = destination.name, "/"
        if destination_text is None:
            problems.append(Problem("next-config", f"{where} ({source_text}): destination is "
                                    f"{describe(destination)}; not applied", rel))  # fmt: skip
            continue
        if env_origin:
            problems.append(Problem("next-config", f"{where} ({source_text}): the destination's origin comes from "
                                    f"process.env.{env_origin}, which is not set and has no default; its path is "
                                    "used", rel))  # fmt: skip
        conditional = not _absent(get_prop(item, "has")) or not _absent(get_prop(item, "missing"))
        base_path = not (
            isinstance(get_prop(item, "basePath"), Literal) and get_prop(item, "basePath") == Literal("false")
        )
        found.append(Rewrite(source_text, destination_text, phase, base_path, conditional, env_origin))
    return found


def _absent(value: Value) -> bool:
    from ._values import Undefined

    return isinstance(value, Undefined)


def _true(value: Value) -> bool:
    if isinstance(value, Fallback):
        return False
    return isinstance(value, Literal) and value.text == "true"
