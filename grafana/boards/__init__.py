"""workflow-exporter's Grafana dashboards as code: one module per dashboard, registered once in ``DASHBOARDS``.

Each dashboard module (``overview``, ``detail``, ``api``, ``database``) has the same two names: ``UID``, the
dashboard's uid (and its file name under ``grafana/dashboards/``), and ``build()``, which returns the
dashboard. ``grafana/generate.py`` writes every entry of ``DASHBOARDS`` and nothing else, so a new dashboard is
one new module (its uid in ``_panels.UIDS``, where the links between dashboards find it) and one line here.
The private modules hold what they share: ``_promql`` (selectors, rates, quantiles), ``_panels`` (panels,
data links between the dashboards) and ``_board`` (variables, links, annotations, panel ids).

Conventions every dashboard follows (tests/bundle/test_dashboards.py lints them): one ``datasource`` variable,
``job`` and ``instance`` variables, every selector filtered by both, ``$__rate_interval`` in every rate (panels
judged over the whole range use ``$__range``, listed in ``grafana/.lint``), counters only inside rate/increase,
sums of counters that appear only after their first event end in ``or`` a zero vector so the demo never shows
"No data", and every panel has a title, a description that says what to do, and a unit.
"""

from __future__ import annotations

from collections.abc import Callable

from grafana_foundation_sdk.models import dashboard as model

from . import api, database, detail, frontend, overview, web

# uid -> build(): the one registry the generator iterates.
DASHBOARDS: dict[str, Callable[[], model.Dashboard]] = {
    overview.UID: overview.build,
    detail.UID: detail.build,
    api.UID: api.build,
    database.UID: database.build,
    frontend.UID: frontend.build,
    web.UID: web.build,
}

__all__ = ["DASHBOARDS"]
