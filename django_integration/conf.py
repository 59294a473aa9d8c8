"""Settings: one dict, ``WORKFLOW_EXPORTER``, read lazily on first use and remembered until Django's
``setting_changed`` signal (which ``override_settings`` sends) says it changed.

Every key, its default and its meaning (also in the README)::

    WORKFLOW_EXPORTER = {
        "SLOW_QUERY_SECONDS": 0.5,          # a statement at least this slow is counted and logged
        "REPEATED_QUERY_THRESHOLD": 5,      # the same statement this often in one request is an N+1
        "SQL_COMMENTS": True,               # prepend /*request_id='...',route='...',traceparent='...'*/
        "SERVER_TIMING": True,              # answer Server-Timing: app, db (with the query count)
        "TIMING_ALLOW_ORIGIN": None,        # e.g. "https://shop.example" so the browser may read it
        "SYNTHETIC_HEADER": "X-Synthetic",  # marks the exporter's own traffic
        "SYNTHETIC_SECRET": None,           # when set, the marker must carry a valid HMAC
        "METRICS_BEARER_TOKEN": None,       # /metrics demands "Authorization: Bearer <token>"
        "METRICS_ALLOWED_NETWORKS": [],     # /metrics only for these CIDRs ("127.0.0.0/8", ...)
        "READINESS_DB_TIMEOUT_SECONDS": 2.0,
        "CLIENT_LOGS_MAX_BYTES": 65536,
        "CLIENT_LOGS_MAX_EVENTS": 50,
        "CLIENT_LOGS_RATE_PER_MINUTE": 120, # per client address
        "CLIENT_LOGS_ALLOWED_ORIGINS": None,  # cross-origin pages that may post; None: django-cors-headers' own
        "FRONTEND_ROUTES": [],              # when set, the only route templates that become labels
        "FRONTEND_MAX_ROUTES": 100,         # distinct frontend route labels at most; the rest are <other>
        "EXCLUDED_ROUTES": ["metrics", "healthz", "readyz"],  # no request metrics or log line
        "LATENCY_BUCKETS": (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        "INTEGRITY_REFRESH": False,         # run the integrity checks in the serving process (one per group)
        "INTEGRITY_REFRESH_INTERVAL_SECONDS": 600.0,
        "INTEGRITY_CHECKS": ["migrations", "schema", "foreign_keys", "connections"],
        "INTEGRITY_DATABASES": None,        # aliases to check; None: every database
        "INTEGRITY_EXCLUDE": [],            # "app_label", "app_label.Model", "app_label.Model.field"
        "INTEGRITY_BUDGET_SECONDS": 30.0,   # per check and database; foreign_keys continues next run
        "INTEGRITY_STATEMENT_TIMEOUT_SECONDS": 10.0,
        "INTEGRITY_FOREIGN_KEY_BATCH_ROWS": 100000,
        "INTEGRITY_CONNECT_ATTEMPTS": 3,
        "INTEGRITY_STATE_DIR": None,        # lock and results; None: PROMETHEUS_MULTIPROC_DIR or a temp dir
    }
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.core.signals import setting_changed

SETTINGS_NAME = "WORKFLOW_EXPORTER"

DEFAULTS: Mapping[str, Any] = {
    "SLOW_QUERY_SECONDS": 0.5,
    "REPEATED_QUERY_THRESHOLD": 5,
    "SQL_COMMENTS": True,
    "SERVER_TIMING": True,
    "TIMING_ALLOW_ORIGIN": None,
    "SYNTHETIC_HEADER": "X-Synthetic",
    "SYNTHETIC_SECRET": None,
    "METRICS_BEARER_TOKEN": None,
    "METRICS_ALLOWED_NETWORKS": [],
    "READINESS_DB_TIMEOUT_SECONDS": 2.0,
    "CLIENT_LOGS_MAX_BYTES": 65536,
    "CLIENT_LOGS_MAX_EVENTS": 50,
    "CLIENT_LOGS_RATE_PER_MINUTE": 120,
    "CLIENT_LOGS_ALLOWED_ORIGINS": None,
    "FRONTEND_ROUTES": [],
    "FRONTEND_MAX_ROUTES": 100,
    "EXCLUDED_ROUTES": ["metrics", "healthz", "readyz"],
    "LATENCY_BUCKETS": (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    "INTEGRITY_REFRESH": False,
    "INTEGRITY_REFRESH_INTERVAL_SECONDS": 600.0,
    "INTEGRITY_CHECKS": ["migrations", "schema", "foreign_keys", "connections"],
    "INTEGRITY_DATABASES": None,
    "INTEGRITY_EXCLUDE": [],
    "INTEGRITY_BUDGET_SECONDS": 30.0,
    "INTEGRITY_STATEMENT_TIMEOUT_SECONDS": 10.0,
    "INTEGRITY_FOREIGN_KEY_BATCH_ROWS": 100000,
    "INTEGRITY_CONNECT_ATTEMPTS": 3,
    "INTEGRITY_STATE_DIR": None,
}


def _user_settings() -> Mapping[str, Any]:
    value = getattr(settings, SETTINGS_NAME, None)
    return value if isinstance(value, Mapping) else {}


def _get(key: str) -> Any:
    return _user_settings().get(key, DEFAULTS[key])


_T = TypeVar("_T")


def _memoized(read: Callable[[AppSettings], _T]) -> property:
    """A property read from settings on first use, then remembered until the settings change."""
    name = read.__name__

    def getter(self: AppSettings) -> _T:
        try:
            return self._memo[name]
        except KeyError:
            value = self._memo[name] = read(self)
            return value

    return property(getter, doc=read.__doc__)


class AppSettings:
    """Typed, lazy view of ``settings.WORKFLOW_EXPORTER``.

    Nothing is read at import. Values are read on first use and remembered (they are on every request's
    path); Django's ``setting_changed`` signal, which ``override_settings`` sends, forgets them.
    """

    def __init__(self) -> None:
        self._memo: dict[str, Any] = {}

    def reload(self) -> None:
        self._memo = {}

    @_memoized
    def slow_query_seconds(self) -> float:
        return float(_get("SLOW_QUERY_SECONDS"))

    @_memoized
    def repeated_query_threshold(self) -> int:
        return int(_get("REPEATED_QUERY_THRESHOLD"))

    @_memoized
    def sql_comments(self) -> bool:
        return bool(_get("SQL_COMMENTS"))

    @_memoized
    def server_timing(self) -> bool:
        return bool(_get("SERVER_TIMING"))

    @_memoized
    def timing_allow_origin(self) -> str | None:
        value = _get("TIMING_ALLOW_ORIGIN")
        if isinstance(value, (list, tuple)):
            return " ".join(value)
        return value

    @_memoized
    def synthetic_header(self) -> str:
        return str(_get("SYNTHETIC_HEADER"))

    @_memoized
    def synthetic_header_meta_key(self) -> str:
        """Where WSGI/ASGI put the marker header in ``request.META``."""
        return "HTTP_" + self.synthetic_header.upper().replace("-", "_")

    @_memoized
    def synthetic_secret(self) -> str | None:
        return _get("SYNTHETIC_SECRET")

    @_memoized
    def metrics_bearer_token(self) -> str | None:
        return _get("METRICS_BEARER_TOKEN")

    @_memoized
    def metrics_allowed_networks(self) -> Sequence[str]:
        return list(_get("METRICS_ALLOWED_NETWORKS"))

    @_memoized
    def readiness_db_timeout_seconds(self) -> float:
        return float(_get("READINESS_DB_TIMEOUT_SECONDS"))

    @_memoized
    def client_logs_max_bytes(self) -> int:
        return int(_get("CLIENT_LOGS_MAX_BYTES"))

    @_memoized
    def client_logs_max_events(self) -> int:
        return int(_get("CLIENT_LOGS_MAX_EVENTS"))

    @_memoized
    def client_logs_rate_per_minute(self) -> int:
        return int(_get("CLIENT_LOGS_RATE_PER_MINUTE"))

    @_memoized
    def client_logs_allowed_origins(self) -> tuple[str, ...] | None:
        """Origins whose pages may post log batches; None: take django-cors-headers' settings."""
        value = _get("CLIENT_LOGS_ALLOWED_ORIGINS")
        return None if value is None else tuple(str(origin).rstrip("/") for origin in value)

    @_memoized
    def frontend_routes(self) -> frozenset[str]:
        return frozenset(_get("FRONTEND_ROUTES"))

    @_memoized
    def frontend_max_routes(self) -> int:
        return int(_get("FRONTEND_MAX_ROUTES"))

    @_memoized
    def excluded_routes(self) -> frozenset[str]:
        return frozenset(_get("EXCLUDED_ROUTES"))

    @_memoized
    def latency_buckets(self) -> tuple[float, ...]:
        return tuple(float(b) for b in _get("LATENCY_BUCKETS"))

    @_memoized
    def integrity_refresh(self) -> bool:
        return bool(_get("INTEGRITY_REFRESH"))

    @_memoized
    def integrity_refresh_interval_seconds(self) -> float:
        return float(_get("INTEGRITY_REFRESH_INTERVAL_SECONDS"))

    @_memoized
    def integrity_checks(self) -> tuple[str, ...]:
        return tuple(_get("INTEGRITY_CHECKS"))

    @_memoized
    def integrity_databases(self) -> tuple[str, ...] | None:
        value = _get("INTEGRITY_DATABASES")
        return None if value is None else tuple(value)

    @_memoized
    def integrity_exclude(self) -> frozenset[str]:
        return frozenset(str(entry).lower() for entry in _get("INTEGRITY_EXCLUDE"))

    @_memoized
    def integrity_budget_seconds(self) -> float:
        return float(_get("INTEGRITY_BUDGET_SECONDS"))

    @_memoized
    def integrity_statement_timeout_seconds(self) -> float:
        return float(_get("INTEGRITY_STATEMENT_TIMEOUT_SECONDS"))

    @_memoized
    def integrity_foreign_key_batch_rows(self) -> int:
        return int(_get("INTEGRITY_FOREIGN_KEY_BATCH_ROWS"))

    @_memoized
    def integrity_connect_attempts(self) -> int:
        return int(_get("INTEGRITY_CONNECT_ATTEMPTS"))

    @_memoized
    def integrity_state_dir(self) -> str | None:
        value = _get("INTEGRITY_STATE_DIR")
        return None if value is None else str(value)


app_settings = AppSettings()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTINGS_NAME:
        app_settings.reload()


setting_changed.connect(_on_setting_changed, dispatch_uid="django_integration_settings")


def settings_problems() -> list[str]:
    """Every problem with ``settings.WORKFLOW_EXPORTER`` at once (used by the system check)."""
    raw = getattr(settings, SETTINGS_NAME, None)
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return [f"{SETTINGS_NAME} must be a dict, got {type(raw).__name__}"]
    problems = [
        f"{SETTINGS_NAME}[{key!r}] is not a known setting; known: {', '.join(sorted(DEFAULTS))}"
        for key in raw
        if key not in DEFAULTS
    ]
    numbers = {
        "SLOW_QUERY_SECONDS": float,
        "READINESS_DB_TIMEOUT_SECONDS": float,
        "REPEATED_QUERY_THRESHOLD": int,
        "CLIENT_LOGS_MAX_BYTES": int,
        "CLIENT_LOGS_MAX_EVENTS": int,
        "CLIENT_LOGS_RATE_PER_MINUTE": int,
        "FRONTEND_MAX_ROUTES": int,
    }
    for key, kind in numbers.items():
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                problems.append(f"{SETTINGS_NAME}[{key!r}] must be a positive {kind.__name__}, got {value!r}")
    if "REPEATED_QUERY_THRESHOLD" in raw and isinstance(raw["REPEATED_QUERY_THRESHOLD"], float):
        problems.append(f"{SETTINGS_NAME}['REPEATED_QUERY_THRESHOLD'] must be a whole number")
    # A string here would be read character by character; None would crash this check and /metrics.
    collection = (list, tuple, set, frozenset)
    for key in ("METRICS_ALLOWED_NETWORKS", "EXCLUDED_ROUTES", "FRONTEND_ROUTES"):
        if key in raw and not isinstance(raw[key], collection):
            problems.append(f"{SETTINGS_NAME}[{key!r}] must be a list, got {raw[key]!r}")
    origins = raw.get("CLIENT_LOGS_ALLOWED_ORIGINS")
    if origins is not None and not isinstance(origins, collection):
        problems.append(f"{SETTINGS_NAME}['CLIENT_LOGS_ALLOWED_ORIGINS'] must be a list or None, got {origins!r}")
    if isinstance(raw.get("METRICS_ALLOWED_NETWORKS"), collection):
        import ipaddress

        for network in raw["METRICS_ALLOWED_NETWORKS"]:
            try:
                ipaddress.ip_network(network, strict=False)
            except (TypeError, ValueError):
                problems.append(f"{SETTINGS_NAME}['METRICS_ALLOWED_NETWORKS'] has an invalid network {network!r}")
    problems += _integrity_problems(raw)
    return problems


def _integrity_problems(raw: Mapping[str, Any]) -> list[str]:
    """Problems with the ``INTEGRITY_*`` keys: positive numbers, known check names, lists of strings."""
    problems = []
    for key in (
        "INTEGRITY_REFRESH_INTERVAL_SECONDS", "INTEGRITY_BUDGET_SECONDS", "INTEGRITY_STATEMENT_TIMEOUT_SECONDS",
        "INTEGRITY_FOREIGN_KEY_BATCH_ROWS", "INTEGRITY_CONNECT_ATTEMPTS",
    ):  # fmt: skip
        value = raw.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            problems.append(f"{SETTINGS_NAME}[{key!r}] must be a positive number, got {value!r}")
    for key in ("INTEGRITY_FOREIGN_KEY_BATCH_ROWS", "INTEGRITY_CONNECT_ATTEMPTS"):
        if isinstance(raw.get(key), float):
            problems.append(f"{SETTINGS_NAME}[{key!r}] must be a whole number")
    for key in ("INTEGRITY_CHECKS", "INTEGRITY_EXCLUDE", "INTEGRITY_DATABASES"):
        value = raw.get(key, [])
        if value is None and key == "INTEGRITY_DATABASES":
            continue
        if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
            problems.append(f"{SETTINGS_NAME}[{key!r}] must be a list of strings, got {value!r}")
    checks = raw.get("INTEGRITY_CHECKS", [])
    known = ("migrations", "schema", "foreign_keys", "connections")
    if isinstance(checks, (list, tuple)):
        problems += [
            f"{SETTINGS_NAME}['INTEGRITY_CHECKS'] names an unknown check {name!r}; known: {', '.join(known)}"
            for name in checks
            if name not in known
        ]
    return problems
