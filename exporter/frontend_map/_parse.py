"""Parsing with tree-sitter's TypeScript grammars: ``.ts``/``.mts``/``.cts`` with the TypeScript grammar, everything
else (``.tsx``, ``.js``, ``.jsx``, ``.mjs``, ``.cjs``) with the TSX grammar, which also reads plain JavaScript and JSX.

tree-sitter recovers from syntax errors: a file with one is reported (``syntax``, with the first line in error) and
what parsed around the error is still used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter_typescript
from tree_sitter import Language, Node, Parser, Tree

from ._model import Problem

_TSX = Language(tree_sitter_typescript.language_tsx())
_TS = Language(tree_sitter_typescript.language_typescript())


@dataclass
class Parsed:
    """One parsed file: its relative path, source bytes and tree."""

    rel: str
    source: bytes
    tree: Tree

    @property
    def root(self) -> Node:
        return self.tree.root_node


class Parsers:
    """One parser per grammar, reused for every file (a parser is not thread-safe: one ``Parsers`` per run)."""

    def __init__(self) -> None:
        self._tsx = Parser(_TSX)
        self._ts = Parser(_TS)

    def parse(self, rel: str, text: str) -> tuple[Parsed, Problem | None]:
        source = text.encode("utf-8", errors="surrogatepass")
        parser = self._ts if rel.endswith((".ts", ".mts", ".cts")) else self._tsx
        tree = parser.parse(source)
        problem = None
        if tree.root_node.has_error:
            first = first_error(tree.root_node)
            line = first.start_point[0] + 1 if first is not None else 0
            problem = Problem("syntax", f"syntax error on line {line}; the rest of the file is still mapped", rel)
        return Parsed(rel, source, tree), problem


def first_error(node: Node) -> Node | None:
    """The first ERROR or MISSING node in document order."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.is_error or current.is_missing:
            return current
        if current.has_error:
            stack.extend(reversed(current.children))
    return None


def walk(node: Node) -> Iterator[Node]:
    """Every named node below ``node`` (itself included), in document order, without recursion."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.named_children))


def text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", errors="replace")


def line(node: Node) -> int:
    return node.start_point[0] + 1


def string_value(node: Node | None) -> str | None:
    """The value of a string literal node (quotes gone, simple escapes read), or None for anything else."""
    if node is None or node.type != "string":
        return None
    parts: list[str] = []
    for child in node.named_children:
        if child.type == "string_fragment":
            parts.append(text(child))
        elif child.type == "escape_sequence":
            parts.append(_unescape(text(child)))
    return "".join(parts)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "f": "\f", "v": "\v"}


def _unescape(sequence: str) -> str:
    body = sequence[1:]
    if body.startswith("u{") and body.endswith("}"):
        return chr(int(body[2:-1], 16))
    if body.startswith(("u", "x")) and len(body) > 1:
        try:
            return chr(int(body[1:], 16))
        except ValueError:
            return body
    return _ESCAPES.get(body, body)
