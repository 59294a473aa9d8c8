"""MkDocs hooks of the docs site (mkdocs.yml ``hooks:``): pages generated at build time, and links out of docs/.

Generated from the code, so they cannot drift from it:

- ``reference/cli.md`` from ``exporter.cli._parser()``: the help of the command and of every subcommand;
- ``reference/configuration.md``: every field the workflow config accepts at each level, asked of the config
  parser itself (``synthetic.config.parse_config`` with the exporter's sections) by feeding it an unknown field
  and reading the "known: ..." list of its answer, plus the exporter's defaults;
- ``reference/settings.md`` from ``django_integration.conf``: every ``WORKFLOW_EXPORTER`` key, its default and
  the note of the settings object's docstring.

Links from a page to a file of the repository outside docs/ (``../README.md``, ``../deploy/systemd/``) are
checked to exist and rewritten to the repository on GitHub; a link to a missing file is a warning, which
``mkdocs build --strict`` turns into a failure.
"""

from __future__ import annotations

import argparse
import html
import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("mkdocs.hooks.workflow_exporter")

REPO_ROOT = Path(__file__).resolve().parents[2]
REPO_URL = "https://github.com/workflow-exporter/workflow-exporter"
UNKNOWN = "zz_unknown_field"
# The parser's ways of naming what is known where an unknown name stands.
_KNOWN = (
    re.compile(r"unknown (?:field|assertion|source|action) '" + UNKNOWN + r"' \(known: ([^)]*)\)"),
    re.compile(r"\." + UNKNOWN + r": known: (.*)$"),
)

_TARGET = {"base_url": "http://shop.example"}
_DATABASE = {**_TARGET, "database": {"dsn": "mysql://user:pw@db.example/shop"}}
_STEP = {"name": "s", "http": {"path": "/"}}
_SQL = {"name": "s", "sql": {"query": "SELECT 1"}}
_BROWSER = {"name": "s", "browser": {"goto": "/"}}
_WORKFLOW = {"targets": ["t"], "steps": [_STEP]}


def _config(targets: dict[str, Any] | None = None, step: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    workflow = {**_WORKFLOW, "steps": [step or _STEP]}
    return {"targets": {"t": targets or _TARGET}, "workflows": {"w": workflow}, **extra}


# (where in the file, what it is, a config with an unknown field exactly there)
PROBES: list[tuple[str, str, dict[str, Any]]] = [
    ("(top level)", "the file's sections", {**_config(), UNKNOWN: 1}),
    ("targets.<name>", "a target: where and how to reach it", _config(targets={**_TARGET, UNKNOWN: 1})),
    ("targets.<name>.tls", "TLS to the target", _config(targets={**_TARGET, "tls": {UNKNOWN: 1}})),
    ("targets.<name>.database", "the database of `sql` steps", _config(targets={**_TARGET, "database": {UNKNOWN: 1}})),
    ("targets.<name>.circuit_breaker", "stop probing a target that keeps failing",
     _config(targets={**_TARGET, "circuit_breaker": {UNKNOWN: 1}})),
    ("workflows.<name>", "a workflow: which targets, how often, its steps", {
        "targets": {"t": _TARGET}, "workflows": {"w": {**_WORKFLOW, UNKNOWN: 1}}}),
    ("workflows.<name>.steps[]", "a step: one step kind and what to expect of it", _config(step={**_STEP, UNKNOWN: 1})),
    ("targets.<name>.credentials.<name>", "a login's credentials, used as `${credentials.<name>.<field>}`",
     _config(targets={**_TARGET, "credentials": {"c": {UNKNOWN: 1}}})),
    ("targets.<name>.contracts", "the target's contract sweep against its OpenAPI document",
     _config(targets={**_TARGET, "contracts": {UNKNOWN: 1}})),
    ("steps[].http", "the `http` step kind", _config(step={"name": "s", "http": {"path": "/", UNKNOWN: 1}})),
    ("steps[].expect", "assertions on an `http` step's answer",
     _config(step={**_STEP, "expect": {UNKNOWN: 1}})),
    ("steps[].expect.server", "limits on what the server reports doing (Server-Timing)",
     _config(step={**_STEP, "expect": {"server": {UNKNOWN: 1}}})),
    ("steps[].extract.<name>", "a value taken from the answer for later steps (one source each)",
     _config(step={**_STEP, "extract": {"x": {UNKNOWN: 1}}})),
    ("steps[].sql", "the `sql` step kind (read-only statements on the target's `database`)",
     _config(targets=_DATABASE, step={"name": "s", "sql": {"query": "SELECT 1", UNKNOWN: 1}})),
    ("steps[].expect", "assertions on a `sql` step's rows",
     _config(targets=_DATABASE, step={**_SQL, "expect": {UNKNOWN: 1}})),
    ("steps[].browser", "the `browser` step kind (a page in Chromium)",
     _config(step={"name": "s", "browser": {"goto": "/", UNKNOWN: 1}})),
    ("steps[].browser.actions[]", "one action on the page",
     _config(step={"name": "s", "browser": {"goto": "/", "actions": [{UNKNOWN: 1}]}})),
    ("steps[].expect", "assertions on a `browser` step's page", _config(step={**_BROWSER, "expect": {UNKNOWN: 1}})),
    ("trace", "where `trace` looks (log files, slow logs, MySQL)", {**_config(), "trace": {UNKNOWN: 1}}),
    ("frontend", "the frontend map: a Next.js source tree against the API's document",
     {**_config(), "frontend": {UNKNOWN: 1}}),
    ("report", "what `report` reads (Prometheus, MySQL) and compares",
     {**_config(), "report": {UNKNOWN: 1}}),
]  # fmt: skip


def known_fields(config: dict[str, Any]) -> list[str]:
    """The fields the parser names as known where ``config`` has its unknown field."""
    from exporter.sections import SECTIONS
    from synthetic.config import ConfigError, parse_config

    try:
        parse_config(yaml.safe_dump(config), "workflows.yml", sections=SECTIONS)
    except ConfigError as error:
        for problem in error.problems:
            match = next((m for pattern in _KNOWN if (m := pattern.search(problem))), None)
            if match:
                fields = match.group(1).replace("and one step kind:", ",").split(",")
                return [field.strip() for field in fields if field.strip()]
        raise RuntimeError(f"the parser did not name the known fields: {error.problems}") from None
    raise RuntimeError(f"the parser accepted an unknown field: {config}")


def configuration_page() -> str:
    from exporter import cli
    from exporter.frontend_map import config as frontend
    from exporter.report import _prom as report
    from synthetic import model
    from synthetic.contracts import config as contracts
    from synthetic.steps import STEP_KINDS

    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated at build time by docs/reference/hooks.py from the config parser; do not edit. -->",
        "",
        "The exporter's config file (`--config.file`, YAML) is validated strictly: an unknown field anywhere is an",
        "error naming the file, the place and the fields known there, and every problem is reported at once",
        "(`workflow-exporter --config.check`). This page lists, for each place, the fields the parser accepts, asked",
        "of the parser itself when the site is built. What each field does, with examples: the README's",
        f"[Watch user journeys with the exporter]({REPO_URL}#watch-user-journeys-with-the-exporter).",
        "",
        "Secrets: every credential, `dsn`, `synthetic_secret` … may be given as `<field>_file` (a file whose stripped",
        "content is the value) or as `${env:NAME}` / `${env:NAME:-default}` in the value.",
        "",
        "| where | what | fields |",
        "|---|---|---|",
    ]
    for where, what, config in PROBES:
        fields = ", ".join(f"`{name}`" for name in known_fields(config))
        lines.append(f"| `{where}` | {what} | {fields} |")
    lines += [
        "",
        f"Step kinds (one per step): {', '.join(f'`{kind}`' for kind in sorted(STEP_KINDS))}.",
        "",
        "## Defaults",
        "",
        "| field | default |",
        "|---|---|",
        f"| `workflows.<name>.interval` | {model.DEFAULT_INTERVAL:g} s |",
        f"| `workflows.<name>.timeout` | {model.DEFAULT_TIMEOUT:g} s |",
        f"| `targets.<name>.max_response_bytes` | {model.DEFAULT_MAX_RESPONSE_BYTES} |",
        f"| `targets.<name>.implicit_statuses` | {', '.join(map(str, sorted(model.DEFAULT_IMPLICIT_STATUSES)))} |",
        f"| `targets.<name>.circuit_breaker` | on: `failures` {model.CircuitBreakerConfig.failures}, "
        f"`cooldown` {model.CircuitBreakerConfig.cooldown:g} s |",
        f"| `targets.<name>.contracts.interval` / `timeout` / `request_timeout` | {contracts.DEFAULT_INTERVAL:g} s / "
        f"{contracts.DEFAULT_TIMEOUT:g} s / {contracts.DEFAULT_REQUEST_TIMEOUT:g} s |",
        f"| `targets.<name>.contracts.max_requests` / `negative_examples` | {contracts.DEFAULT_MAX_REQUESTS} / "
        f"{contracts.DEFAULT_NEGATIVE_EXAMPLES} |",
        f"| `frontend.refresh` / `timeout` | {frontend.DEFAULT_REFRESH:g} s / {frontend.DEFAULT_TIMEOUT:g} s |",
        f"| `report.query_timeout` | {report.DEFAULT_QUERY_TIMEOUT:g} s |",
        "",
        f"The flags that are not in the file are on the [command-line reference](cli.md) (`{cli.DEFAULT_LISTEN}` is",
        "the default listen address).",
        "",
    ]
    return "\n".join(lines)


def _help(parser: argparse.ArgumentParser) -> str:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        return parser.format_help()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:  # argparse has no public accessor for its subcommands
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def cli_page() -> str:
    from exporter.cli import _parser

    parser = _parser()
    lines = [
        "# Command-line reference",
        "",
        "<!-- Generated at build time by docs/reference/hooks.py from exporter.cli._parser(); do not edit. -->",
        "",
        "`workflow-exporter` (or `python -m exporter`): the exporter service without a subcommand, and the tools.",
        "Flags follow Prometheus' names (`--web.*`, `--storage.*`). Every subcommand that judges something exits",
        "0 when it passed, 1 when it did not and 2 on bad usage.",
        "",
        "## workflow-exporter",
        "",
        "```text",
        _help(parser).rstrip(),
        "```",
        "",
    ]
    for name, sub in _subparsers(parser):
        lines += [f"## workflow-exporter {name}", "", "```text", _help(sub).rstrip(), "```", ""]
        for sub_name, subsub in _subparsers(sub):
            lines += [f"### workflow-exporter {name} {sub_name}", "", "```text", _help(subsub).rstrip(), "```", ""]
    return "\n".join(lines)


_SETTING_NOTE = re.compile(r'^\s*"([A-Z_]+)":.*?(?:#\s*(.*))?$')


def settings_page() -> str:
    from django_integration import conf

    notes: dict[str, str] = {}
    for line in (conf.__doc__ or "").splitlines():
        match = _SETTING_NOTE.match(line)
        if match:
            notes[match.group(1)] = (match.group(2) or "").strip()
    lines = [
        "# Django settings reference",
        "",
        "<!-- Generated at build time by docs/reference/hooks.py from django_integration/conf.py; do not edit. -->",
        "",
        f"One dict in `settings.py`, `{conf.SETTINGS_NAME}`, read on first use and remembered until Django's",
        "`setting_changed` signal says it changed (so `override_settings` works); a key you leave out has the",
        "default below. What each does in detail:",
        "[Settings](../metrics.md#settings-workflow_exporter).",
        "",
        "| key | default | note |",
        "|---|---|---|",
    ]
    for key, default in conf.DEFAULTS.items():
        note = html.escape(notes.get(key, ""), quote=False)
        note = note.replace("|", "&#124;").replace("*", "\\*").replace("_", "\\_")
        lines.append(f"| `{key}` | `{default!r}` | {note} |")
    lines.append("")
    return "\n".join(lines)


GENERATED: dict[str, Callable[[], str]] = {
    "reference/cli.md": cli_page,
    "reference/configuration.md": configuration_page,
    "reference/settings.md": settings_page,
}


def on_files(files: Any, config: Any) -> Any:
    """Add the generated pages."""
    from mkdocs.structure.files import File

    for src_uri, build in GENERATED.items():
        files.append(File.generated(config, src_uri, content=build()))
    return files


_LINK = re.compile(r"(\]\()([^)\s#]+)(#[^)\s]*)?(\))")
_FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Check links to repository files outside docs/ and point them at the repository."""
    docs_dir = Path(config["docs_dir"]).resolve()
    page_dir = (docs_dir / page.file.src_uri).parent

    def rewrite(match: re.Match[str]) -> str:
        target = match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
            return match.group(0)
        resolved = (page_dir / target).resolve()
        if resolved == docs_dir or docs_dir in resolved.parents:
            return match.group(0)  # mkdocs checks links inside docs/ itself
        if REPO_ROOT not in resolved.parents or not resolved.exists():
            log.warning("%s: link to %s, which is not in the repository", page.file.src_uri, target)
            return match.group(0)
        kind = "tree" if resolved.is_dir() else "blob"
        url = f"{REPO_URL}/{kind}/main/{resolved.relative_to(REPO_ROOT).as_posix()}"
        return f"{match.group(1)}{url}{match.group(3) or ''}{match.group(4)}"

    parts = _FENCE.split(markdown)
    # Outside fences only: split() alternates text, fence marker, text inside, fence marker, ...
    out, inside = [], False
    for part in parts:
        if part in ("```", "~~~"):
            inside = not inside
            out.append(part)
        else:
            out.append(part if inside else _LINK.sub(rewrite, part))
    return "".join(out)
