"""What every check kind shares: the signature, the requests it asks for, the answers and the verdict.

A check kind is a module with ``NAME`` (the ``check`` label value) and two functions:

* ``plan(operation, context) -> list[Probe] | str``: the requests it needs for one operation, or why it does
  not apply (a sentence). Probes are values: the same probe asked by several checks (the four conformance
  checks read one authenticated GET) is sent once per sweep.
* ``judge(operation, answers, context) -> Verdict``: the verdict from the answers to its probes, in order.

A failed check is a verdict, never an exception; the sweep turns any exception into an ``error`` verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from requests.structures import CaseInsensitiveDict

from ..document import ApiDocument, Operation

if TYPE_CHECKING:
    from ..config import ContractsConfig
    from ..negative import NegativeCase

__all__ = ["Answer", "CheckKind", "Probe", "SweepContext", "Verdict", "safe_probe", "transport_verdict"]

# How a probe identifies itself: the profile's credentials, none at all, or a wrong one of a security scheme.
AUTH_PROFILE = "profile"
AUTH_NONE = "none"
INVALID_PREFIX = "invalid:"


@dataclass(frozen=True)
class Probe:
    """One request. ``auth``: ``profile``, ``none`` or ``invalid:<security scheme name>``; ``headers`` are
    the check's own (``Origin``, ``Access-Control-Request-*``). ``note`` (what the request is for) and
    ``lenient`` (a 2xx is acceptable: only an optional query value is invalid) do not make probes differ."""

    method: str
    path: str  # the path with its values filled in, percent-encoded
    query: tuple[tuple[str, str], ...] = ()
    auth: str = AUTH_PROFILE
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    content_type: str | None = None
    note: str = field(default="", compare=False)
    lenient: bool = field(default=False, compare=False)


@dataclass
class Answer:
    """What came back for a probe: a status, headers and the body (bounded), or ``failure`` (reason, message)
    when no usable HTTP answer arrived."""

    probe: Probe
    url: str
    correlation_id: str
    request_headers: Mapping[str, str]
    status: int | None = None
    headers: CaseInsensitiveDict[str] = field(default_factory=CaseInsensitiveDict)
    body: bytes = b""
    failure: tuple[str, str] | None = None
    duration: float = 0.0

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class Verdict:
    """``passed``, ``failed``, ``error`` (no usable answer: nothing can be said) or ``skipped``; the answer that
    shows the failure, and for schema failures the first schema error."""

    status: str
    message: str
    answer: Answer | None = None
    schema_error: str | None = None

    @classmethod
    def passed(cls, message: str = "", answer: Answer | None = None) -> Verdict:
        return cls("passed", message, answer)

    @classmethod
    def failed(cls, message: str, answer: Answer | None = None, schema_error: str | None = None) -> Verdict:
        return cls("failed", message, answer, schema_error)


class SweepContext(Protocol):
    """What a sweep lends a check (``synthetic.contracts.sweep``)."""

    document: ApiDocument
    contracts: ContractsConfig
    implicit_statuses: frozenset[int]

    def path_for(
        self, operation: Operation, values: Mapping[str, Any] | None = None, fallback: Mapping[str, Any] | None = None
    ) -> str:
        """The operation's path with its values filled in: ``values`` first, then the configured ones, then
        ``fallback``; ValueError names a parameter without one."""

    def query_for(self, operation: Operation) -> tuple[tuple[str, str], ...]:
        """The configured query values of the operation; ValueError for a required one without a value."""

    def negative_cases(self, operation: Operation) -> list[NegativeCase] | str:
        """Schema-violating requests for the operation, or why there are none."""

    def invalid_auth(self, operation: Operation) -> list[str]:
        """``invalid:<scheme>`` for each security scheme the operation accepts."""


class CheckKind(Protocol):
    NAME: str

    def plan(self, operation: Operation, context: SweepContext) -> list[Probe] | str: ...

    def judge(self, operation: Operation, answers: Sequence[Answer], context: SweepContext) -> Verdict: ...


def safe_probe(operation: Operation, context: SweepContext) -> list[Probe] | str:
    """The one authenticated, valid request of a safe operation, which the conformance checks judge."""
    if not operation.safe:
        return "only safe operations (GET, HEAD) are called with a valid request"
    try:
        path = context.path_for(operation)
        query = context.query_for(operation)
    except ValueError as missing:
        return str(missing)
    return [Probe(operation.method, path, query, note="a valid request as the auth profile")]


# Transport failures that mean the target answered, but not with HTTP or not within bounds: the contract is
# broken. The others (dns, connect, tls, timeout, redirect) say nothing about the contract.
_BROKEN_ANSWER = frozenset({"protocol", "assertion"})


def transport_verdict(answer: Answer) -> Verdict | None:
    """The verdict when a probe got no usable answer; None when it did."""
    if answer.failure is None:
        return None
    reason, message = answer.failure
    if reason in _BROKEN_ANSWER:
        return Verdict.failed(f"no usable HTTP answer ({reason}): {message}", answer)
    return Verdict("error", f"no answer ({reason}): {message}", answer)


def server_error_verdict(answer: Answer, subject: str) -> Verdict | None:
    """``error`` for a 5xx answer to a probe of a security check: the server failed, which says nothing about
    ``subject`` (an outage must not page as a security hole; ``not_a_server_error`` judges the server). None for
    any other answer."""
    if answer.status is None or answer.status < 500:
        return None
    return Verdict("error", f"{answer.probe.note} answered {answer.status}: a server error says nothing about "
                   f"{subject} (not_a_server_error judges it)", answer)  # fmt: skip


def status_text(answer: Answer) -> str:
    return f"answered {answer.status}"
