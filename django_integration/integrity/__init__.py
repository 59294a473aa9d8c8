"""Model-aware integrity checks: what the database and the code disagree on, before it costs a request.

Four checks, one module each, all behind one signature (``run(context: CheckContext) -> Outcome``, see
``_base``) and registered in :data:`CHECKS`:

- ``migrations`` — unapplied migrations per app, missing migrations (what ``makemigrations --check`` finds),
  conflicting leaves, migrations the database has that the code does not;
- ``schema`` — every managed model against its real table through Django's introspection;
- ``foreign_keys`` — orphaned rows per foreign key, one bounded anti-join per range of rows;
- ``connections`` — connecting, connect time, connections that pile up or go stale (the request path's own
  counters come from ``django_integration._dbconnections``, without a statement).

They run from ``manage.py integrity_check`` (deploy pipelines, cron) and from the opt-in background refresher
(``_refresher``) that feeds the ``django_integrity_*`` gauges on ``/metrics``; never in a scrape and never on the
request path.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import connections, foreign_keys, migrations, schema
from ._base import FAILED, INCOMPLETE, LEVELS, OK, Check, CheckContext, Finding, Outcome, Sample, level_rank
from ._runner import CheckResult, Options, run_check, run_checks

CHECKS: Mapping[str, Check] = {
    migrations.NAME: migrations.run,
    schema.NAME: schema.run,
    foreign_keys.NAME: foreign_keys.run,
    connections.NAME: connections.run,
}

__all__ = [
    "CHECKS",
    "FAILED",
    "INCOMPLETE",
    "LEVELS",
    "OK",
    "Check",
    "CheckContext",
    "CheckResult",
    "Finding",
    "Options",
    "Outcome",
    "Sample",
    "level_rank",
    "run_check",
    "run_checks",
]
