"""``workflow-exporter report``: the debugging report from Prometheus (and the run store) as HTML, Markdown or
JSON. Exit 0, or with ``--fail-on`` 1 when a finding is at least that severe or a section could not be read;
2 on bad usage. A section whose source is missing or whose queries fail says so in one line."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from synthetic.durations import parse_duration_flag, parse_moment

from . import COMPARE, PrometheusClient, Report, build_report, render
from ._model import SEVERITIES


def add_parser(commands: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """Register ``report`` on the command line's subparsers."""
    report = commands.add_parser(
        "report",
        help="write a debugging report from Prometheus: journeys, steps, API, database, suggestions",
        description="Reads Prometheus (and, with --storage.path, the exporter's run store) over --since, compares "
        "with the period before (or a week before), and writes one page with plots and ranked suggestions. Exit 0; "
        "with --fail-on, 1 when a finding is at least that severe or a section could not be read; 2 on bad usage.",
        formatter_class=formatter,
    )
    report.add_argument("--prometheus", required=True, metavar="URL", help="Prometheus' base URL")
    report.add_argument("--since", default="24h", help="the period reported on, ending now (or --until)")
    report.add_argument(
        "--until",
        default=None,
        help="the end of the period (default now): 2h (ago), an ISO 8601 time (UTC when it names no zone) or unix "
        "seconds",
    )
    report.add_argument(
        "--compare",
        choices=sorted(COMPARE),
        default="previous",
        help="previous: the period just before; 7d: the same period a week earlier",
    )
    report.add_argument(
        "--format",
        dest="report_format",
        choices=["html", "markdown", "json"],
        default=None,
        help="default: from --output's extension (.html, .json), else markdown",
    )
    report.add_argument(
        "--output", default="-", help="the file to write (Markdown writes its PNGs beside it); - is stdout"
    )
    report.add_argument(
        "--storage.path",
        dest="report_storage_path",
        default="",
        help="the exporter's run store, for the failure groups",
    )
    report.add_argument("--log", action="append", default=[], metavar="PATH",
                        help="a Django JSON log file (repeat for more): names the statement an N+1 route repeated, "
                        "found through the exemplars' correlation IDs")  # fmt: skip
    report.add_argument("--slo-window", default="30d", help="the window of the SLO's error budget")
    report.add_argument("--query.timeout", dest="query_timeout", default="10s", help="timeout of each query")
    report.add_argument(
        "--fail-on",
        choices=[*SEVERITIES, "never"],
        default="never",
        help="exit 1 when a finding is this severe or more, or a section could not be read",
    )


def failed(report: Report, fail_on: str) -> bool:
    """Whether ``--fail-on`` refuses this report."""
    if fail_on == "never":
        return False
    limit = SEVERITIES.index(fail_on)
    if any(section.status == "error" for section in report.sections):
        return True
    return any(SEVERITIES.index(f.severity) <= limit for f in report.findings)


def _positive(text: str, flag: str) -> float:
    try:
        return parse_duration_flag(text)
    except ValueError as error:
        raise ValueError(f"{flag}: {error}") from None


def _moment(text: str, flag: str, now: float) -> float:
    try:
        return parse_moment(text, now)
    except ValueError as error:
        raise ValueError(f"{flag}: {error}") from None


def run(args: argparse.Namespace) -> int:
    """The subcommand."""
    try:
        since, slo_window = _positive(args.since, "--since"), _positive(args.slo_window, "--slo-window")
        timeout = _positive(args.query_timeout, "--query.timeout")
        now = time.time()
        until = _moment(args.until, "--until", now) if args.until else None
        earliest = (now if until is None else until) - since - (since if args.compare == "previous" else 7 * 86400)
        if earliest < 0:
            raise ValueError(f"--since: {args.since!r} reaches back before 1970 (with --compare {args.compare})")
    except ValueError as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    if not args.prometheus.startswith(("http://", "https://")):
        print(f"--prometheus: {args.prometheus!r} is not an http(s) URL", file=sys.stderr)
        return 2
    output = None if args.output == "-" else Path(args.output)
    fmt = args.report_format or (
        "html"
        if output and output.suffix in (".html", ".htm")
        else "json"
        if output and output.suffix == ".json"
        else "markdown"
    )
    store = None
    if args.report_storage_path:
        from ..store import RunStore, StoreError

        try:
            store = RunStore.open_existing(args.report_storage_path)
        except StoreError as error:
            print(f"--storage.path: {error}", file=sys.stderr)
            return 2
    try:
        report = build_report(
            PrometheusClient(args.prometheus, timeout=timeout),
            since=since,
            compare=args.compare,
            until=until,
            slo_window=slo_window,
            failure_source=failure_source(store) if store is not None else None,
        )
    finally:
        if store is not None:
            store.close()
    for section in report.sections:
        if section.status == "error":
            print(f"{section.title}: {section.message}", file=sys.stderr)
    if output is None:
        sys.stdout.write(render(report, fmt))
    else:
        text = render(report, fmt, images=output.parent, image_prefix=output.stem)
        output.write_text(text, encoding="utf-8")
    return 1 if failed(report, args.fail_on) else 0


def failure_source(store: Any) -> Any:
    """The run store's failure groups between two unix times."""
    from ..store import RunFilter

    def groups(since: float, until: float) -> list[Any]:
        return list(store.failure_groups(RunFilter(since=since, until=until), limit=25, examples=3))

    return groups
