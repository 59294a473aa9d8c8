"""The workflow configuration: targets and workflows in YAML, validated strictly at load.

Every problem in a file is reported at once, each naming the file, the workflow or target, the step and the
field. Unknown keys are errors. Secrets come from ``${env:NAME}`` (``${env:NAME:-default}``) or ``*_file``
fields and are read at load, never written back out.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

from .contracts.config import check_references, parse_contracts
from .documents import CONFIG_LIMITS, DocumentError, decode_utf8, load_yaml
from .durations import parse_duration
from .errors import ConfigError, Problems, did_you_mean
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
from .redact import is_secret_name
from .steps import STEP_KINDS, StepKind
from .templating import references

__all__ = ["Config", "ConfigError", "Step", "TLSConfig", "Target", "Workflow", "load_config", "parse_config"]

NAME = re.compile(r"[a-z0-9][a-z0-9_\-]{0,62}")
_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load_config(
    path: str | Path,
    workflows: Collection[str] | None = None,
    sections: Mapping[str, SectionParser] | None = None,
) -> Config:
    """Read and validate a config file; ConfigError lists every problem.

    ``workflows`` (``run`` gives the one it runs) validates only those workflows and what they use: a
    target's ``database`` matters only to ``sql`` steps, and a credential only to the steps that use it, so an
    unset ``${env:...}`` there is no problem for a workflow that never touches it.
    """
    path = Path(path)
    try:
        data = read_bounded(path, CONFIG_LIMITS.max_bytes)
    except (OSError, ValueError) as error:  # DocumentError is a ValueError; so is a NUL in the path
        raise ConfigError([f"{path}: cannot read: {_os_error(error)}"]) from None
    return parse_config(data, str(path), base_dir=path.parent, workflows=workflows, sections=sections)


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; DocumentError beyond, OSError as ``open`` raises.

    A FIFO, a device (``/dev/zero``) or a directory is refused rather than read forever.
    """
    with path.open("rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise DocumentError("not a regular file")
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DocumentError(f"larger than the limit of {max_bytes} bytes")
    return data


SectionParser = Callable[[Any, str, Problems, Path], Any]
"""Reads one top-level section that another layer owns (the exporter's ``trace:``, ``frontend:``):
``(raw value, where, problems, base_dir) -> parsed value``; it adds problems instead of raising."""


def parse_config(
    text: str | bytes,
    path: str = "<config>",
    base_dir: Path | None = None,
    workflows: Collection[str] | None = None,
    sections: Mapping[str, SectionParser] | None = None,
) -> Config:
    """Validate a config document; ConfigError lists every problem (``workflows`` as in ``load_config``).

    ``sections`` maps the names of further top-level sections to their readers (passed in by the layer that
    owns them, so this package imports nothing above it); their results are in ``Config.sections``.
    """
    sections = sections or {}
    problems = Problems(path)
    document_problems: list[str] = []
    try:
        raw = load_yaml(text, CONFIG_LIMITS, string_keys=True, problems=document_problems)
    except DocumentError as error:
        problems.add("", str(error))
        problems.raise_if_any()
    for problem in document_problems:
        problems.add("", problem)
    if not isinstance(raw, dict):
        problems.add("", "expected a mapping with 'targets' and 'workflows'")
        problems.raise_if_any()
    _unknown_keys(raw, {"targets", "workflows", *sections}, "", problems)
    reader = _Reader(problems, base_dir or Path("."), strict=workflows is None)
    targets = reader.targets(raw.get("targets"))
    workflows_raw = raw.get("workflows")
    if workflows is not None and isinstance(workflows_raw, Mapping):
        unknown = [name for name in workflows if name not in workflows_raw]
        for name in unknown:
            problems.add("", f"unknown workflow {name!r}{did_you_mean(name, map(str, workflows_raw))}")
        workflows_raw = {name: spec for name, spec in workflows_raw.items() if name in workflows}
    # ``workflows=[]`` (``trace`` reads only the other sections): no workflow to read, and none needed
    parsed = reader.workflows(workflows_raw, targets) if workflows_raw or workflows is None else {}
    check_references(targets, parsed, problems, strict=workflows is None)
    reader.settle_deferred()
    extra = {
        name: read(raw[name], name, problems, base_dir or Path("."))
        for name, read in sections.items()
        if raw.get(name) is not None
    }
    problems.raise_if_any()
    return Config(path=path, targets=targets, workflows=parsed, sections=extra)


def value_reader(problems: Problems, base_dir: Path) -> _Reader:
    """The reader targets use, for sections owned by other layers: ``.env(value, where)`` expands
    ``${env:NAME}`` (an unset one is a problem), ``.secret(raw, key, where)`` reads ``key`` or ``key_file``."""
    return _Reader(problems, base_dir)


def _os_error(error: OSError | ValueError) -> str:
    return str(error.strerror or error) if isinstance(error, OSError) else str(error)


def _unknown_keys(raw: Mapping[str, Any], allowed: set[str], where: str, problems: Problems) -> None:
    for key in raw:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed) or f" (known: {', '.join(sorted(allowed))})"
            problems.add(where, f"unknown field {key!r}{hint}")


MAX_SECRET_FILE_BYTES = 64 * 1024


class _Reader:
    def __init__(self, problems: Problems, base_dir: Path, strict: bool = True) -> None:
        self.problems = problems
        self.base_dir = base_dir
        self.strict = strict
        # Problems of parts only some workflows use (a target's database, a credential): (target, part) -> them.
        self._defer_to: tuple[str, str] | None = None
        self._deferred: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._used: set[tuple[str, str]] = set()
        self._env_secrets: list[str] = []  # values of secret-named ${env:...} read for the current target

    def report(self, where: str, message: str) -> None:
        """A problem; held back while reading a part that only the workflows using it need."""
        if self.strict or self._defer_to is None:
            self.problems.add(where, message)
        else:
            self._deferred.setdefault(self._defer_to, []).append((where, message))

    def settle_deferred(self) -> None:
        """Report the held-back problems of the parts a workflow uses."""
        for part, found in self._deferred.items():
            if part in self._used:
                for where, message in found:
                    self.problems.add(where, message)

    # --- small typed readers ------------------------------------------------------------------------------

    def env(self, value: Any, where: str) -> Any:
        """Expand ``${env:NAME}`` in strings (recursively)."""
        if isinstance(value, str):

            def substitute(match: re.Match[str]) -> str:
                name, default = match.group(1), match.group(2)
                value = os.environ.get(name)
                if value or (value is not None and default is None):
                    if is_secret_name(name):  # ${env:SHOP_API_TOKEN}: its value is secret wherever it lands
                        self._env_secrets.append(value)
                    return value
                if default is not None:  # as in the shell, ":-" also stands in for a variable set to ""
                    return default
                self.report(where, f"environment variable {name} is not set")
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
            self.report(where, f"set {key} or {file_key}, not both")
            return None
        if from_file is not None:
            if not isinstance(from_file, str):
                self.report(where, f"{file_key} must be a path")
                return None
            file_path = Path(self.env(from_file, where))
            if not file_path.is_absolute():
                file_path = self.base_dir / file_path
            try:
                return decode_utf8(read_bounded(file_path, MAX_SECRET_FILE_BYTES), "the file").strip()
            except (OSError, ValueError) as error:  # DocumentError is a ValueError; so is a NUL in the path
                self.report(where, f"{file_key} {str(file_path)!r}: {_os_error(error)}")
                return None
        if inline is None:
            return None
        if not isinstance(inline, (str, int)) or isinstance(inline, bool):
            self.report(where, f"{key} must be a string, got {_kind(inline)}")
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
                # never the value itself: header values are often credentials
                self.problems.add(where, f"{key}: expected a string, got {_kind(value)}")
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
            "synthetic_secret_file", "max_response_bytes", "circuit_breaker", "implicit_statuses", "contracts",
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
                self.problems.add(where, f"base_url must be an http:// or https:// URL, got {_show_url(base_url)}")
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
                self._defer_to = (name, f"credentials.{cred_name}")
                try:
                    values = {f: v for f in fields if (v := self.secret(cred, f, cwhere)) is not None}
                finally:
                    self._defer_to = None
                credentials[str(cred_name)] = values
        database = None
        db_raw = raw.get("database")
        if db_raw is not None:
            if not isinstance(db_raw, Mapping):
                self.problems.add(f"{where}.database", "expected a mapping with dsn or dsn_file")
            else:
                _unknown_keys(db_raw, {"dsn", "dsn_file"}, f"{where}.database", self.problems)
                self._defer_to = (name, "database")
                try:
                    database = self.secret(db_raw, "dsn", f"{where}.database")
                    if database:
                        for problem in dsn_problems(database, self.base_dir):
                            self.report(f"{where}.database", problem)
                finally:
                    self._defer_to = None
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
        headers = self.string_map(self.env(raw.get("headers"), f"{where}.headers"), f"{where}.headers")
        extra_secrets = [value for header, value in headers.items() if is_secret_name(header)]
        extra_secrets += [unquote(p) for url in (base_url, database) if url and (p := _url_password(url))]
        openapi = self.env(openapi, f"{where}.openapi") if openapi else None
        extra_secrets += self._env_secrets
        self._env_secrets = []
        return Target(
            name=name,
            base_url=base_url.rstrip("/"),
            headers=headers,
            extra_secrets=tuple(dict.fromkeys(extra_secrets)),
            tls=tls,
            credentials=credentials,
            openapi=openapi,
            database=database,
            synthetic_secret=self.secret(raw, "synthetic_secret", where) or None,
            max_response_bytes=self.positive_int(raw, "max_response_bytes", where, DEFAULT_MAX_RESPONSE_BYTES),
            circuit_breaker=breaker,
            implicit_statuses=frozenset(statuses),
            contracts=parse_contracts(raw.get("contracts"), where, self, openapi),
        )

    def _path(self, value: Any, where: str) -> str | None:
        if value is None:
            return None
        path = Path(self.env(str(value), where))
        if not path.is_absolute():
            path = self.base_dir / path
        try:
            if not path.is_file():
                self.problems.add(where, f"file {str(path)!r} does not exist or is not a file")
        except (OSError, ValueError) as error:  # a NUL in the path, a path too long
            self.problems.add(where, f"file {str(path)!r}: {_os_error(error)}")
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
                hint = did_you_mean(target_name, targets) or f" (known: {known})"
                self.problems.add(where, f"unknown target {target_name!r}{hint}")
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
            if step.timeout is not None and step.timeout > timeout:
                self.problems.add(
                    swhere, f"timeout ({step.timeout:g}s) must not be longer than the workflow's timeout ({timeout:g}s)"
                )
            if step.name in seen:
                self.problems.add(swhere, "duplicate step name")
            seen.add(step.name)
            if "${env:" in repr(step_raw):
                self.problems.add(
                    swhere,
                    "${env:...} is expanded in targets only; put the value in the target "
                    "(e.g. credentials) and use ${credentials.NAME.FIELD} or ${target.*} here",
                )
            self._note_used(step, step_raw, target_names)
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
            secret_variables=frozenset(v for step_raw in steps_raw for v in _secret_variables(step_raw)),
        )

    def _note_used(self, step: Step, step_raw: Mapping[str, Any], target_names: list[str]) -> None:
        """Which held-back parts of its targets a step needs: the database (sql), credentials it names."""
        parts = {"database"} if step.kind == "sql" else set()
        parts |= {".".join(v.split(".")[:2]) for v in references(step_raw) if v.startswith("credentials.")}
        self._used |= {(target, part) for target in target_names for part in parts}

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
        common = {"name", "expect", "extract", "always_run", "retries", "timeout", "description"}
        kind_keys = [key for key in raw if key not in common]
        if len(kind_keys) != 1 or kind_keys[0] not in kinds:
            known_kinds = ", ".join(sorted(kinds))
            valid = [k for k in kind_keys if k in kinds]
            for key in (k for k in kind_keys if k not in kinds):
                if valid:
                    known = f"{', '.join(sorted(common))}, and one step kind: {known_kinds}"
                    self.problems.add(where, f"unknown field {key!r} (known: {known})")
                else:
                    hint = did_you_mean(str(key), [*kinds, *common]) or f" (known: {known_kinds})"
                    self.problems.add(where, f"unknown step kind {key!r}{hint}")
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
        timeout = self.duration(raw, "timeout", where, None, positive=True)
        return Step(
            name=name,
            kind=kind_name,
            spec=spec,
            expect=expect,
            extract=extract,
            always_run=self.flag(raw, "always_run", where, False),
            retries=retries,
            max_duration=max_duration,
            timeout=timeout,
        )


DSN_HINT = "percent-encode special characters of the user and password (# as %23, ? as %3F, @ as %40, / as %2F)"


def dsn_problems(dsn: str, base_dir: Path = Path(".")) -> list[str]:
    """What is wrong with a database DSN, never quoting it (it holds a password); ``[]`` when usable.

    ``mysql://user:password@host[:port]/database`` (or ``mariadb://``), ``sqlite:///relative/path`` or
    ``sqlite:////absolute/path``; nothing in the query or fragment, an integer port.
    """
    try:
        parts: SplitResult = urlsplit(dsn)
    except ValueError as error:  # an unbalanced [ in the host, say
        return [f"dsn is not a URL ({error}); {DSN_HINT}"]
    if parts.scheme not in ("mysql", "mariadb", "sqlite"):
        got = f"{parts.scheme}://" if parts.scheme else "no scheme"
        return [f"dsn must start with mysql://, mariadb:// or sqlite:///, got {got}"]
    found = []
    if parts.query or parts.fragment or "#" in dsn:
        found.append(f"dsn has a '?' or '#' part, which is usually a password character; {DSN_HINT}")
    if parts.scheme == "sqlite":
        if parts.netloc:
            found.append("a sqlite dsn has no host: sqlite:///relative/path or sqlite:////absolute/path")
        path = Path(unquote(parts.path)[1:])
        if not str(path) or str(path) == ".":
            found.append("a sqlite dsn needs a file path: sqlite:///relative/path or sqlite:////absolute/path")
        return found
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        found.append(f"dsn port is not a number; {DSN_HINT}")
    if not parts.hostname:
        found.append(f"dsn has no host; {DSN_HINT}")
    database = parts.path.lstrip("/")
    if not database or "/" in database:
        found.append(f"dsn must name one database after the host (…@host:3306/shop); {DSN_HINT}")
    return found


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _secret_variables(step_raw: Any) -> set[str]:
    """Variables a step treats as secret: extracted under a secret-looking name, or sent in a secret-named
    header, query parameter, JSON or form field (``Authorization: Bearer ${access}`` makes ``access`` secret)."""
    if not isinstance(step_raw, Mapping):
        return set()
    extract = step_raw.get("extract")
    found = {str(name) for name in extract if is_secret_name(str(name))} if isinstance(extract, Mapping) else set()
    stack: list[tuple[Any, bool]] = [(step_raw.get(kind), False) for kind in STEP_KINDS]
    while stack:
        value, secret = stack.pop()
        if isinstance(value, str):
            if secret:
                found |= {v for v in references(value) if "." not in v}
        elif isinstance(value, Mapping):
            stack += [(item, secret or is_secret_name(str(key))) for key, item in value.items()]
        elif isinstance(value, list):
            stack += [(item, secret) for item in value]
    return found


def _kind(value: Any) -> str:
    """What a value is, for problems that must not quote it."""
    if value is None:
        return "nothing (null)"
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "a mapping"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _show_url(value: Any) -> str:
    """A URL for a problem message: userinfo and query values masked, long values cut."""
    if not isinstance(value, str):
        return _kind(value)
    text = re.sub(r"(?<=://)[^/@\s]*@", "[REDACTED]@", value)
    text = re.sub(r"(?<=[?&])([^=&#]*)=[^&#]*", r"\1=[REDACTED]", text)
    return repr(text if len(text) <= 200 else text[:199] + "…")


def _builtin_variables(targets: list[Target]) -> set[str]:
    """Variables every run has: run.*, target.*, and the credentials all of the workflow's targets define."""
    names = {"run.correlation_id", "target.name", "target.base_url"}
    if targets:
        common = set(targets[0].variables())
        for target in targets[1:]:
            common &= set(target.variables())
        names |= common
    return names
