"""A finding of the API inventory, and the signature of a finding kind: a module with ``ID`` (the system check's
id, for SILENCED_SYSTEM_CHECKS), ``NAME`` (the ``finding`` label value) and ``find(endpoints) -> list[Finding]``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .._base import Endpoint


@dataclass(frozen=True)
class Finding:
    finding: str  # the kind's NAME
    check_id: str
    route: str
    method: str
    view: str
    message: str
    hint: str

    @property
    def where(self) -> str:
        return f"{self.method} {self.route}"


class FindingKind(Protocol):
    ID: str
    NAME: str

    def find(self, endpoints: Sequence[Endpoint]) -> list[Finding]: ...
