"""``connections``: whether the application can connect, how long it takes, and whether its connections will pile
up or go stale.

The request path is measured as it happens, without a statement of ours (``django_integration._dbconnections``:
opened, errors by class, connect time, ``CONN_MAX_AGE`` reuse, ``CONN_HEALTH_CHECKS`` failures, as
``django_db_connection*`` counters and the ``django_db_connect_duration_seconds`` histogram). This check adds
what needs a look from outside a request:

- **connect** (error when every attempt fails, warning when some do): ``connect_attempts`` fresh connections with
  the database's own settings, each timed and, when it fails, classified like the request path's errors;
- **stale** (warning, MySQL/MariaDB): ``CONN_MAX_AGE`` keeps connections longer than the server's
  ``wait_timeout`` while ``CONN_HEALTH_CHECKS`` is off, so a request gets a connection the server already closed
  ("MySQL server has gone away");
- **pile-up** (warning at 80 %, MySQL/MariaDB): the connections the database holds open for this application's
  user against ``max_connections``;
- **errors seen** (warning): connection errors this process counted since the previous run of the check, by class;
  failed health checks (info).

Samples: ``django_integrity_connect_seconds`` (the slowest successful attempt), and on MySQL/MariaDB
``django_integrity_connections_open`` and ``django_integrity_connections_max``.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from typing import Any

from .._dbconnections import classify, instrument, stats
from ._base import CheckContext, Finding, Outcome, Sample
from ._sql import run_bounded

NAME = "connections"
CONNECT_SECONDS = "django_integrity_connect_seconds"
OPEN = "django_integrity_connections_open"
LIMIT = "django_integrity_connections_max"
PILE_UP_RATIO = 0.8


def run(context: CheckContext) -> Outcome:
    connection = context.connection
    outcome = Outcome()
    alias = context.alias
    attempts = max(int(context.connect_attempts), 1)
    times: list[float] = []
    failures: Counter[str] = Counter()
    outcome.findings += _errors_seen(context, context.state.get("seen") or {}, stats.snapshot(alias))
    for _ in range(attempts):
        probe = type(connection)(connection.settings_dict, alias=connection.alias)
        instrument(probe)  # counted like every other connection of the process
        started = time.perf_counter()
        try:
            probe.ensure_connection()
            times.append(time.perf_counter() - started)
        except Exception as error:
            failures[classify(error)] += 1
        finally:
            with contextlib.suppress(Exception):
                probe.close()
    if failures:
        failed = sum(failures.values())
        classes = ", ".join(f"{name}: {count}" for name, count in sorted(failures.items()))
        outcome.findings.append(
            Finding(
                NAME,
                "connect_failed",
                "error" if failed == attempts else "warning",
                f"{failed} of {attempts} new connections to database {alias} failed ({classes})",
                {"error_class": failures.most_common(1)[0][0]},
                count=failed,
            )
        )
    if times:
        outcome.samples.append(Sample(CONNECT_SECONDS, {}, round(max(times), 6)))
    after = stats.snapshot(alias)  # the probes' own failures are this run's finding, not the next one's
    outcome.state = {"seen": {"errors": after["errors"], "health_check_failures": after["health_check_failures"]}}
    if times and connection.vendor == "mysql":
        findings, samples = _mysql(context)
        outcome.findings += findings
        outcome.samples += samples
    return outcome


def _errors_seen(context: CheckContext, before: dict[str, Any], now: dict[str, Any]) -> list[Finding]:
    """Connection errors and failed health checks this process counted since the check last looked (since the
    process started, on its first run)."""
    findings = []
    previous_errors = before.get("errors", {})
    new = {
        name: count - int(previous_errors.get(name, 0))
        for name, count in now["errors"].items()
        if count > int(previous_errors.get(name, 0))
    }
    if new:
        classes = ", ".join(f"{name}: {count}" for name, count in sorted(new.items()))
        findings.append(
            Finding(
                NAME,
                "connection_errors",
                "warning",
                f"this process saw {sum(new.values())} connection errors on database {context.alias} since the last "
                f"check ({classes})",
                {"error_class": max(new, key=lambda name: new[name])},
                count=sum(new.values()),
            )
        )
    failed_checks = now["health_check_failures"] - int(before.get("health_check_failures", 0))
    if failed_checks > 0:
        findings.append(
            Finding(
                NAME,
                "stale_connections_closed",
                "info",
                f"{failed_checks} persistent connections to database {context.alias} failed Django's health check "
                "and were replaced since the last check",
                {},
                count=failed_checks,
            )
        )
    return findings


def _mysql(context: CheckContext) -> tuple[list[Finding], list[Sample]]:
    connection = context.connection
    settings_dict = connection.settings_dict
    findings: list[Finding] = []
    ((wait_timeout, max_connections, open_connections),) = run_bounded(
        connection,
        NAME,
        "SELECT @@SESSION.wait_timeout, @@GLOBAL.max_connections, "
        "(SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1))",
        (),
        context.statement_timeout_seconds,
    )
    max_age = settings_dict.get("CONN_MAX_AGE", 0)
    health_checks = bool(settings_dict.get("CONN_HEALTH_CHECKS", False))
    if not health_checks and (max_age is None or (max_age and float(max_age) >= float(wait_timeout))):
        kept = "for ever (None)" if max_age is None else f"for {max_age:g}s"
        findings.append(
            Finding(
                NAME,
                "stale_connections",
                "warning",
                f"CONN_MAX_AGE keeps connections to database {context.alias} {kept}, longer than the server's "
                f"wait_timeout ({int(wait_timeout)}s), and CONN_HEALTH_CHECKS is off: a request can get a connection "
                "the server has closed ('server has gone away'); lower CONN_MAX_AGE or set CONN_HEALTH_CHECKS",
                {},
            )
        )
    if max_connections and int(open_connections) >= PILE_UP_RATIO * int(max_connections):
        findings.append(
            Finding(
                NAME,
                "connections_piling_up",
                "warning",
                f"the database holds {int(open_connections)} connections of this application's user, "
                f"{int(open_connections) * 100 // int(max_connections)}% of max_connections ({int(max_connections)})",
                {},
                count=int(open_connections),
            )
        )
    samples = [Sample(OPEN, {}, int(open_connections)), Sample(LIMIT, {}, int(max_connections))]
    return findings, samples
