"""``workflow-exporter trace <id>``: everything every layer recorded under one correlation ID, as one timeline.

Sources come from the config's ``trace:`` section (``--config.file``, when the file exists) and from flags
(``--log``, ``--slow-log``, ``--mysql``), the runs from the store (``--storage.path``). Exit codes: 0 when
something was found, 1 when nothing was, 2 on bad usage (an ID that is not a correlation ID, a bad flag, a
config with problems). A source that cannot be read is reported on stderr; the others still answer.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

from synthetic.config import ConfigError, dsn_problems, load_config
from synthetic.durations import parse_moment

from . import TraceConfig, TraceSources, Window, collect, render_json, render_text
from .runs import RunLookup

logger = logging.getLogger("exporter.trace")


def add_parser(commands: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """Register ``trace`` on the command line's subparsers."""
    trace = commands.add_parser(
        "trace",
        help="print everything every layer recorded under one correlation ID (exit 1 when nothing is found)",
        description="Sources come from the config's trace: section (--config.file, when the file exists) and from "
        "flags (--log, --slow-log, --mysql); synthetic runs from the run store (--storage.path). Exit 0 when something "
        "was found, 1 when nothing was, 2 on bad usage. A source that cannot be read is reported on stderr; the "
        "others still answer.",
        formatter_class=formatter,
    )
    trace.add_argument("correlation_id", metavar="ID", help="the correlation ID (X-Request-ID, exemplar)")
    trace.add_argument("--config.file", dest="config_file", default=argparse.SUPPRESS,
                       help="read the trace: section (and nothing else) of this config; default workflows.yml "
                       "when it exists")  # fmt: skip
    trace.add_argument("--storage.path", dest="trace_storage_path", default=argparse.SUPPRESS,
                       help="the exporter's run store (its --storage.path), for synthetic runs; default data/ when "
                       "it holds one (the service's default), as replay")  # fmt: skip
    trace.add_argument("--log", action="append", default=[], metavar="PATH",
                       help="a Django JSON log file or glob (rotations are found too); repeat for more")  # fmt: skip
    trace.add_argument("--slow-log", dest="slow_log", action="append", default=[], metavar="PATH",
                       help="a MySQL/MariaDB slow query log file; repeat for more")  # fmt: skip
    trace.add_argument("--mysql", action="append", default=[], metavar="DSN",
                       help="read performance_schema there (mysql://user:password@host:port/db); prefer the "
                       "config's trace.mysql[].dsn_file for the password")  # fmt: skip
    trace.add_argument(
        "--since", default=argparse.SUPPRESS, help="only what happened after this: 2h (ago) or 2026-11-30T10:00:00"
    )
    trace.add_argument(
        "--until",
        default=argparse.SUPPRESS,
        help="only what happened before this: 10m (ago), an ISO 8601 time or unix seconds",
    )
    trace.add_argument("--format", choices=["text", "json"], default="text", help="text: the timeline; json")


def run(args: argparse.Namespace) -> int:
    """The subcommand: 0 found, 1 nothing found, 2 bad usage."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        window = Window(
            _moment(getattr(args, "since", None), "--since"), _moment(getattr(args, "until", None), "--until")
        )
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    config = TraceConfig()
    path = getattr(args, "config_file", None) or "workflows.yml"
    if path != "workflows.yml" or Path(path).is_file():  # the default file only when it is there
        from ..sections import SECTIONS

        try:
            loaded = load_config(path, workflows=[], sections=SECTIONS)
        except ConfigError as error:
            print(f"{path}: cannot read its trace: section:", file=sys.stderr)
            for problem in error.problems:
                print(f"  {problem}", file=sys.stderr)
            return 2
        config = loaded.sections.get("trace") or TraceConfig()
    for dsn in args.mysql:
        problems = dsn_problems(dsn)
        if problems:
            print("--mysql: " + "; ".join(problems), file=sys.stderr)
            return 2
    config = TraceConfig(
        logs=(*config.logs, *args.log),
        slow_logs=(*config.slow_logs, *args.slow_log),
        mysql=(*config.mysql, *args.mysql),
    )
    from ..store import StoreError

    try:
        lookup, close = _run_store(getattr(args, "trace_storage_path", None))
    except StoreError as error:
        print(f"--storage.path: {error}", file=sys.stderr)
        return 2
    try:
        trace = collect(args.correlation_id, TraceSources(runs=lookup, config=config), window)
    except ValueError as error:
        print(f"{args.correlation_id!r}: {error}", file=sys.stderr)
        return 2
    finally:
        close()
    if not (lookup or config):
        print("no source to search: give --log, --mysql, --storage.path or a config with a trace: section",
              file=sys.stderr)  # fmt: skip
        return 2
    for report in trace.reports:
        for problem in report.problems:
            print(f"{report.source}: {problem}", file=sys.stderr)
    sys.stdout.write(render_json(trace) if args.format == "json" else render_text(trace))
    return 0 if trace.found else 1


def _run_store(path: str | None) -> tuple[RunLookup | None, Any]:
    """The run store at ``path``; without the flag, the service's default directory when a store is there."""
    from ..store import DATABASE_FILE, DEFAULT_STORAGE_PATH, RunStore

    if path is None and (Path(DEFAULT_STORAGE_PATH) / DATABASE_FILE).is_file():
        path = DEFAULT_STORAGE_PATH
    if not path:
        return None, lambda: None
    store = RunStore.open_existing(path)
    return store.get, store.close


def _moment(text: str | None, flag: str) -> float | None:
    """``2h`` means two hours ago; an ISO 8601 time (UTC when it names no zone) or unix seconds means that time."""
    if not text:
        return None
    try:
        return parse_moment(text, time.time())
    except ValueError as error:
        raise ValueError(f"{flag}: {error}") from None
