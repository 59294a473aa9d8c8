"""The workflow configuration: targets and workflows in YAML, validated strictly at load.

Every problem in a file is reported at once, each naming the file, the workflow or target, the step and the
field. Unknown keys are errors. Secrets come from ``${env:NAME}`` (``${env:NAME:-default}``) or ``*_file``
fields and are read at load, never written back out.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .durations import parse_duration
from .errors import ConfigError, Problems
from .model import (
    DEFAULT_IMPLICIT_STATUSES,
    DEFAULT_INTERVAL,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    CircuitBreakerConfig,
    Config,
    Step,
    Target,
    TLSConfig,
    Workflow,
)
from .steps import STEP_KINDS, StepKind
from .templating import references

__all__ = ["Config", "ConfigError", "Step", "TLSConfig", "Target", "Workflow", "load_config", "parse_config"]

NAME = re.compile(r"[a-z0-9][a-z0-9_\-]{0,62}")
_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; ConfigError lists every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([f"{path}: cannot read: {error.strerror or error}"]) from None
    return parse_config(text, str(path), base_dir=path.parent)


def parse_config(text: str, path: str = "<config>", base_dir: Path | None = None) -> Config:
    problems = Problems(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
        if context and context_mark and (not mark or context_mark.line != mark.line):
            # the mistake is usually where the context starts (an unclosed bracket or quote), not where it is found
            problem += f" ({context} that starts on line {context_mark.line + 1})"
        problems.add(where, f"invalid YAML: {problem}")
        problems.raise_if_any()
    if not isinstance(raw, dict):
        problems.add("", "expected a mapping with 'targets' and 'workflows'")
        problems.raise_if_any()
    _unknown_keys(raw, {"targets", "workflows"}, "", problems)
    reader = _Reader(problems, base_dir or Path("."))
    targets = reader.targets(raw.get("targets"))
    workflows = reader.workflows(raw.get("workflows"), targets)
    problems.raise_if_any()
    return Config(path=path, targets=targets, workflows=workflows)


def _unknown_keys(raw: Mapping[str, Any], allowed: set[str], where: str, problems: Problems) -> None:
    for key in raw:
        if key not in allowed:
            problems.add(where, f"unknown field {key!r} (known: {', '.join(sorted(allowed))})")


class _Reader:
    def __init__(self, problems: Problems, base_dir: Path) -> None:
        self.problems = problems
        self.base_dir = base_dir

    # --- small typed readers ------------------------------------------------------------------------------

    def env(self, value: Any, where: str) -> Any:
        """Expand ``${env:NAME}`` in strings (recursively)."""
        if isinstance(value, str):

            def substitute(match: re.Match[str]) -> str:
                name, default = match.group(1), match.group(2)
                value = os.environ.get(name)
                if value or (value is not None and default is None):
                    return value
                if default is not None:  # as in the shell, ":-" also stands in for a variable set to ""
                    return default
                self.problems.add(where, f"environment variable {name} is not set")
                return ""

            return _ENV.sub(substitute, value)
        if isinstance(value, Mapping):
            return {k: self.env(v, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.env(v, where) for v in value]
        return value

    def secret(self, raw: Mapping[str, Any], key: str, where: str) -> str | None:
        """``key`` or ``key_file`` (a file whose content, stripped, is the value); not both."""
        inline, file_key = raw.get(key), f"{key}_file"
        from_file = raw.get(file_key)
        if inline is not None and from_file is not None:
            self.problems.add(where, f"set {key} or {file_key}, not both")
            return None
        if from_file is not None:
            if not isinstance(from_file, str):
                self.problems.add(where, f"{file_key} must be a path")
                return None
            file_path = Path(self.env(from_file, where))
            if not file_path.is_absolute():
                file_path = self.base_dir / file_path
            try:
                return file_path.read_text(encoding="utf-8").strip()
            except OSError as error:
                self.problems.add(where, f"{file_key} {str(file_path)!r}: {error.strerror or error}")
                return None
        if inline is None:
            return None
        if not isinstance(inline, (str, int)):
            self.problems.add(where, f"{key} must be a string")
            return None
        return str(self.env(str(inline), f"{where}.{key}"))

    def duration(
        self, raw: Mapping[str, Any], key: str, where: str, default: float | None, positive: bool = False
    ) -> float | None:
        if key not in raw:
            return default
        try:
            value = parse_duration(raw[key])
        except ValueError as error:
            self.problems.add(where, f"{key}: {error}")
            return default
        if positive and value == 0:
            self.problems.add(where, f"{key}: must be longer than 0")
            return default
        return value

    def flag(self, raw: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        """A YAML boolean; a quoted "false" is a mistake to report, not a true value."""
        value = raw.get(key, default)
        if not isinstance(value, bool):
            self.problems.add(where, f"{key} must be true or false, got {value!r}")
            return default
        return value

    def positive_int(self, raw: Mapping[str, Any], key: str, where: str, default: int, minimum: int = 1) -> int:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problems.add(where, f"{key} must be a whole number >= {minimum}, got {value!r}")
            return default
        return value

    def string_map(self, raw: Any, where: str) -> dict[str, str]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.problems.add(where, "expected a mapping of names to strings")
            return {}
        result = {}
        for key, value in raw.items():
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                self.problems.add(where, f"{key}: expected a string, got {value!r}")
                continue
            result[str(key)] = str(value)
        return result

    # --- targets ------------------------------------------------------------------------------------------

    def targets(self, raw: Any) -> dict[str, Target]:
        if not isinstance(raw, Mapping) or not raw:
            self.problems.add("targets", "expected a mapping of target names to targets, with at least one")
            return {}
        return {name: target for name, spec in raw.items() if (target := self.target(str(name), spec)) is not None}

    def target(self, name: str, raw: Any) -> Target | None:
        where = f"target {name!r}"
        if not NAME.fullmatch(name):
            self.problems.add(where, "names are lower-case letters, digits, '-' and '_' (they become label values)")
        if not isinstance(raw, Mapping):
            self.problems.add(where, "expected a mapping")
            return None
        allowed = {
            "base_url", "headers", "tls", "credentials", "openapi", "database", "synthetic_secret",
            "synthetic_secret_file", "max_response_bytes", "circuit_breaker", "implicit_statuses",
        }  # fmt: skip
        _unknown_keys(raw, allowed, where, self.problems)
        reported = len(self.problems.found)
        base_url = self.env(raw.get("base_url"), f"{where}.base_url")
        if (
            not isinstance(base_url, str)
            or urlsplit(base_url).scheme not in ("http", "https")
            or not urlsplit(base_url).netloc
        ):
            if len(self.problems.found) == reported:  # an unset ${env:...} is already reported
                self.problems.add(where, f"base_url must be an http:// or https:// URL, got {base_url!r}")
            base_url = "http://invalid"
        tls_raw = raw.get("tls") or {}
        tls = TLSConfig()
        if not isinstance(tls_raw, Mapping):
            self.problems.add(f"{where}.tls", "expected a mapping")
        else:
            _unknown_keys(tls_raw, {"ca_file", "cert_file", "key_file", "insecure_skip_verify"}, f"{where}.tls",
                          self.problems)  # fmt: skip
            tls = TLSConfig(
                ca_file=self._path(tls_raw.get("ca_file"), f"{where}.tls.ca_file"),
                cert_file=self._path(tls_raw.get("cert_file"), f"{where}.tls.cert_file"),
                key_file=self._path(tls_raw.get("key_file"), f"{where}.tls.key_file"),
                insecure_skip_verify=self.flag(tls_raw, "insecure_skip_verify", f"{where}.tls", False),
            )
        credentials: dict[str, dict[str, str]] = {}
        creds_raw = raw.get("credentials") or {}
        if not isinstance(creds_raw, Mapping):
            self.problems.add(f"{where}.credentials", "expected a mapping of credential names")
        else:
            for cred_name, cred in creds_raw.items():
                cwhere = f"{where}.credentials.{cred_name}"
                if not isinstance(cred, Mapping):
                    self.problems.add(cwhere, "expected a mapping")
                    continue
                fields = {"username", "password", "token"}
                _unknown_keys(cred, fields | {f"{f}_file" for f in fields}, cwhere, self.problems)
                values = {f: v for f in fields if (v := self.secret(cred, f, cwhere)) is not None}
                credentials[str(cred_name)] = values
        database = None
        db_raw = raw.get("database")
        if db_raw is not None:
            if not isinstance(db_raw, Mapping):
                self.problems.add(f"{where}.database", "expected a mapping with dsn or dsn_file")
            else:
                _unknown_keys(db_raw, {"dsn", "dsn_file"}, f"{where}.database", self.problems)
                database = self.secret(db_raw, "dsn", f"{where}.database")
                scheme = urlsplit(database).scheme if database else ""
                if database and scheme not in ("mysql", "mariadb", "sqlite"):
                    got = f"{scheme}://" if scheme else "no scheme"
                    self.problems.add(
                        f"{where}.database", f"dsn must start with mysql://, mariadb:// or sqlite:///, got {got}"
                    )
        breaker_raw = raw.get("circuit_breaker") or {}
        breaker = CircuitBreakerConfig()
        if not isinstance(breaker_raw, Mapping):
            self.problems.add(f"{where}.circuit_breaker", "expected a mapping with failures and cooldown")
        else:
            _unknown_keys(breaker_raw, {"failures", "cooldown"}, f"{where}.circuit_breaker", self.problems)
            breaker = CircuitBreakerConfig(
                failures=self.positive_int(breaker_raw, "failures", f"{where}.circuit_breaker", 5),
                cooldown=self.duration(breaker_raw, "cooldown", f"{where}.circuit_breaker", 60.0, positive=True)
                or 60.0,
            )
        statuses = raw.get("implicit_statuses", sorted(DEFAULT_IMPLICIT_STATUSES))
        if not isinstance(statuses, list) or not all(isinstance(s, int) and 100 <= s <= 599 for s in statuses):
            self.problems.add(where, f"implicit_statuses must be a list of HTTP status codes, got {statuses!r}")
            statuses = sorted(DEFAULT_IMPLICIT_STATUSES)
        openapi = raw.get("openapi")
        if openapi is not None and not isinstance(openapi, str):
            self.problems.add(where, "openapi must be a path on the target (/api/schema/), a URL or a file")
            openapi = None
        return Target(
            name=name,
            base_url=base_url.rstrip("/"),
            headers=self.string_map(self.env(raw.get("headers"), f"{where}.headers"), f"{where}.headers"),
            tls=tls,
            credentials=credentials,
            openapi=self.env(openapi, f"{where}.openapi") if openapi else None,
            database=database,
            synthetic_secret=self.secret(raw, "synthetic_secret", where) or None,
            max_response_bytes=self.positive_int(raw, "max_response_bytes", where, DEFAULT_MAX_RESPONSE_BYTES),
            circuit_breaker=breaker,
            implicit_statuses=frozenset(statuses),
        )

    def _path(self, value: Any, where: str) -> str | None:
        if value is None:
            return None
        path = Path(self.env(str(value), where))
        if not path.is_absolute():
            path = self.base_dir / path
        if not path.exists():
            self.problems.add(where, f"file {str(path)!r} does not exist")
        return str(path)

    # --- workflows ----------------------------------------------------------------------------------------

    def workflows(self, raw: Any, targets: Mapping[str, Target]) -> dict[str, Workflow]:
        if not isinstance(raw, Mapping) or not raw:
            self.problems.add("workflows", "expected a mapping of workflow names to workflows, with at least one")
            return {}
        return {
            name: workflow
            for name, spec in raw.items()
            if (workflow := self.workflow(str(name), spec, targets)) is not None
        }

    def workflow(self, name: str, raw: Any, targets: Mapping[str, Target]) -> Workflow | None:
        where = f"workflow {name!r}"
        if not NAME.fullmatch(name):
            self.problems.add(where, "names are lower-case letters, digits, '-' and '_' (they become label values)")
        if not isinstance(raw, Mapping):
            self.problems.add(where, "expected a mapping")
            return None
        _unknown_keys(raw, {"targets", "interval", "timeout", "min_interval", "steps", "description"}, where,
                      self.problems)  # fmt: skip
        target_names = raw.get("targets")
        if not isinstance(target_names, list) or not target_names:
            self.problems.add(where, "targets must list at least one target name")
            target_names = []
        for target_name in target_names:
            if not isinstance(target_name, str):
                self.problems.add(where, f"targets must list target names, got {target_name!r}")
            elif target_name not in targets:
                known = ", ".join(sorted(targets)) or "none"
                self.problems.add(where, f"unknown target {target_name!r} (known: {known})")
        target_names = [t for t in target_names if isinstance(t, str)]
        interval = self.duration(raw, "interval", where, DEFAULT_INTERVAL, positive=True) or DEFAULT_INTERVAL
        timeout = self.duration(raw, "timeout", where, DEFAULT_TIMEOUT, positive=True) or DEFAULT_TIMEOUT
        if timeout > interval:
            self.problems.add(where, f"timeout ({timeout:g}s) must not be longer than interval ({interval:g}s)")
        min_interval = self.duration(raw, "min_interval", where, 0.0) or 0.0
        steps_raw = raw.get("steps")
        if not isinstance(steps_raw, list) or not steps_raw:
            self.problems.add(where, "steps must be a list with at least one step")
            return None
        own_targets = [targets[t] for t in target_names if t in targets]
        defined = _builtin_variables(own_targets)
        extracted_by: dict[str, str] = {}  # variable -> the first step that extracts it
        for index, step_raw in enumerate(steps_raw):
            if isinstance(step_raw, Mapping) and isinstance(step_raw.get("extract"), Mapping):
                for variable in step_raw["extract"]:
                    extracted_by.setdefault(str(variable), str(step_raw.get("name", f"step {index + 1}")))
        steps: list[Step] = []
        seen: set[str] = set()
        for index, step_raw in enumerate(steps_raw):
            step = self.step(index, step_raw, where, own_targets, STEP_KINDS)
            if step is None:
                continue
            swhere = f"{where}, step {step.name!r}"
            if step.name in seen:
                self.problems.add(swhere, "duplicate step name")
            seen.add(step.name)
            if "${env:" in repr(step_raw):
                self.problems.add(
                    swhere,
                    "${env:...} is expanded in targets only; put the value in the target "
                    "(e.g. credentials) and use ${credentials.NAME.FIELD} or ${target.*} here",
                )
            for variable in sorted(set(references(step_raw))):
                if variable in defined:
                    continue
                extractor = extracted_by.get(variable)
                if extractor == step.name:
                    why = "this step extracts it, but only after its request and assertions"
                elif extractor is not None:
                    why = f"it is used before step {extractor!r} extracts it"
                elif variable.startswith("credentials.") and (
                    missing := [t.name for t in own_targets if variable not in t.variables()]
                ):
                    targets_text = ("target " if len(missing) == 1 else "targets ") + ", ".join(map(repr, missing))
                    why = f"{targets_text} {'has' if len(missing) == 1 else 'have'} no such credential"
                else:
                    why = "no step extracts it and it is not built in (run.*, target.*, credentials.*)"
                self.problems.add(swhere, f"undefined variable ${{{variable}}}: {why}")
            extract_raw = step_raw.get("extract")
            defined |= set(step.extract) | (set(map(str, extract_raw)) if isinstance(extract_raw, Mapping) else set())
            steps.append(step)
        return Workflow(
            name=name,
            targets=tuple(str(t) for t in target_names),
            steps=tuple(steps),
            interval=interval,
            timeout=timeout,
            min_interval=min_interval,
            description=str(raw.get("description", "")),
        )

    def step(
        self, index: int, raw: Any, workflow_where: str, targets: list[Target], kinds: Mapping[str, StepKind]
    ) -> Step | None:
        if not isinstance(raw, Mapping):
            self.problems.add(f"{workflow_where}, step {index + 1}", "expected a mapping")
            return None
        name = raw.get("name")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            stated = "name is required" if name is None else f"name {name!r} is not valid"
            self.problems.add(
                f"{workflow_where}, step {index + 1}",
                f"{stated}: lower-case letters, digits, '-' and '_' (it becomes a label value)",
            )
            name = f"step-{index + 1}"
        where = f"{workflow_where}, step {name!r}"
        common = {"name", "expect", "extract", "always_run", "retries", "description"}
        kind_keys = [key for key in raw if key not in common]
        if len(kind_keys) != 1 or kind_keys[0] not in kinds:
            known_kinds = ", ".join(sorted(kinds))
            valid = [k for k in kind_keys if k in kinds]
            for key in (k for k in kind_keys if k not in kinds):
                if valid:
                    known = f"{', '.join(sorted(common))}, and one step kind: {known_kinds}"
                    self.problems.add(where, f"unknown field {key!r} (known: {known})")
                else:
                    self.problems.add(where, f"unknown step kind {key!r} (known: {known_kinds})")
            if len(valid) != 1 and (valid or len(kind_keys) == 0):
                got = " and ".join(map(str, valid)) or "none"
                self.problems.add(where, f"needs exactly one step kind ({known_kinds}), got {got}")
            return None
        kind_name = kind_keys[0]
        kind = kinds[kind_name]
        spec = kind.parse(raw[kind_name], where, self.problems, targets)
        expect_raw = raw.get("expect") or {}
        extract_raw = raw.get("extract") or {}
        if not isinstance(expect_raw, Mapping):
            self.problems.add(where, "expect must be a mapping")
            expect_raw = {}
        if not isinstance(extract_raw, Mapping):
            self.problems.add(where, "extract must be a mapping of variable names")
            extract_raw = {}
        expect = kind.parse_expect(expect_raw, where, self.problems)
        extract = kind.parse_extract(extract_raw, where, self.problems)
        for variable in extract:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
                self.problems.add(where, f"variable name {variable!r} must be letters, digits and '_'")
        retries = self.positive_int(raw, "retries", where, 0, minimum=0)
        if retries and not kind.idempotent(spec):
            method = getattr(spec, "method", kind_name)
            self.problems.add(
                where, f"retries are only allowed for idempotent steps (GET, HEAD, OPTIONS, PUT, DELETE), not {method}"
            )
        max_duration = self.duration(expect_raw, "max_duration", where, None)
        return Step(
            name=name,
            kind=kind_name,
            spec=spec,
            expect=expect,
            extract=extract,
            always_run=self.flag(raw, "always_run", where, False),
            retries=retries,
            max_duration=max_duration,
        )


def _builtin_variables(targets: list[Target]) -> set[str]:
    """Variables every run has: run.*, target.*, and the credentials all of the workflow's targets define."""
    names = {"run.correlation_id", "target.name", "target.base_url"}
    if targets:
        common = set(targets[0].variables())
        for target in targets[1:]:
            common &= set(target.variables())
        names |= common
    return names
