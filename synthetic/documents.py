"""Bounded reading of YAML and JSON documents from outside: configs, OpenAPI documents, response bodies.

Every document the exporter reads goes through here, so one set of bounds holds everywhere:

* ``max_bytes``: the encoded size, checked before parsing;
* ``max_depth``: nesting of mappings and sequences (deep nesting exhausts Python's recursion);
* ``max_nodes``: scalars, mappings and sequences *after* alias expansion, counted without expanding (a
  702-byte "billion laughs" file of nested anchors expands to 10⁹ nodes);
* ``max_aliases``: alias references in the text.

YAML is read with PyYAML's safe loader plus three rules of our own: a mapping key written twice is an error
with both lines (YAML says keys are unique; PyYAML silently keeps the last), a recursive alias (``&a [*a]``)
is an error, and optionally every key must be a string. Text must be UTF-8 (a UTF-8 byte-order mark is
allowed), as Prometheus requires of its own files.

Errors are ``DocumentError(ValueError)`` with a one-line message that names the line where it can.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "CONFIG_LIMITS",
    "DEFAULT_LIMITS",
    "DocumentError",
    "DocumentLimits",
    "decode_utf8",
    "load_document",
    "load_json",
    "load_yaml",
]


class DocumentError(ValueError):
    """A document that cannot be used: not UTF-8, not YAML/JSON, or over one of its bounds."""


@dataclass(frozen=True)
class DocumentLimits:
    """Bounds on one document. Sizes in bytes; ``max_nodes`` counts nodes after alias expansion."""

    max_bytes: int = 16 * 1024 * 1024
    max_depth: int = 100
    max_nodes: int = 2_000_000
    max_aliases: int = 10_000


# OpenAPI documents and other fetched documents: large real APIs' documents are a few MB of JSON.
DEFAULT_LIMITS = DocumentLimits()
# The exporter's own config: a 1 000-workflow config is well under these; a file over them is a mistake.
CONFIG_LIMITS = DocumentLimits(max_bytes=8 * 1024 * 1024, max_depth=64, max_nodes=1_000_000, max_aliases=1_000)


def decode_utf8(data: bytes, what: str = "the document") -> str:
    """``data`` as text; a UTF-8 byte-order mark is dropped; anything but UTF-8 is a DocumentError."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        bom = (
            " (it starts with a UTF-16 byte-order mark: save it as UTF-8)"
            if data[:2] in (b"\xff\xfe", b"\xfe\xff")
            else ""
        )
        raise DocumentError(
            f"{what} is not UTF-8: byte 0x{data[error.start]:02x} at offset {error.start} (line {line}){bom}"
        ) from None


def load_yaml(
    data: bytes | str,
    limits: DocumentLimits = DEFAULT_LIMITS,
    *,
    string_keys: bool = False,
    problems: list[str] | None = None,
) -> Any:
    """Parse YAML (JSON is YAML too) within ``limits``.

    ``string_keys`` makes a non-string key (``3:``, ``yes:``, ``null:``) a problem. Problems that leave the
    document readable (duplicate and non-string keys) are appended to ``problems`` when it is given, so a
    caller can report them with its own; without it the first one raises.
    """
    text = _text(data, limits)
    try:
        loader = _BoundedLoader(text, limits, string_keys, problems)
    except yaml.YAMLError as error:  # the reader refuses control characters at once
        raise DocumentError(_describe_yaml_error(error)) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, limits)
        return loader.construct_document(node)
    except DocumentError:
        raise
    except yaml.YAMLError as error:
        raise DocumentError(_describe_yaml_error(error)) from None
    except RecursionError:  # bounded by max_depth; kept so that no document can crash a caller
        raise DocumentError("the document is nested too deeply") from None
    finally:
        loader.dispose()


def load_json(data: bytes | str, limits: DocumentLimits = DEFAULT_LIMITS) -> Any:
    """Parse JSON within ``limits`` (duplicate keys are allowed, as JSON parsers do; the last one wins)."""
    text = _text(data, limits)
    try:
        document = json.loads(text)
    except RecursionError:
        raise DocumentError(f"the JSON is nested deeper than {limits.max_depth} levels") from None
    except ValueError as error:
        raise DocumentError(f"invalid JSON: {error}") from None
    check_shape(document, limits)
    return document


def load_document(data: bytes | str, limits: DocumentLimits = DEFAULT_LIMITS) -> Any:
    """JSON when it parses as JSON, else YAML; both within ``limits``."""
    text = _text(data, limits)
    if text.lstrip()[:1] in ("{", "["):
        try:
            return load_json(text, limits)
        except DocumentError as error:
            if "invalid JSON" not in str(error):
                raise
    return load_yaml(text, limits)


def check_shape(document: Any, limits: DocumentLimits = DEFAULT_LIMITS) -> None:
    """Depth and node count of an already parsed JSON value (iterative: safe for any depth Python built)."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise DocumentError(f"the document has more than {limits.max_nodes} values")
        if isinstance(value, dict | list):
            if depth > limits.max_depth:
                raise DocumentError(f"the document is nested deeper than {limits.max_depth} levels")
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)


# --- internals -------------------------------------------------------------------------------------------------


def _text(data: bytes | str, limits: DocumentLimits) -> str:
    size = len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
    if size > limits.max_bytes:
        raise DocumentError(f"the document is {size} bytes, more than the limit of {limits.max_bytes}")
    return decode_utf8(data) if isinstance(data, bytes) else data


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with depth, node and alias counts while composing, and unique keys."""

    def __init__(self, text: str, limits: DocumentLimits, string_keys: bool, problems: list[str] | None) -> None:
        super().__init__(text)
        self._limits = limits
        self._string_keys = string_keys
        self._problems = problems
        self._depth = 0
        self._nodes = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > self._limits.max_aliases:
                mark = self.peek_event().start_mark
                raise DocumentError(f"line {mark.line + 1}: more than {self._limits.max_aliases} aliases")
            return super().compose_node(parent, index)
        self._nodes += 1
        if self._nodes > self._limits.max_nodes:
            mark = self.peek_event().start_mark
            raise DocumentError(f"line {mark.line + 1}: more than {self._limits.max_nodes} values")
        nests = self.check_event(yaml.MappingStartEvent, yaml.SequenceStartEvent)
        if nests:
            self._depth += 1
            if self._depth > self._limits.max_depth:
                mark = self.peek_event().start_mark
                raise DocumentError(f"line {mark.line + 1}: nested deeper than {self._limits.max_depth} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            if nests:
                self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if isinstance(key, list | dict):
                    raise DocumentError(f"line {line}: a key cannot be a mapping or a list")
                if self._string_keys and not isinstance(key, str):
                    self._problem(f"line {line}: key {key!r} is {_a(key)}; keys must be strings (quote it: '{key}')")
                    key = str(key)
                try:
                    seen = first_line.get(key)
                except TypeError:
                    raise DocumentError(f"line {line}: a key cannot be a mapping or a list") from None
                if seen is not None:
                    self._problem(f"line {line}: duplicate key {key!r} (first on line {seen})")
                first_line.setdefault(key, line)
        mapping = super().construct_mapping(node, deep=deep)
        if self._string_keys and any(not isinstance(key, str) for key in mapping):
            mapping = {str(key): value for key, value in mapping.items()}
        return mapping

    def _problem(self, message: str) -> None:
        if self._problems is None:
            raise DocumentError(message)
        self._problems.append(message)


def _a(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number"}.get(type(value), f"a {type(value).__name__}")


def _check_expansion(root: Node, limits: DocumentLimits) -> None:
    """Count nodes as if every alias were expanded, without expanding; refuse recursive aliases."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    # Iterative post-order walk: (node, children visited?)
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            if size > limits.max_nodes:
                raise DocumentError(
                    f"line {node.start_mark.line + 1}: expands to more than {limits.max_nodes} values "
                    "(anchors and aliases nested in each other)"
                )
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise DocumentError(f"line {node.start_mark.line + 1}: an alias refers to the node that contains it")
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise DocumentError(f"line {child.start_mark.line + 1}: an alias refers to the node that contains it")
            if id(child) not in sizes:
                stack.append((child, False))


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    assert isinstance(node, ScalarNode)
    return []


def _describe_yaml_error(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}: " if mark else ""
    problem = getattr(error, "problem", None) or str(error)
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and context_mark and (not mark or context_mark.line != mark.line):
        # the mistake is usually where the context starts (an unclosed bracket or quote), not where it is found
        problem += f" ({context} that starts on line {context_mark.line + 1})"
    return f"{where}invalid YAML: {problem}"
