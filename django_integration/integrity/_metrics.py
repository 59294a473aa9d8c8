"""The ``django_integrity_*`` gauges (DESIGN §3), set from check results by the refresher, never in a scrape.

Labels are bounded by the project: ``alias`` (a database of ``DATABASES``), ``check`` (the four check names),
``level`` (``info``, ``warning``, ``error``), ``app_label`` and ``model`` (installed models), ``relation`` (a
foreign key's field name) and ``target`` (the model it references). No table, column, SQL or message is a label.

Under gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` every gauge uses ``multiprocess_mode="mostrecent"``: the value
the refresher wrote last wins, whichever worker wrote it, and it outlives that worker.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Gauge

from ._base import FAILED, LEVELS, OK, count_by_level
from ._runner import CheckResult

# family -> (help, label names); sample labels come from the checks, `alias` is added where listed.
FAMILIES: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "django_integrity_unapplied_migrations": (
        "Migrations on disk the database has not applied, per app (integrity check migrations).",
        ("alias", "app_label"),
    ),
    "django_integrity_missing_migrations": (
        "Model changes no migration describes (what makemigrations --check finds), per model.",
        ("app_label", "model"),
    ),
    "django_integrity_schema_drift": (
        "Differences between a model and its table (missing or extra columns, types, NULL, max_length, indexes, "
        "unique constraints), per model (integrity check schema).",
        ("alias", "app_label", "model"),
    ),
    "django_integrity_orphaned_rows": (
        "Child rows whose foreign key points at no parent row, per relation (integrity check foreign_keys).",
        ("alias", "app_label", "model", "relation", "target"),
    ),
    "django_integrity_connect_seconds": (
        "Seconds the slowest of the connections check's new connections took to connect.",
        ("alias",),
    ),
    "django_integrity_connections_open": (
        "Connections the database holds open for this application's user (MySQL/MariaDB).",
        ("alias",),
    ),
    "django_integrity_connections_max": ("The database's max_connections (MySQL/MariaDB).", ("alias",)),
}
CHECK_FAMILIES: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "django_integrity_check_success": (
        "1 when the check's last run finished, 0 when it failed (database unreachable, a statement failed).",
        ("check", "alias"),
    ),
    "django_integrity_check_duration_seconds": ("Duration of the check's last run.", ("check", "alias")),
    "django_integrity_check_last_run_timestamp_seconds": (
        "When the check last ran (unix time), whatever its outcome.",
        ("check", "alias"),
    ),
    "django_integrity_check_last_complete_timestamp_seconds": (
        "When the check last covered everything it checks (unix time); before that, when the refresher started.",
        ("check", "alias"),
    ),
    "django_integrity_findings": ("Findings of the check's last run, by level.", ("check", "alias", "level")),
    "django_integrity_refresh_interval_seconds": ("WORKFLOW_EXPORTER['INTEGRITY_REFRESH_INTERVAL_SECONDS'].", ()),
}


class IntegrityMetrics:
    """The gauges on ``registry``; :meth:`export` sets them from results and zeroes what a check stopped reporting."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.registry = registry
        self.gauges: dict[str, Gauge] = {
            name: Gauge(name, text, list(labels), registry=registry, multiprocess_mode="mostrecent")
            for name, (text, labels) in {**FAMILIES, **CHECK_FAMILIES}.items()
        }
        self._lock = threading.Lock()
        self._exported: dict[tuple[str, str], set[tuple[str, tuple[str, ...]]]] = {}

    def _labels(self, family: str, alias: str, labels: Mapping[str, str], check: str | None = None) -> tuple[str, ...]:
        names = {**FAMILIES, **CHECK_FAMILIES}[family][1]
        values = {**labels, "alias": alias}
        if check is not None:
            values["check"] = check
        return tuple(str(values.get(name, "")) for name in names)

    def export(
        self,
        results: Iterable[CheckResult],
        last_complete: Mapping[str, float],
        interval_seconds: float,
    ) -> None:
        """Set every gauge from ``results``. ``last_complete`` maps ``"<check>:<alias>"`` to when that check last
        covered everything. A failed result keeps the previous samples (the database could not be read)."""
        with self._lock:
            self.gauges["django_integrity_refresh_interval_seconds"].set(interval_seconds)
            for result in results:
                self._export_one(result, last_complete)

    def _export_one(self, result: CheckResult, last_complete: Mapping[str, float]) -> None:
        check, alias = result.check, result.alias
        gauges = self.gauges
        key = (check, alias)
        gauges["django_integrity_check_success"].labels(check, alias).set(0 if result.status == FAILED else 1)
        gauges["django_integrity_check_duration_seconds"].labels(check, alias).set(result.duration_seconds)
        gauges["django_integrity_check_last_run_timestamp_seconds"].labels(check, alias).set(
            result.started_at + result.duration_seconds
        )
        complete_at = last_complete.get(f"{check}:{alias}")
        if complete_at is not None:
            gauges["django_integrity_check_last_complete_timestamp_seconds"].labels(check, alias).set(complete_at)
        if result.status == FAILED:
            return  # keep what the last successful run measured; check_success says this one failed
        counts = count_by_level(result.findings)
        for level in LEVELS:
            gauges["django_integrity_findings"].labels(check, alias, level).set(counts[level])
        seen: set[tuple[str, tuple[str, ...]]] = set()
        for sample in result.samples:
            if sample.family not in FAMILIES:
                continue
            values = self._labels(sample.family, alias, sample.labels)
            gauges[sample.family].labels(*values).set(sample.value)
            seen.add((sample.family, values))
        for family, values in self._exported.get(key, set()) - seen:
            gauges[family].labels(*values).set(0)  # no longer reported (a relation gone, a model fixed)
        self._exported[key] = self._exported.get(key, set()) | seen


def result_complete(result: CheckResult) -> bool:
    return result.status == OK


_default: IntegrityMetrics | None = None
_default_lock = threading.Lock()


def get_integrity_metrics() -> IntegrityMetrics:
    """The process-wide gauges on the global registry, created on first use (never at import)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = IntegrityMetrics(REGISTRY)
    return _default


def describe(results: Iterable[CheckResult]) -> dict[str, Any]:
    """A summary of results for logs and the command: counts per status and level."""
    items = list(results)
    return {
        "checks": len(items),
        "failed": sum(1 for r in items if r.status == FAILED),
        "findings": count_by_level(f for r in items for f in r.findings),
    }
