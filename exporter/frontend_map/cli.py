"""``workflow-exporter frontend-map SRC --openapi URL|FILE``: the map on the command line.

Exit codes: 0 when nothing named in ``--fail-on`` was found, 1 when something was (CI), 2 on bad usage, a missing
source folder, or an OpenAPI document that cannot be read (the message says which and why).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from synthetic.durations import parse_duration_flag

from ._build import FrontendMapError, build_map, parse_operation
from ._files import MapLimits
from ._model import STATUSES
from .emit import starter_workflows
from .openapi import OpenAPIError, load_openapi
from .report import FORMATS

DESCRIPTION = (
    "Map a Next.js app's routes to the backend endpoints each one calls, and judge every call against the backend's "
    "OpenAPI document: matched, unmatched (a 404), method (a 405), unresolved (with the reason). Exit 0, or 1 when "
    "a status named in --fail-on occurs; 2 on bad usage or an unreadable source or document."
)


def add_parser(commands: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    parser = commands.add_parser("frontend-map", help="map a Next.js app's routes and API calls against the "
                                 "backend's OpenAPI document", description=DESCRIPTION,
                                 formatter_class=formatter)  # fmt: skip
    parser.add_argument("source", metavar="SRC", help="the Next.js app's folder (where next.config and app/ or "
                        "pages/ are)")  # fmt: skip
    parser.add_argument("--openapi", required=True, metavar="URL|FILE",
                        help="the backend's OpenAPI document: an http(s) URL or a file (JSON or YAML)")  # fmt: skip
    parser.add_argument("--format", choices=sorted(FORMATS), default="table", help="table, markdown or json")
    parser.add_argument("--output", metavar="FILE", default="-", help="write there instead of stdout ('-')")
    parser.add_argument("--fail-on", dest="fail_on", action="append", default=[], metavar="STATUS[,STATUS]",
                        help=f"exit 1 when a call has one of these statuses ({', '.join(STATUSES[1:])}); "
                        "repeat or separate with commas")  # fmt: skip
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable as the build would see it (over the .env files), e.g. "
                        "NEXT_PUBLIC_API_URL=https://api.example")  # fmt: skip
    parser.add_argument("--backend-origin", dest="backend_origins", action="append", default=[], metavar="URL",
                        help="an origin that is the backend (besides the document's URL, its servers and rewrite "
                        "destinations); calls to other origins are external")  # fmt: skip
    parser.add_argument("--operation", dest="operations", action="append", default=[], metavar="'METHOD /path'",
                        help="an operation the backend serves outside its OpenAPI document (e.g. 'GET /readyz' of "
                        "django_integration); repeat for more")  # fmt: skip
    parser.add_argument("--emit-workflows", dest="emit_workflows", metavar="FILE",
                        help="also write a starter workflow file: one http journey per page's safe calls")  # fmt: skip
    parser.add_argument("--timeout", default="120s", metavar="DURATION",
                        help="bound the whole mapping (and the document's fetch)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    fail_on = {word.strip() for entry in args.fail_on for word in entry.split(",") if word.strip()}
    unknown = fail_on - set(STATUSES[1:])
    if unknown:
        print(f"--fail-on: unknown status {', '.join(sorted(unknown))} (known: {', '.join(STATUSES[1:])})",
              file=sys.stderr)  # fmt: skip
        return 2
    env: dict[str, str] = {}
    for entry in args.env:
        name, sep, value = entry.partition("=")
        if not sep or not name:
            print(f"--env {entry!r}: expected NAME=VALUE", file=sys.stderr)
            return 2
        env[name] = value
    try:
        extra = [parse_operation(text) for text in args.operations]
    except ValueError as error:
        print(f"--operation {error}", file=sys.stderr)
        return 2
    try:
        seconds = parse_duration_flag(args.timeout)
    except ValueError as error:
        print(f"--timeout: {error}", file=sys.stderr)
        return 2
    try:
        document = load_openapi(args.openapi, seconds=min(seconds, 30.0))
        result = build_map(args.source, document, openapi_location=args.openapi, env=env,
                           backend_origins=set(args.backend_origins), limits=MapLimits(seconds=seconds),
                           extra_operations=extra)  # fmt: skip
    except (OpenAPIError, FrontendMapError) as error:
        print(f"frontend-map: {error}", file=sys.stderr)
        return 2
    text = FORMATS[args.format](result)
    if not _write(args.output, text):
        return 2
    if args.output != "-" and args.format != "table":
        sys.stdout.write(FORMATS["table"](result))
    if args.emit_workflows and not _write(args.emit_workflows, starter_workflows(result)):
        return 2
    found = {status: result.count(status) for status in fail_on if result.count(status)}
    if found:
        print("frontend-map: " + ", ".join(f"{count} {status}" for status, count in sorted(found.items()))
              + " (--fail-on)", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _write(target: str, text: str) -> bool:
    if target == "-":
        sys.stdout.write(text)
        return True
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as error:
        print(f"cannot write {target}: {error.strerror or error}", file=sys.stderr)
        return False
    return True
