"""The ``frontend:`` section of the exporter's config: map a Next.js source tree against the backend's OpenAPI
document and export the result as metrics, refreshed on start, on every reload and every ``refresh``.

YAML::

    frontend:
      source: ../storefront                       # the Next.js app's folder; relative to the config file
      openapi: http://127.0.0.1:8000/api/schema/  # or a file; ${env:NAME} works in both
      env: {NEXT_PUBLIC_API_URL: https://api.example}   # optional: variables as the build sees them
      backend_origins: [https://api.example]      # optional: further origins that are the backend
      operations: ["GET /readyz"]                 # optional: served by the backend outside its document
      refresh: 10m                                # optional (default 10m): the backend may change without a reload
      timeout: 60s                                # optional (default 60s): bound on one mapping

Validated with the rest of the config: every problem at once, naming ``frontend.<field>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthetic.config import value_reader
from synthetic.durations import parse_duration
from synthetic.errors import Problems, unknown

from ._build import parse_operation
from ._model import Operation

FIELDS = ("source", "openapi", "env", "backend_origins", "operations", "refresh", "timeout")
DEFAULT_REFRESH = 600.0
DEFAULT_TIMEOUT = 60.0
MAX_ENV = 100


@dataclass(frozen=True)
class FrontendConfig:
    source: str
    openapi: str
    env: Mapping[str, str] = field(default_factory=dict)
    backend_origins: tuple[str, ...] = ()
    operations: tuple[Operation, ...] = ()
    refresh: float = DEFAULT_REFRESH
    timeout: float = DEFAULT_TIMEOUT


def parse(raw: Any, where: str, problems: Problems, base_dir: Path) -> FrontendConfig | None:
    """The section's reader (``synthetic.config.SectionParser``); None when it has a problem."""
    if not isinstance(raw, Mapping):
        problems.add(where, "expected a mapping with source and openapi")
        return None
    ok = True
    for key in raw:
        if key not in FIELDS:
            problems.add(where, unknown("field", str(key), FIELDS))
            ok = False
    reader = value_reader(problems, base_dir)
    values: dict[str, str] = {}
    for key in ("source", "openapi"):
        value = raw.get(key)
        if not isinstance(value, str) or not value or "\0" in value:
            problems.add(f"{where}.{key}", f"{key} is required: " + ("a folder" if key == "source" else
                         "an http(s) URL or a file"))  # fmt: skip
            ok = False
            continue
        values[key] = str(reader.env(value, f"{where}.{key}"))
    source = values.get("source")
    if source is not None:
        path = Path(source) if Path(source).is_absolute() else base_dir / source
        if not path.is_dir():
            problems.add(f"{where}.source", f"{path} is not a folder")
            ok = False
        values["source"] = str(path)
    openapi = values.get("openapi")
    if openapi is not None and not openapi.startswith(("http://", "https://")):
        path = Path(openapi) if Path(openapi).is_absolute() else base_dir / openapi
        if not path.is_file():
            problems.add(f"{where}.openapi", f"{path} is not a file (or give an http(s) URL)")
            ok = False
        values["openapi"] = str(path)
    env = raw.get("env") or {}
    if not isinstance(env, Mapping) or len(env) > MAX_ENV or not all(isinstance(k, str) for k in env):
        problems.add(f"{where}.env", f"expected a mapping of at most {MAX_ENV} variable names to values")
        env, ok = {}, False
    variables = {str(k): str(reader.env(str(v), f"{where}.env.{k}")) for k, v in env.items()}
    origins = raw.get("backend_origins") or []
    if not isinstance(origins, list) or not all(isinstance(o, str) and o.startswith(("http://", "https://"))
                                                for o in origins):  # fmt: skip
        problems.add(f"{where}.backend_origins", "expected a list of http(s) origins")
        origins, ok = [], False
    extra: list[Operation] = []
    listed = raw.get("operations") or []
    if not isinstance(listed, list) or len(listed) > MAX_ENV:
        problems.add(f"{where}.operations", f"expected a list of at most {MAX_ENV} 'METHOD /path' entries")
        listed, ok = [], False
    for item in listed:
        try:
            extra.append(parse_operation(str(item)))
        except ValueError as error:
            problems.add(f"{where}.operations", str(error))
            ok = False
    durations: dict[str, float] = {}
    for key, default in (("refresh", DEFAULT_REFRESH), ("timeout", DEFAULT_TIMEOUT)):
        value = raw.get(key)
        try:
            durations[key] = parse_duration(str(value)) if value is not None else default
            if durations[key] <= 0:
                raise ValueError("must be more than 0")
        except ValueError as error:
            problems.add(f"{where}.{key}", f"{key}: {error}")
            durations[key], ok = default, False
    if not ok:
        return None
    return FrontendConfig(values["source"], values["openapi"], variables, tuple(o.rstrip("/") for o in origins),
                          tuple(extra), durations["refresh"], durations["timeout"])  # fmt: skip
