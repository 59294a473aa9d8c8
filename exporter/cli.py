"""workflow-exporter: the exporter service, --config.check, and run for one workflow by hand.

workflow-exporter --config.file=workflows.yml [--web.listen-address=127.0.0.1:9716] [--shard=0/2]
workflow-exporter --config.file=workflows.yml --config.check
workflow-exporter run --config.file=workflows.yml --workflow checkout [--target demo-shop] [--format junit]
workflow-exporter replay <run id> [--step NAME] [--set var=value] [--body-file F]
"""

from __future__ import annotations

import argparse
import logging
import logging.config
import re
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from prometheus_client import CollectorRegistry, disable_created_metrics

from django_integration.log import logging_config
from synthetic.config import ConfigError, load_config
from synthetic.durations import parse_duration, parse_duration_flag
from synthetic.result import RunResult
from synthetic.run_formats import FORMATS
from synthetic.runner import run_workflow
from synthetic.waterfall import render_waterfall

from . import __version__, contracts
from .api import DEFAULT_MAX_STREAMS
from .app import DEFAULT_PROBE_MAX_CONCURRENCY, ExporterApp
from .frontend_map import cli as frontend_map_cli
from .history import DEFAULT_LIMIT, DEFAULT_MAX_BYTES
from .replay import MAX_BODY_FILE, ReplayError, parse_assignments, plan_replay
from .report import cli as report_cli
from .sections import SECTIONS
from .server import DEFAULT_MAX_CONNECTIONS, HTTPServer, ServerSettings, threads_for
from .service import Exporter
from .sharding import Shard
from .store import DEFAULT_STORAGE_PATH, RunStore, StoreError
from .trace import cli as trace_cli

DEFAULT_LISTEN = "127.0.0.1:9716"
logger = logging.getLogger("exporter")


def _count(low: int, high: int) -> Callable[[str], int]:
    """An integer flag from ``low`` to ``high``: a thread or connection count beyond ``high`` is a typo that would
    exhaust the host (``--probe.max-concurrency`` starts a thread per slot)."""

    def parse(text: str) -> int:
        if not re.fullmatch(r"[0-9]{1,19}", text.strip()) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}, not {text[:60]!r}")
        return int(text)

    return parse


def _seconds(text: str) -> float:
    """A duration flag: ``10s``, ``2m``, ``500ms`` (Prometheus' notation) or bare seconds; above 0, at most 3650d."""
    try:
        return parse_duration_flag(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _offset(text: str) -> float:
    """``--probe.timeout-offset``: seconds from 0 to 60 (bare, or ``500ms``)."""
    try:
        value = float(text) if re.fullmatch(r"\d{1,6}(\.\d{1,9})?", text.strip()) else parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError(f"must be from 0 to 60 seconds, not {text[:60]!r}")
    return value


_SIZE_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40, "PB": 1 << 50, "EB": 1 << 60}


def _size(text: str) -> int:
    """A size flag as Prometheus writes it: ``512MB``, ``10GB`` (units of 1024, B to EB); 0 means no limit."""
    number = text.rstrip("BKMGTPE")
    unit = text[len(number) :] or "B"
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if unit not in _SIZE_UNITS or not 0 <= value * _SIZE_UNITS[unit] < 1 << 63:  # NaN and inf fail too
        raise argparse.ArgumentTypeError(f"{text[:60]!r} is not a size (use e.g. 512MB, 10GB; 0 for no limit)")
    return int(value * _SIZE_UNITS[unit])


def _storage_flags(parser: argparse.ArgumentParser, default: str | None) -> None:
    if default:  # the service
        text = 'directory of the run store (SQLite); "" keeps runs in memory only (default: %(default)s)'
    else:  # a command run by hand
        text = "also store the run in the run store of this directory (the service's, e.g. data); default: not stored"
    parser.add_argument("--storage.path", dest="storage_path", default=default, metavar="DIR", help=text)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description as written, and every flag's default in its help."""


def _parser() -> argparse.ArgumentParser:
    # No abbreviations (as Prometheus' own flags): a subcommand's --log must not be read as a prefix of --log.level
    # or --log.file.
    parser = argparse.ArgumentParser(prog="workflow-exporter", description=__doc__,
                                     formatter_class=_HelpFormatter, allow_abbrev=False)  # fmt: skip
    parser.add_argument("--version", action="version", version=f"workflow-exporter {__version__}")
    parser.add_argument("--config.file", dest="config_file", default="workflows.yml", help="workflow config (YAML)")
    parser.add_argument("--config.check", dest="config_check", action="store_true",
                        help="validate the config, print every problem, exit 0 when valid and 1 when not")  # fmt: skip
    parser.add_argument("--web.listen-address", dest="listen", default=DEFAULT_LISTEN, help="host:port to serve on")
    parser.add_argument("--web.max-connections", dest="web_max_connections", type=_count(1, 100_000), metavar="N",
                        default=DEFAULT_MAX_CONNECTIONS, help="client connections served at once; more wait in the "
                        "listen backlog until one closes (default: %(default)s)")  # fmt: skip
    parser.add_argument("--web.idle-timeout", dest="web_idle_timeout", type=_seconds, default="2m", metavar="DURATION",
                        help="close a connection with no request in progress after this long; keep it above the "
                        "scrape interval so scrapes reuse connections (default: %(default)s)")  # fmt: skip
    parser.add_argument("--web.read-timeout", dest="web_read_timeout", type=_seconds, default="10s", metavar="DURATION",
                        help="disconnect a client that has not sent its whole request (headers and body) this long "
                        "after its first byte (default: %(default)s)")  # fmt: skip
    parser.add_argument("--shard", default="0/1", help="run only this replica's share i/n of workflow x target pairs")
    parser.add_argument("--max-concurrency", type=_count(1, 1024), default=8, metavar="N",
                        help="scheduled runs at the same time (1 to 1024)")  # fmt: skip
    parser.add_argument("--probe.max-concurrency", dest="probe_max_concurrency", type=_count(1, 1024), metavar="N",
                        default=DEFAULT_PROBE_MAX_CONCURRENCY, help="/probe runs at the same time; one more is "
                        "answered 503 at once and counted (default: %(default)s)")  # fmt: skip
    parser.add_argument("--probe.timeout-offset", dest="timeout_offset", type=_offset, default=0.5,
                        help="seconds subtracted from Prometheus' scrape timeout for /probe runs")  # fmt: skip
    parser.add_argument("--history.limit", dest="history_limit", type=_count(1, 1_000_000), default=DEFAULT_LIMIT,
                        metavar="N", help="runs kept for the pages")  # fmt: skip
    parser.add_argument("--history.max-bytes", dest="history_max_bytes", type=_count(1, 1 << 40), metavar="BYTES",
                        default=DEFAULT_MAX_BYTES, help="about this many bytes of runs kept for the pages; the "
                        "oldest go first")  # fmt: skip
    _storage_flags(parser, DEFAULT_STORAGE_PATH)
    parser.add_argument("--storage.retention.time", dest="retention_time", type=_seconds, default="7d",
                        metavar="DURATION", help="delete runs older than this (default: %(default)s)")  # fmt: skip
    parser.add_argument("--storage.retention.size", dest="retention_size", type=_size, default="0",
                        metavar="SIZE", help="delete the oldest runs while the store is larger (512MB, 10GB; 0: no "
                        "limit) (default: %(default)s)")  # fmt: skip
    parser.add_argument("--web.enable-replay", dest="enable_replay", action="store_true",
                        help="let the run pages replay a run (POST, same origin, configured targets only)")  # fmt: skip
    parser.add_argument("--web.max-streams", dest="max_streams", type=_count(0, 1024), default=DEFAULT_MAX_STREAMS,
                        metavar="N",
                        help="live run streams (/api/v1/stream) open at once, each on a thread of its own; one more "
                        "is answered 503 (default: %(default)s)")  # fmt: skip
    parser.add_argument("--log.level", dest="log_level", default="info",
                        choices=["debug", "info", "warning", "error"],
                        help="the least severe log line written; at the default, run, replay, contract and "
                        "--config.check write warnings and worse (default: %(default)s)")  # fmt: skip
    parser.add_argument("--log.file", dest="log_file", metavar="FILE",
                        help="append the JSON log lines to this file instead of stdout (stderr for run, replay, "
                        "contract and --config.check; trace, frontend-map and report keep their own output); "
                        "reopened when logrotate renames it, so no copytruncate is needed")  # fmt: skip
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser(
        "run",
        help="run one workflow once and print its waterfall (exit 0 on success, 1 on failure, 2 on bad usage)",
        description="Run one workflow once and print it; exit 0 on success, 1 on failure, 2 on bad usage. Only "
        "what this workflow uses must be configured (a database only for sql steps, only its credentials).",
        formatter_class=_HelpFormatter,
    )
    run.add_argument("--config.file", dest="config_file", default=argparse.SUPPRESS,
                     help="workflow config (YAML); default workflows.yml")  # fmt: skip
    run.add_argument("--workflow", required=True, help="the workflow to run")
    run.add_argument("--target", help="the target to run it on; needed when the workflow has several")
    run.add_argument("--timeout", type=_seconds, metavar="DURATION",
                     help="bound the whole run (10s, 1m); default the workflow's own timeout")  # fmt: skip
    run.add_argument("--format", choices=sorted(FORMATS), default="text",
                     help="text: the waterfall; json: the whole run; junit: JUnit XML for CI")  # fmt: skip
    run.add_argument("--output", metavar="FILE", default="-", help="write there instead of stdout ('-')")
    _storage_flags(run, None)
    replay = commands.add_parser(
        "replay",
        help="run a stored run's workflow (or one step) again, store it linked to the original, print the waterfall",
        description="Run a stored run's workflow again with the current config (its secrets from there), or one "
        "step with the values the original run had; store the result as a new run linked to the original and print "
        "its waterfall. Exit 0 on success, 1 on failure, 2 on bad usage.",
        formatter_class=_HelpFormatter,
    )
    replay.add_argument("run_id", metavar="ID", help="the run's ID (its correlation ID, as in /runs/<id>)")
    replay.add_argument("--config.file", dest="config_file", default=argparse.SUPPRESS,
                        help="workflow config (YAML); default workflows.yml")  # fmt: skip
    replay.add_argument("--storage.path", dest="storage_path", default=DEFAULT_STORAGE_PATH, metavar="DIR",
                        help="directory of the run store (default: %(default)s)")  # fmt: skip
    replay.add_argument("--step", help="run only this step, with the values the original run had")
    replay.add_argument("--set", dest="assignments", action="append", default=[], metavar="NAME=VALUE",
                        help="give or replace a variable (repeatable; a JSON scalar keeps its type)")  # fmt: skip
    replay.add_argument("--body-file", dest="body_file", metavar="FILE",
                        help="send this file as the step's body (with --step; JSON for a json body)")  # fmt: skip
    replay.add_argument("--timeout", type=_seconds, metavar="DURATION",
                        help="bound the whole run (10s, 1m); default the workflow's own timeout")  # fmt: skip
    replay.add_argument("--format", choices=sorted(FORMATS), default="text",
                        help="text: the waterfall; json: the whole run; junit: JUnit XML for CI")  # fmt: skip
    replay.add_argument("--output", metavar="FILE", default="-", help="write there instead of stdout ('-')")
    trace_cli.add_parser(commands, _HelpFormatter)
    frontend_map_cli.add_parser(commands, _HelpFormatter)
    report_cli.add_parser(commands, _HelpFormatter)
    contracts.add_parser(commands, _HelpFormatter)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "trace":
        return trace_cli.run(args)
    if args.command == "frontend-map":
        return frontend_map_cli.run(args)
    if args.command == "report":
        return report_cli.run(args)
    # `run` prints its waterfall on stdout; its log lines go to stderr, and only warnings unless asked.
    interactive = args.command in ("run", "replay", "contract") or args.config_check
    level = "WARNING" if interactive and args.log_level == "info" else args.log_level.upper()
    try:
        logging.config.dictConfig(logging_config(level=level, layer="probe", file=args.log_file,
                                                 stream="stderr" if interactive else "stdout"))  # fmt: skip
    except ValueError as error:  # dictConfig wraps the OSError of a log file it cannot open
        cause = error.__cause__ or error
        print(f"workflow-exporter: --log.file={args.log_file}: {cause}", file=sys.stderr)
        return 2
    if args.config_check:
        return check_config(args.config_file)
    if args.command == "run":
        return _run_once(args)
    if args.command == "replay":
        return _replay(args)
    if args.command == "contract":
        return contracts.run_command(args)
    return _serve(args)


def check_config(path: str) -> int:
    """``--config.check``: every problem of the file on stderr; 0 when valid, 1 when not."""
    try:
        config = load_config(path, sections=SECTIONS)
    except ConfigError as error:
        print(f"{path}: invalid, {len(error.problems)} problem(s):", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"{path}: valid, {len(config.workflows)} workflows on {len(config.targets)} targets")
    return 0


def _run_once(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config_file, workflows=[args.workflow], sections=SECTIONS)
    except ConfigError as error:
        print(f"{args.config_file}: cannot run {args.workflow}:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    workflow = config.workflows[args.workflow]
    target_name = args.target or (workflow.targets[0] if len(workflow.targets) == 1 else None)
    if target_name not in workflow.targets:
        print(f"--target must be one of: {', '.join(workflow.targets)}", file=sys.stderr)
        return 2
    run = run_workflow(workflow, config.targets[target_name], timeout=args.timeout)
    if args.storage_path:
        code = _store(args.storage_path, run, "cli")
        if code:
            return code
    return _write(args, run)


def _store(path: str, run: RunResult, source: str, replay_of: str | None = None) -> int:
    """Add ``run`` to the store at ``path`` and wait until it is written; 2 when the store is refused."""
    try:
        store = RunStore(path)
    except StoreError as error:
        print(f"--storage.path: {error}", file=sys.stderr)
        return 2
    try:
        store.add(run, source=source, replay_of=replay_of)
    finally:
        store.close()
    return 0


def _write(args: argparse.Namespace, run: RunResult) -> int:
    """Print or write ``run`` in ``--format``; 0 on success, 1 on failure, 2 when ``--output`` cannot be written."""
    text = FORMATS[args.format](run)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"--output {args.output}: {error.strerror or error}", file=sys.stderr)
            return 2
        if args.format != "text":  # the file is for the machine; a person still sees the waterfall
            sys.stdout.write(render_waterfall(run))
    return 0 if run.success else 1


def _replay(args: argparse.Namespace) -> int:
    """``replay <id>``: the stored run's workflow (or ``--step``) again, stored as a new run linked to it."""
    if not args.storage_path:
        print("replay needs the run store: --storage.path=DIR", file=sys.stderr)
        return 2
    try:
        store = RunStore.open_existing(args.storage_path)
    except StoreError as error:
        print(f"--storage.path: {error}", file=sys.stderr)
        return 2
    try:
        stored = store.get_stored(args.run_id)
        if stored is None:
            print(f"no run {args.run_id!r} in the store at {args.storage_path}", file=sys.stderr)
            return 2
        try:
            config = load_config(args.config_file, workflows=[stored.run.workflow], sections=SECTIONS)
        except ConfigError as error:
            print(f"{args.config_file}: cannot replay {stored.run.workflow}:", file=sys.stderr)
            for problem in error.problems:
                print(f"  {problem}", file=sys.stderr)
            return 2
        try:
            body = None
            if args.body_file:
                with open(args.body_file, "rb") as file:
                    raw = file.read(MAX_BODY_FILE + 1)
                if len(raw) > MAX_BODY_FILE:
                    raise ReplayError(f"--body-file {args.body_file}: larger than {MAX_BODY_FILE} bytes")
                body = raw.decode("utf-8")
            plan = plan_replay(config, stored, args.step, parse_assignments(args.assignments), body)
        except (ReplayError, OSError, UnicodeDecodeError) as error:
            print(f"cannot replay {args.run_id}: {getattr(error, 'strerror', None) or error}", file=sys.stderr)
            return 2
        run = run_workflow(plan.workflow, plan.target, timeout=args.timeout)
        store.add(run, source="replay", replay_of=args.run_id)
    finally:
        store.close()
    what = f"step {plan.step}" if plan.step else "the whole workflow"
    first = f" (ran {', '.join(plan.ran_first)} first for values the store does not hold)" if plan.ran_first else ""
    print(f"replayed {what} of run {args.run_id}{first}; stored as run {run.correlation_id}", file=sys.stderr)
    return _write(args, run)


def _serve(args: argparse.Namespace) -> int:
    # `_created` samples are a few percent of a large scrape and nothing here reads them.
    disable_created_metrics()
    try:
        shard = Shard.parse(args.shard)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    registry = CollectorRegistry()
    try:
        exporter = Exporter(args.config_file, registry, shard=shard, max_concurrency=args.max_concurrency,
                            history_limit=args.history_limit, history_max_bytes=args.history_max_bytes,
                            storage_path=args.storage_path or None, retention_time=args.retention_time,
                            retention_size=args.retention_size or None)  # fmt: skip
    except ConfigError as error:
        print(f"{args.config_file}: invalid:\n{error}", file=sys.stderr)
        return 1
    except StoreError as error:
        print(f"--storage.path: {error}", file=sys.stderr)
        return 1
    app = ExporterApp(exporter, registry, timeout_offset=args.timeout_offset,
                      max_probes_in_flight=args.probe_max_concurrency, max_streams=args.max_streams,
                      enable_replay=args.enable_replay)  # fmt: skip
    # Each open event stream holds a worker thread: they get threads of their own, so scrapes never wait on them.
    settings = ServerSettings(max_connections=args.web_max_connections,
                              threads=threads_for(args.probe_max_concurrency) + args.max_streams,
                              idle_timeout=args.web_idle_timeout, read_timeout=args.web_read_timeout)  # fmt: skip
    try:
        server = HTTPServer(app, args.listen, settings, registry)
    except (OSError, ValueError) as error:
        print(f"cannot serve on {args.listen}: {error}", file=sys.stderr)
        return 1

    def on_sighup(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=exporter.reload, name="reload", daemon=True).start()

    def on_stop(signum: int, frame: FrameType | None) -> None:
        # From a thread: the handler runs in the loop's own thread, which may hold the server's lock. Open event
        # streams end first, so the graceful stop does not wait for them.
        app.api.streams.close_all()
        threading.Thread(target=server.stop, name="stop", daemon=True).start()

    signal.signal(signal.SIGHUP, on_sighup)
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    exporter.start()
    logger.info("workflow-exporter %s listening on %s", __version__, server.url,
                extra={"workflows": len(exporter.config.workflows), "shard": args.shard,
                       "max_connections": settings.max_connections, "threads": settings.threads})  # fmt: skip
    try:
        server.serve_forever()
    finally:
        exporter.stop()
    return 0
