"""Replays and reproduction: run a stored run's workflow (or one of its steps) again, and the ``curl`` line that
sends one of its requests by hand.

A replay runs the workflow and target the stored run names, as the *current* config has them (credentials and
other secrets from there, never from the store, which holds them redacted), and is stored as a new run with
``source=replay`` linked to the original (``replay_of``). Only configured workflows and targets are run: a
replay takes no URL.

With a step (``--step NAME``), only that step runs, with the variables the original run had: the values its
earlier steps extracted are filled into the step before it runs. A value the store does not hold (a token,
redacted because it is secret) is made again by running the earlier step that extracts it first; ``--set
name=value`` gives or replaces a value (a JSON scalar such as ``3`` or ``true`` keeps its type, anything else is
text), ``--body-file`` replaces an ``http`` step's body. Filled-in values are literal: a ``${...}`` inside one is
never expanded. Cookies earlier steps set are not there: a step that needs a session cookie needs the whole
workflow replayed.

The same runs from the run page (``POST /runs/<id>/replay``, optionally with ``step``) when the exporter runs
with ``--web.enable-replay``: POST only, from the exporter's own pages only (the browser's ``Origin``, else
``Sec-Fetch-Site``, must say same-origin), within ``--probe.max-concurrency``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit
from wsgiref.types import WSGIEnvironment

import yaml

from synthetic.model import Config, Step, Target, Workflow
from synthetic.redact import REDACTED, is_secret_name
from synthetic.result import RunResult
from synthetic.templating import references

from .store import StoredRun

if TYPE_CHECKING:
    from .app import ExporterApp

MAX_BODY_FILE = 1024 * 1024  # bytes of --body-file
MAX_FORM = 4096  # bytes of the replay button's form
_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_.\-]*)\}")
_BUILTIN_PREFIXES = ("credentials.", "target.", "run.")


class ReplayError(ValueError):
    """A replay that cannot be made as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class ReplayPlan:
    """What a replay runs: ``workflow`` (its steps filled in) on ``target``; ``ran_first`` names the steps run
    before the chosen one to make values the store does not hold."""

    workflow: Workflow
    target: Target
    step: str | None = None
    ran_first: tuple[str, ...] = ()


# --- filling in known values ------------------------------------------------------------------------------------


def _literal(value: Any) -> Any:
    """``value`` with every ``${`` written ``$${``, so the runner takes it as text (strings, keys, nested)."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, Mapping):
        return {_literal(k): _literal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_literal(v) for v in value]
    return value


def _fill(value: Any, known: Mapping[str, Any]) -> Any:
    """``value`` with the ``${name}`` of every known name replaced (literally); other references stay."""
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value)
        if whole and whole.group(1) in known:
            return _literal(known[whole.group(1)])

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None or name not in known:
                return match.group(0)
            item = known[name]
            return _literal("" if item is None else str(item))

        return _REFERENCE.sub(substitute, value)
    if isinstance(value, Mapping):
        return {_fill(k, known): _fill(v, known) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_fill(v, known) for v in value]
    return value


def _spec_values(spec: Any) -> list[Any]:
    if is_dataclass(spec) and not isinstance(spec, type):
        return [getattr(spec, f.name) for f in fields(spec)]
    return [spec]


def _needs(step: Step) -> set[str]:
    """The run variables a step uses (built-ins such as ``credentials.*`` left out)."""
    names = set(references(_spec_values(step.spec))) | set(references(dict(step.expect)))
    return {n for n in names if not n.startswith(_BUILTIN_PREFIXES)}


def _filled(step: Step, known: Mapping[str, Any]) -> Step:
    spec = step.spec
    if is_dataclass(spec) and not isinstance(spec, type):
        spec = replace(spec, **{f.name: _fill(getattr(spec, f.name), known) for f in fields(spec)})
    return replace(step, spec=spec, expect=_fill(dict(step.expect), known))


def _with_body(step: Step, text: str) -> Step:
    spec = step.spec
    if step.kind != "http" or not hasattr(spec, "body"):
        raise ReplayError(f"--body-file replaces the body of an http step; {step.name!r} is a {step.kind} step")
    if getattr(spec, "json", None) is not None:
        try:
            return replace(step, spec=replace(spec, json=_literal(json.loads(text))))
        except ValueError as error:
            raise ReplayError(
                f"--body-file: step {step.name!r} sends JSON, and the file is not JSON: {error}"
            ) from None
    return replace(step, spec=replace(spec, json=None, form=None, body=_literal(text)))


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """``--set name=value`` pairs: a JSON scalar keeps its type (``3``, ``true``, ``null``), else text."""
    values: dict[str, Any] = {}
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", name):
            raise ReplayError(f"--set {assignment!r}: expected name=value, the name as the workflow writes ${{name}}")
        value: Any = text
        with contextlib.suppress(ValueError):
            parsed = json.loads(text)
            if not isinstance(parsed, (dict, list)):
                value = parsed
        values[name] = value
    return values


def plan_replay(
    config: Config,
    stored: StoredRun,
    step: str | None = None,
    values: Mapping[str, Any] | None = None,
    body: str | None = None,
) -> ReplayPlan:
    """What replaying ``stored`` runs under ``config``; ReplayError when the config no longer has what it ran."""
    original = stored.run
    workflow = config.workflows.get(original.workflow)
    target = config.targets.get(original.target)
    if workflow is None:
        raise ReplayError(f"workflow {original.workflow!r} is not in the config any more; replays run only what is "
                          "configured")  # fmt: skip
    if target is None or target.name not in workflow.targets:
        raise ReplayError(f"target {original.target!r} is not configured for workflow {workflow.name!r} any more; "
                          "replays run only configured targets")  # fmt: skip
    values = dict(values or {})
    if step is None:
        if body is not None:
            raise ReplayError("--body-file needs --step: it replaces one step's body")
        if values:
            workflow = replace(workflow, steps=tuple(_filled(s, values) for s in workflow.steps))
        return ReplayPlan(workflow, target)
    names = [s.name for s in workflow.steps]
    if step not in names:
        raise ReplayError(f"workflow {workflow.name!r} has no step {step!r}; its steps: {', '.join(names)}")
    position = names.index(step)
    known = _known_values(original, workflow, step)
    known.update(values)
    chosen = workflow.steps[position]
    producers: list[Step] = []
    missing = _needs(chosen) - known.keys()
    while missing:
        name = sorted(missing)[0]
        producer = next((s for s in reversed(workflow.steps[:position]) if name in s.extract), None)
        if producer is None:
            raise ReplayError(f"step {step!r} uses ${{{name}}}, which this run has no value for and no earlier step "
                              f"extracts; give it with --set {name}=VALUE")  # fmt: skip
        if producer not in producers:
            producers.append(producer)
        known_after = known.keys() | {n for p in producers for n in p.extract}
        missing = (_needs(chosen) | {n for p in producers for n in _needs(p)}) - known_after
    producers.sort(key=workflow.steps.index)
    steps = [_filled(s, known) for s in producers]
    last = _filled(chosen, known)
    if body is not None:
        last = _with_body(last, body)
    steps.append(last)
    return ReplayPlan(replace(workflow, steps=tuple(steps)), target, step, tuple(s.name for s in producers))


def _known_values(run: RunResult, workflow: Workflow, step: str) -> dict[str, Any]:
    """Values the earlier steps of ``run`` extracted and the store holds (secret ones are redacted: not held)."""
    known: dict[str, Any] = {}
    for result in run.steps:
        if result.name == step:
            break
        for name, value in result.extracted.items():
            if name not in workflow.secret_variables and value != REDACTED:
                known[name] = value
    return known


# --- the run page's replay button --------------------------------------------------------------------------------


def _same_origin(environ: WSGIEnvironment) -> bool:
    """The request comes from a page of this exporter: its Origin (or Referer) is the Host it was sent to, or
    the browser says ``Sec-Fetch-Site: same-origin``."""
    host = environ.get("HTTP_HOST", "")
    origin = environ.get("HTTP_ORIGIN") or ""
    if not origin and environ.get("HTTP_REFERER"):
        parts = urlsplit(environ["HTTP_REFERER"])
        origin = f"{parts.scheme}://{parts.netloc}"
    if origin and origin != "null":
        parts = urlsplit(origin)
        return bool(host) and parts.scheme in ("http", "https") and parts.netloc == host
    return environ.get("HTTP_SEC_FETCH_SITE") == "same-origin"


def replay_from_page(app: ExporterApp, method: str, run_id: str, environ: WSGIEnvironment) -> Any:
    """``POST /runs/<id>/replay`` (form field ``step`` optional): 303 to the new run's page."""

    def text(status: str, message: str, *extra: tuple[str, str]) -> Any:
        return status, [("Content-Type", "text/plain; charset=utf-8"), *extra], (message + "\n").encode()

    if not app.enable_replay:
        return text("403 Forbidden", "replay is off: start the exporter with --web.enable-replay")
    if method != "POST":
        return text("405 Method Not Allowed", "replay answers POST only", ("Allow", "POST"))
    if not _same_origin(environ):
        return text("403 Forbidden", "replay is accepted from the exporter's own pages only (same origin)")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if not 0 <= length <= MAX_FORM:
        return text("400 Bad Request", f"the form must be at most {MAX_FORM} bytes")
    form = parse_qs(environ["wsgi.input"].read(length).decode("utf-8", "replace")) if length else {}
    if set(form) - {"step"} or any(len(v) > 1 for v in form.values()):
        return text("400 Bad Request", "the replay form takes one field: step (optional)")
    stored = app.exporter.store.get_stored(run_id)
    if stored is None:
        return text("404 Not Found", f"no run {run_id[:200]!r} in the store")
    try:
        plan = plan_replay(app.exporter.config, stored, (form.get("step") or [None])[0])
    except ReplayError as error:
        return text("409 Conflict", str(error))
    if not app.acquire_probe_slot():
        return text("503 Service Unavailable", "every probe slot is busy; try again in a moment")
    try:
        run = app.exporter.run(plan.workflow, plan.target, source="replay", replay_of=run_id)
    finally:
        app.release_probe_slot()
    return text("303 See Other", f"replayed as /runs/{run.correlation_id}", ("Location", f"/runs/{run.correlation_id}"))


# --- reproduce one request with curl ------------------------------------------------------------------------------

_OPEN, _CLOSE = "\ue000", "\ue001"  # around a shell variable's name inside rendered text


@dataclass
class Reproduction:
    """A ``curl`` command for one http step, with secrets as shell variables; ``notes`` say, per variable,
    where its value comes from, and what else the request had that curl does not."""

    curl: str
    variables: dict[str, str] = field(default_factory=dict)  # NAME -> where it comes from
    notes: list[str] = field(default_factory=list)


def _variable(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper() or "VALUE"


def _shell_word(text: str) -> str:
    """``text`` as one shell word: literal parts single-quoted, variables as ``"$NAME"``."""
    parts = []
    for index, piece in enumerate(re.split(f"{_OPEN}([A-Z0-9_]+){_CLOSE}", text.replace("$${", "${"))):
        if index % 2:
            parts.append(f'"${piece}"')
        elif piece:
            parts.append(shlex.quote(piece))
    return "".join(parts) or "''"


def _url_part(text: str, safe: str) -> str:
    pieces = re.split(f"({_OPEN}[A-Z0-9_]+{_CLOSE})", text)
    return "".join(p if p.startswith(_OPEN) else quote(p, safe=safe) for p in pieces)


@functools.lru_cache(maxsize=4)
def _raw_targets(path: str, mtime_ns: int, size: int) -> Mapping[str, Any]:
    """The ``targets`` of a config file as written (parsed once per version of the file)."""
    with contextlib.suppress(OSError, yaml.YAMLError, AttributeError, TypeError):
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")[: 4 * 1024 * 1024])
        if isinstance(raw["targets"], Mapping):
            return dict(raw["targets"])
    return {}


def _raw_target(config_path: Path, target: str) -> Mapping[str, Any]:
    """The target as the config file writes it (to say which environment variable or file a secret is from)."""
    try:
        stat = config_path.stat()
    except OSError:
        return {}
    found = _raw_targets(str(config_path), stat.st_mtime_ns, stat.st_size).get(target)
    return found if isinstance(found, Mapping) else {}


def _origin_note(raw: Any, where: str, config_path: Path) -> str:
    if isinstance(raw, str) and (env := re.search(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)", raw)):
        return f"{where} in {config_path}, set there from the environment variable {env.group(1)}"
    return f"{where} in {config_path}"


def _extract_text(source: Mapping[str, Any]) -> str:
    """An extract as the config writes it: ``json: access``, ``header: X-Token``, ``regex: …``."""
    for kind in ("json", "header", "cookie", "regex", "column"):
        if kind in source:
            value = source.get("text", source[kind]) if kind == "json" else source[kind]
            return f"{kind}: {getattr(value, 'pattern', value)}"
    return "extract"


def reproduce(config: Config, config_path: Path, run: RunResult, step_name: str) -> Reproduction | None:
    """The curl line of ``step_name`` of ``run`` under the current config; None when the config has no such http
    step any more (the stored exchange still shows what was sent)."""
    workflow = config.workflows.get(run.workflow)
    target = config.targets.get(run.target)
    step = next((s for s in workflow.steps if s.name == step_name), None) if workflow else None
    if workflow is None or target is None or step is None or step.kind != "http":
        return None
    spec = step.spec
    raw_target = _raw_target(config_path, target.name)
    reproduction = Reproduction("")
    variables: dict[str, Any] = {"target.name": target.name, "target.base_url": target.base_url,
                                 "run.correlation_id": run.correlation_id}  # fmt: skip

    def secret(name: str, note: str) -> str:
        reproduction.variables.setdefault(name, note)
        return f"{_OPEN}{name}{_CLOSE}"

    for credential, values in target.credentials.items():
        raw_credential = (raw_target.get("credentials") or {}).get(credential) or {}
        for key, value in values.items():
            if key == "username":
                variables[f"credentials.{credential}.{key}"] = value
                continue
            where = f"targets.{target.name}.credentials.{credential}.{key}"
            if isinstance(raw_credential, Mapping) and f"{key}_file" in raw_credential:
                note = f"the file {raw_credential[f'{key}_file']} ({where}_file in {config_path})"
            else:
                note = _origin_note(raw_credential.get(key) if isinstance(raw_credential, Mapping) else None, where,
                                    config_path)  # fmt: skip
            variables[f"credentials.{credential}.{key}"] = secret(_variable(f"{credential}_{key}"), note)
    for result in run.steps:
        if result.name == step_name:
            break
        for name, value in result.extracted.items():
            if name in workflow.secret_variables or value == REDACTED:
                producer = next((s for s in workflow.steps if name in s.extract), None)
                how = _extract_text(producer.extract[name]) if producer else "?"
                note = (f"the value step {result.name!r} extracted ({how}); secret, so not stored: take it from that "
                        "step's response when you run it")  # fmt: skip
                variables[name] = secret(_variable(name), note)
            else:
                variables[name] = value
    for name in _needs(step) - variables.keys():
        variables[name] = secret(_variable(name), "a value this run never had (the step that makes it did not run)")

    def by_name(name: str, value: Any, where: str) -> Any:
        """A value under a secret-looking name (written in the config) becomes a variable too."""
        if isinstance(value, Mapping):
            return {k: by_name(str(k), v, where) for k, v in value.items()}
        if isinstance(value, list):
            return [by_name(name, v, where) for v in value]
        if is_secret_name(name) and value not in (None, "") and _OPEN not in str(value):
            return secret(_variable(name), f"the {where} {name} step {step_name!r} sends, as written in {config_path}")
        return value

    rendered = _fill(_spec_values(spec), variables)
    fields_ = {f.name: value for f, value in zip(fields(spec), rendered, strict=True)}
    for name, where in (("headers", "header"), ("query", "query parameter"), ("json", "field"), ("form", "field")):
        if fields_.get(name) is not None:
            fields_[name] = by_name("", fields_[name], where)
    path = str(fields_["path"])
    url = path if "://" in path else target.base_url + _url_part(path, safe="/?&=%:@+,;~!$'()*")
    query = fields_.get("query") or {}
    if query:
        pairs = "&".join(f"{_url_part(str(k), safe='')}={_url_part(str(v), safe='')}" for k, v in query.items())
        url += ("&" if "?" in url else "?") + pairs
    headers: dict[str, str] = {}
    raw_headers = raw_target.get("headers") if isinstance(raw_target.get("headers"), Mapping) else {}
    for name, value in target.headers.items():
        if is_secret_name(name):
            note = _origin_note((raw_headers or {}).get(name), f"targets.{target.name}.headers.{name}", config_path)
            headers[name] = secret(_variable(name), note)
        else:
            headers[name] = value
    headers.update({str(k): str(v) for k, v in (fields_.get("headers") or {}).items()})
    body = ""
    if fields_.get("json") is not None:
        body = json.dumps(fields_["json"], ensure_ascii=False, default=str)
        headers.setdefault("Content-Type", "application/json")
    elif fields_.get("form") is not None:
        body = "&".join(
            f"{_url_part(str(k), safe='')}={_url_part(str(v), safe='')}" for k, v in fields_["form"].items()
        )
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif fields_.get("body") is not None:
        body = str(fields_["body"])
    parts = ["curl", "-sS", "-X", spec.method, _shell_word(url)]
    for name, value in headers.items():
        parts += ["-H", _shell_word(f"{name}: {value}")]
    if body:
        parts += ["--data-raw", _shell_word(body)]
    curl = " ".join(parts)
    for value in target.secrets():  # whatever else the config writes literally, by value
        curl = curl.replace(value, REDACTED)
    reproduction.curl = curl
    earlier = [r for r in run.steps[: [s.name for s in run.steps].index(step_name)] if r.exchange is not None]
    if any("set-cookie" in {h.lower() for h in r.exchange.response_headers} for r in earlier if r.exchange):
        reproduction.notes.append("earlier steps of this run set cookies (a session, csrftoken) that this request "
                                  "carried; curl has none of them: add -b/-H 'X-CSRFToken: …' or replay the whole "
                                  "workflow")  # fmt: skip
    reproduction.notes.append("the exporter also sends X-Request-ID, traceparent and the X-Synthetic marker; add "
                              "-H 'X-Request-ID: <an id>' to find this request in the logs")  # fmt: skip
    return reproduction
