"""Module resolution as TypeScript and Next.js do it: relative specifiers, ``tsconfig.json``/``jsconfig.json``
``compilerOptions.paths`` and ``baseUrl`` (the ``@/…`` alias ``create-next-app`` writes), index files, and the
extension list Next.js tries.

Sources: TypeScript's module resolution (``paths`` relative to ``baseUrl``, or to the tsconfig file itself when
no ``baseUrl`` is set, since TypeScript 4.1; ``extends`` of a relative file), Next.js' "Absolute Imports and
Module Path Aliases" (it reads both files' ``paths``). A missing or unreadable tsconfig is a named problem: the
aliases are then unknown and every import through one is reported as unresolved.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

from ._files import SourceTree
from ._model import Problem

EXTENSIONS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
MAX_TSCONFIG_BYTES = 1024 * 1024
MAX_EXTENDS = 8


@dataclass(frozen=True)
class Resolved:
    """What an import specifier names: a file of the tree (``file``), a package (``package``), or nothing
    (``missing``, with ``reason``)."""

    kind: str
    name: str
    reason: str = ""


@dataclass
class PathAliases:
    """``compilerOptions.paths`` and ``baseUrl``, as tree-relative folders."""

    base_url: str | None = None  # tree-relative, "" for the root
    paths_base: str = ""
    paths: dict[str, list[str]] = field(default_factory=dict)
    source: str | None = None  # the config file they came from


def _strip_jsonc(text: str) -> str:
    """JSON with comments and trailing commas (tsconfig's dialect) as plain JSON."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif char == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j < n and text[j] in "}]":
                i += 1
                continue
            out.append(char)
            i += 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def load_aliases(tree: SourceTree, problems: list[Problem]) -> PathAliases:
    """The tree's ``tsconfig.json`` (else ``jsconfig.json``) aliases; a problem when there is none or it is bad."""
    for name in ("tsconfig.json", "jsconfig.json"):
        if tree.exists(name):
            return _read_config(tree, name, problems)
    problems.append(Problem("tsconfig", "no tsconfig.json or jsconfig.json at the root: path aliases (@/…) are "
                            "unknown, imports through them are unresolved"))  # fmt: skip
    return PathAliases()


def _read_config(tree: SourceTree, name: str, problems: list[Problem]) -> PathAliases:
    aliases = PathAliases(source=name)
    seen: list[str] = []
    current: str | None = name
    # The first file that sets a value wins over the files it extends: read from the leaf down the chain.
    while current is not None and len(seen) < MAX_EXTENDS:
        seen.append(current)
        data = _load_json(tree, current, problems)
        if data is None:
            break
        raw_options = data.get("compilerOptions")
        options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}
        here = posixpath.dirname(current)
        if aliases.base_url is None and isinstance(options.get("baseUrl"), str):
            aliases.base_url = posixpath.normpath(posixpath.join(here, options["baseUrl"])).lstrip("./") or ""
            if aliases.base_url == ".":
                aliases.base_url = ""
        if not aliases.paths and isinstance(options.get("paths"), dict):
            aliases.paths = {str(k): [str(t) for t in v] for k, v in options["paths"].items() if isinstance(v, list)}
            aliases.paths_base = here
        extends = data.get("extends")
        current = None
        if isinstance(extends, str) and extends.startswith("."):  # a package's base config holds no app paths
            target = posixpath.normpath(posixpath.join(here, extends))
            if not target.endswith(".json"):
                target += ".json"
            if target in seen:
                problems.append(Problem("tsconfig", f"'extends' loops back to {target}", current or name))
            elif tree.exists(target):
                current = target
            else:
                problems.append(Problem("tsconfig", f"'extends' names {extends}, which is not in the tree", name))
    if aliases.paths and aliases.base_url is not None:
        aliases.paths_base = aliases.base_url
    return aliases


def _load_json(tree: SourceTree, rel: str, problems: list[Problem]) -> dict[str, Any] | None:
    path = tree.files[rel]
    try:
        with path.open("rb") as file:
            data = file.read(MAX_TSCONFIG_BYTES + 1)
    except OSError as error:
        problems.append(Problem("tsconfig", f"cannot read: {error.strerror or error}", rel))
        return None
    if len(data) > MAX_TSCONFIG_BYTES:
        problems.append(Problem("tsconfig", f"larger than {MAX_TSCONFIG_BYTES} bytes; not read", rel))
        return None
    try:
        value = json.loads(_strip_jsonc(data.decode("utf-8-sig")))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        problems.append(Problem("tsconfig", f"not valid JSON: {str(error)[:200]}; path aliases are unknown", rel))
        return None
    if not isinstance(value, dict):
        problems.append(Problem("tsconfig", "not a JSON object; path aliases are unknown", rel))
        return None
    return value


class Resolver:
    """Resolves import specifiers from a file of the tree to a file, a package, or a named reason."""

    def __init__(self, tree: SourceTree, aliases: PathAliases) -> None:
        self.tree = tree
        self.aliases = aliases
        self._cache: dict[tuple[str, str], Resolved] = {}

    def resolve(self, importer: str, specifier: str) -> Resolved:
        key = (posixpath.dirname(importer), specifier)
        if key not in self._cache:
            self._cache[key] = self._resolve(key[0], specifier)
        return self._cache[key]

    def _resolve(self, here: str, specifier: str) -> Resolved:
        if specifier.startswith(("./", "../")) or specifier in (".", ".."):
            target = posixpath.normpath(posixpath.join(here, specifier))
            found = self._file(target)
            return found or Resolved("missing", specifier, f"no file {target}(.ts|.tsx|.js|/index.*) in the tree")
        matched_alias = False
        for pattern, targets in sorted(self.aliases.paths.items(), key=lambda item: -len(item[0].split("*")[0])):
            capture = _match_pattern(pattern, specifier)
            if capture is None:
                continue
            matched_alias = True
            for target in targets:
                candidate = posixpath.normpath(posixpath.join(self.aliases.paths_base, target.replace("*", capture)))
                found = self._file(candidate)
                if found:
                    return found
        if matched_alias:
            return Resolved("missing", specifier, f"the path alias in {self.aliases.source} names no file in the tree")
        if self.aliases.base_url is not None:
            found = self._file(posixpath.normpath(posixpath.join(self.aliases.base_url, specifier)))
            if found:
                return found
        if specifier.startswith(("@/", "~/", "#")) and not self.aliases.paths:
            if self.aliases.source:
                return Resolved("missing", specifier, f"an alias, and {self.aliases.source} defines no paths for it")
            return Resolved("missing", specifier, "an alias, and there is no tsconfig.json to define it")
        if specifier.startswith("/"):
            return Resolved("missing", specifier, "an absolute path")
        parts = specifier.split("/")
        package = "/".join(parts[:2]) if specifier.startswith("@") else parts[0]
        return Resolved("package", package)

    def _file(self, target: str) -> Resolved | None:
        target = target.lstrip("/")
        if target.startswith("../"):
            return None
        if self.tree.exists(target) and target.endswith(EXTENSIONS):
            return Resolved("file", target)
        stem = target
        for ext in (".js", ".jsx", ".mjs", ".cjs"):  # ESM-style `./x.js` naming x.ts
            if target.endswith(ext):
                stem = target[: -len(ext)]
        for base in dict.fromkeys((target, stem)):
            for ext in EXTENSIONS:
                if self.tree.exists(base + ext):
                    return Resolved("file", base + ext)
        for ext in EXTENSIONS:
            index = f"{target}/index{ext}" if target not in ("", ".") else f"index{ext}"
            if self.tree.exists(index):
                return Resolved("file", index)
        return None


def _match_pattern(pattern: str, specifier: str) -> str | None:
    if "*" not in pattern:
        return "" if pattern == specifier else None
    prefix, _, suffix = pattern.partition("*")
    if specifier.startswith(prefix) and specifier.endswith(suffix) and len(specifier) >= len(prefix) + len(suffix):
        return specifier[len(prefix) : len(specifier) - len(suffix)]
    return None
