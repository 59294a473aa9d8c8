"""The ``trace:`` section of the exporter's config: where the other layers' records are.

YAML::

    trace:
      logs: [/var/log/shop/app.log, "/var/log/shop/worker-*.log"]   # Django JSON logs; rotations found too
      slow_logs: [/var/lib/mysql/slow.log]                          # MySQL/MariaDB slow query log files
      mysql:                                                        # performance_schema readers
        - dsn: "${env:TRACE_DATABASE_URL}"                          # or dsn_file: /run/secrets/trace-dsn

Relative paths are from the config file's folder. Validated with the rest of the config: every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthetic.config import dsn_problems, value_reader
from synthetic.errors import Problems, unknown

MAX_PATHS = 100
MAX_DATABASES = 10


@dataclass(frozen=True)
class TraceConfig:
    logs: tuple[str, ...] = ()
    slow_logs: tuple[str, ...] = ()
    mysql: tuple[str, ...] = field(default=(), repr=False)  # DSNs: secrets

    def __bool__(self) -> bool:
        return bool(self.logs or self.slow_logs or self.mysql)


def parse(raw: Any, where: str, problems: Problems, base_dir: Path) -> TraceConfig:
    """The section's reader (``synthetic.config.SectionParser``)."""
    if not isinstance(raw, Mapping):
        problems.add(where, "expected a mapping with logs, slow_logs and mysql")
        return TraceConfig()
    for key in raw:
        if key not in ("logs", "slow_logs", "mysql"):
            problems.add(where, unknown("field", str(key), ("logs", "slow_logs", "mysql")))
    reader = value_reader(problems, base_dir)
    paths: dict[str, tuple[str, ...]] = {}
    for key in ("logs", "slow_logs"):
        value = raw.get(key) or []
        if not isinstance(value, list) or len(value) > MAX_PATHS:
            problems.add(f"{where}.{key}", f"expected a list of at most {MAX_PATHS} paths or globs")
            value = []
        found = []
        for item in value:
            if not isinstance(item, str) or not item or "\0" in item:
                problems.add(f"{where}.{key}", f"expected a path or glob, got {type(item).__name__}")
                continue
            expanded = str(reader.env(item, f"{where}.{key}"))
            found.append(expanded if Path(expanded).is_absolute() else str(base_dir / expanded))
        paths[key] = tuple(found)
    databases = raw.get("mysql") or []
    if not isinstance(databases, list) or len(databases) > MAX_DATABASES:
        problems.add(f"{where}.mysql", f"expected a list of at most {MAX_DATABASES} entries with dsn or dsn_file")
        databases = []
    dsns = []
    for index, entry in enumerate(databases):
        entry_where = f"{where}.mysql[{index}]"
        if not isinstance(entry, Mapping):
            problems.add(entry_where, "expected a mapping with dsn or dsn_file")
            continue
        dsn = reader.secret(entry, "dsn", entry_where)
        if not dsn:
            problems.add(entry_where, "dsn or dsn_file is required")
            continue
        found = dsn_problems(dsn, base_dir)
        if not found and not dsn.startswith(("mysql://", "mariadb://")):
            found = ["performance_schema is MySQL's and MariaDB's: the dsn must start with mysql:// or mariadb://"]
        for problem in found:
            problems.add(entry_where, problem)
        if not found:
            dsns.append(dsn)
    return TraceConfig(logs=paths["logs"], slow_logs=paths["slow_logs"], mysql=tuple(dsns))
