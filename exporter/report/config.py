"""The ``report:`` section of the exporter's config: what ``/report`` reads and how often it is regenerated.

YAML::

    report:
      prometheus: http://127.0.0.1:9090      # required
      since: 24h                             # the period reported on, ending now
      compare: previous                      # or 7d
      refresh: 5m                            # regenerate at most this often (at least 1m)
      query_timeout: 10s
      mysql: {dsn_file: /run/secrets/report-dsn}   # read-only; EXPLAIN of the worst digests' examples

Validated with the rest of the config: every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthetic.config import dsn_problems, value_reader
from synthetic.errors import Problems, unknown

FIELDS = ("prometheus", "since", "compare", "refresh", "query_timeout", "mysql")
MIN_REFRESH = 60.0


@dataclass(frozen=True)
class ReportConfig:
    """The parsed section."""

    prometheus: str
    since: float = 86400.0
    compare: str = "previous"
    refresh: float = 300.0
    query_timeout: float = 10.0
    mysql: str | None = field(default=None, repr=False)  # a DSN: a secret


def parse(raw: Any, where: str, problems: Problems, base_dir: Path) -> ReportConfig | None:
    """The section's reader (``synthetic.config.SectionParser``)."""
    if not isinstance(raw, Mapping):
        problems.add(where, "expected a mapping with prometheus, since, compare, refresh, query_timeout, mysql")
        return None
    for key in raw:
        if key not in FIELDS:
            problems.add(where, unknown("field", str(key), FIELDS))
    reader = value_reader(problems, base_dir)
    url = reader.env(raw.get("prometheus"), f"{where}.prometheus")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        problems.add(f"{where}.prometheus", "expected Prometheus' http(s) URL")
        url = ""
    since = reader.duration(raw, "since", where, 86400.0, positive=True) or 86400.0
    refresh = reader.duration(raw, "refresh", where, 300.0, positive=True) or 300.0
    if refresh < MIN_REFRESH:
        problems.add(f"{where}.refresh", f"at least {MIN_REFRESH:.0f}s: the report sends dozens of queries")
    timeout = reader.duration(raw, "query_timeout", where, 10.0, positive=True) or 10.0
    compare = raw.get("compare", "previous")
    if compare not in ("previous", "7d"):
        problems.add(f"{where}.compare", f"expected previous or 7d, got {compare!r}")
    dsn = None
    mysql = raw.get("mysql")
    if mysql is not None:
        if not isinstance(mysql, Mapping):
            problems.add(f"{where}.mysql", "expected a mapping with dsn or dsn_file")
        else:
            dsn = reader.secret(mysql, "dsn", f"{where}.mysql")
            found = dsn_problems(dsn, base_dir) if dsn else ["dsn or dsn_file is required"]
            if not found and dsn and not dsn.startswith(("mysql://", "mariadb://")):
                found = ["EXPLAIN runs on MySQL or MariaDB: the dsn must start with mysql:// or mariadb://"]
            for problem in found:
                problems.add(f"{where}.mysql", problem)
            if found:
                dsn = None
    return ReportConfig(prometheus=url, since=since, compare=str(compare), refresh=refresh, query_timeout=timeout,
                        mysql=dsn)  # fmt: skip
