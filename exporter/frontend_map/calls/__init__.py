"""Call styles: one module per way a Next.js app calls its backend, behind one signature.

Each style is ``detect(site: Site) -> list[CallSpec] | None``: None when the call is not of its style, else the
calls it makes (possibly none). They are tried in the order of ``STYLES``; the first that answers wins.

* ``fetch``        the global ``fetch(url, init)`` (also ``window.fetch``, ``globalThis.fetch``)
* ``axios``        ``axios(config)``, ``axios.get(url)``…, and instances from ``axios.create({baseURL})``
* ``swr``          ``useSWR(key, fetcher)``, ``useSWRImmutable``, ``useSWRMutation``: the fetcher gets the key
* ``react_query``  TanStack Query's ``useQuery``/``useMutation``…: ``queryFn`` gets ``{queryKey}``
* ``wrappers``     a function of the tree that calls one of the above with its parameters (``api.get<T>(path)``),
                   and calls through imports that cannot be resolved (reported as unresolved, never dropped)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tree_sitter import Node

from .._model import Location
from .._parse import line, text
from .._values import Value

if TYPE_CHECKING:
    from .._engine import CallSpec, Engine, Module


@dataclass
class Site:
    """One call expression: where it is, its callee and its argument nodes, evaluated on demand."""

    engine: Engine
    module: Module
    node: Node
    callee_node: Node
    arg_nodes: list[Node]
    _callee: Value | None = None
    _args: dict[int, Value] = field(default_factory=dict)

    @property
    def location(self) -> Location:
        return Location(self.module.rel, line(self.node))

    @property
    def callee(self) -> Value:
        if self._callee is None:
            from .._engine import Ctx

            self._callee = self.engine.evaluate(self.module, self.callee_node, Ctx())
        return self._callee

    def value(self, node: Node | None) -> Value:
        from .._engine import Ctx

        return self.engine.evaluate(self.module, node, Ctx())

    def arg(self, index: int) -> Value:
        from .._values import UNDEFINED

        if index >= len(self.arg_nodes):
            return UNDEFINED
        if index not in self._args:
            self._args[index] = self.value(self.arg_nodes[index])
        return self._args[index]

    def args(self) -> list[Value]:
        return [self.arg(index) for index in range(len(self.arg_nodes))]

    @property
    def callee_text(self) -> str:
        return text(self.callee_node)

    def member_parts(self) -> tuple[Node | None, str]:
        """For ``obj.prop(...)``: the object node and the property name; (None, "") otherwise."""
        if self.callee_node.type != "member_expression":
            return None, ""
        return self.callee_node.child_by_field_name("object"), text(self.callee_node.child_by_field_name("property"))


from . import axios, fetch, react_query, swr, wrappers  # noqa: E402 - the styles use Site

STYLES: tuple[Callable[[Site], list[CallSpec] | None], ...] = (
    fetch.detect,
    axios.detect,
    swr.detect,
    react_query.detect,
    wrappers.detect,
)
