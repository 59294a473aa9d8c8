"""The parsed configuration's types: targets, workflows, steps and their defaults.

The lowest module of ``synthetic``: ``config`` (the YAML reader), the step kinds and the runner all import
these types from here, so the import arrows run one way (config -> steps -> model).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .contracts.config import ContractsConfig

__all__ = [
    "DEFAULT_IMPLICIT_STATUSES",
    "DEFAULT_INTERVAL",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "CircuitBreakerConfig",
    "Config",
    "Step",
    "TLSConfig",
    "Target",
    "Workflow",
]

DEFAULT_INTERVAL = 60.0
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
DEFAULT_IMPLICIT_STATUSES = frozenset({401, 403, 429})


@dataclass(frozen=True)
class TLSConfig:
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_verify: bool = False


@dataclass(frozen=True)
class CircuitBreakerConfig:
    failures: int = 5
    cooldown: float = 60.0


@dataclass(frozen=True)
class Target:
    name: str
    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    tls: TLSConfig = field(default_factory=TLSConfig)
    credentials: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)
    openapi: str | None = None
    database: str | None = field(default=None, repr=False)
    synthetic_secret: str | None = field(default=None, repr=False)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    circuit_breaker: CircuitBreakerConfig = field(default_factory=CircuitBreakerConfig)
    implicit_statuses: frozenset[int] = DEFAULT_IMPLICIT_STATUSES
    # Further known secret values found at load: URL and DSN passwords, secret-named headers and env variables.
    extra_secrets: tuple[str, ...] = field(default=(), repr=False)
    # The contract sweep of this target (synthetic/contracts), when it has a ``contracts:`` section.
    contracts: ContractsConfig | None = None

    def variables(self) -> dict[str, Any]:
        """The built-in variables this target gives a run."""
        values: dict[str, Any] = {"target.name": self.name, "target.base_url": self.base_url}
        for credential, fields in self.credentials.items():
            for key, value in fields.items():
                values[f"credentials.{credential}.{key}"] = value
        return values

    def secrets(self) -> list[str]:
        """Known values that must never be shown on pages, in debug output, logs or the history (see
        ``synthetic.redact``): every credential but usernames, the synthetic secret, the DSN, ``extra_secrets``."""
        found = [value for fields in self.credentials.values() for key, value in fields.items() if key != "username"]
        found += [s for s in (self.synthetic_secret, self.database, *self.extra_secrets) if s]
        return [s for s in found if len(s) >= 4]


@dataclass(frozen=True)
class Step:
    name: str
    kind: str
    spec: Any  # the kind's own parsed spec (see synthetic.steps)
    expect: Mapping[str, Any] = field(default_factory=dict)
    extract: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    always_run: bool = False
    retries: int = 0
    max_duration: float | None = None  # the latency budget (seconds): over it the step is degraded
    timeout: float | None = None  # the step's own deadline (seconds), within the run's: over it the step fails


@dataclass(frozen=True)
class Workflow:
    name: str
    targets: tuple[str, ...]
    steps: tuple[Step, ...]
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    min_interval: float = 0.0
    description: str = ""
    # Variables whose values are secret: by name, or because a step sends them in a secret-named header,
    # query parameter or body field (see synthetic.redact).
    secret_variables: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Config:
    path: str
    targets: Mapping[str, Target]
    workflows: Mapping[str, Workflow]
    # Top-level sections owned by other layers (``trace``, ``frontend``), as their readers parsed them.
    sections: Mapping[str, Any] = field(default_factory=dict)

    def pairs(self) -> list[tuple[Workflow, Target]]:
        """Every (workflow, target) pair to run, in a stable order."""
        return [(w, self.targets[t]) for w in self.workflows.values() for t in w.targets]
