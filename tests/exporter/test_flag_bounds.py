"""Every flag that takes a number, a duration or a size, on the service and on every subcommand, refuses what is
not one or what would exhaust the host (NaN, infinity, negative, zero where it means nothing, a thread count in the
millions, a duration that overflows the platform's timers) with exit 2 and a line naming the bound, before it
starts anything; and every such flag is in the table."""

from __future__ import annotations

import argparse
import re

import pytest

from exporter.cli import _parser, main

HOSTILE = ["nan", "inf", "-1", "1e300", "99999999999999999999", "x", "\u00b2", ""]

# flag, its subcommand's arguments (None: the service), a value it accepts, values refused with what the line says
DURATION = ("must be longer than 0s", ["0s", "0"]), ("is longer than 3650d", ["3651d", "99999999999d"])
FLAGS: list[tuple[str, list[str] | None, str, list[tuple[str, list[str]]]]] = [
    ("--web.max-connections", None, "7", [("must be an integer from 1 to 100000", ["0", "100001"])]),
    ("--web.idle-timeout", None, "30s", list(DURATION)),
    ("--web.read-timeout", None, "1.5", list(DURATION)),
    ("--max-concurrency", None, "8", [("must be an integer from 1 to 1024", ["0", "1025"])]),
    ("--probe.max-concurrency", None, "32", [("must be an integer from 1 to 1024", ["0", "10000000"])]),
    ("--probe.timeout-offset", None, "500ms", [("must be from 0 to 60 seconds", ["61", "2m"])]),
    ("--history.limit", None, "200", [("must be an integer from 1 to 1000000", ["0"])]),
    ("--history.max-bytes", None, "1048576", [("must be an integer from 1 to 1099511627776", ["0", "1" + "0" * 13])]),
    ("--storage.retention.time", None, "7d", list(DURATION)),
    ("--storage.retention.size", None, "512MB", [("is not a size", ["infB", "1e300GB", "-1MB", "9EB"])]),
    ("--web.max-streams", None, "0", [("must be an integer from 0 to 1024", ["1025"])]),
    ("--timeout", ["run", "--workflow", "w"], "10s", list(DURATION)),
    ("--timeout", ["replay", "0123456789abcdef"], "10s", list(DURATION)),
    ("--timeout", ["contract", "--target", "t"], "10s", list(DURATION)),
    ("--timeout", ["frontend-map", "src", "--openapi", "openapi.json"], "120s", list(DURATION)),
    ("--since", ["report", "--prometheus", "http://127.0.0.1:9"], "1h", list(DURATION)),
    ("--slo-window", ["report", "--prometheus", "http://127.0.0.1:9"], "30d", list(DURATION)),
    ("--query.timeout", ["report", "--prometheus", "http://127.0.0.1:9"], "10s", list(DURATION)),
]  # fmt: skip


def _exit_code(argv: list[str]) -> int:
    """What the command line answers before it starts anything: argparse's exit, or the subcommand's own check
    (``report`` and ``frontend-map`` read their durations when they run)."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


def _cases() -> list[tuple[str, list[str], str, str]]:
    cases = []
    for flag, command, _, refused in FLAGS:
        for message, values in refused:
            cases += [(flag, command or [], value, message) for value in values]
        cases += [(flag, command or [], value, "") for value in HOSTILE]
    return cases


@pytest.mark.parametrize(("flag", "command", "value", "message"), _cases())
def test_a_hostile_value_is_refused_naming_the_bound(
    flag: str, command: list[str], value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*command[:1], f"{flag}={value}", *command[1:]] if command else [f"{flag}={value}", "--config.check"]
    assert _exit_code(argv) == 2, argv
    error = capsys.readouterr().err
    assert "Traceback" not in error and f"{flag}: " in error, error
    assert message in error, error


@pytest.mark.parametrize(("flag", "command", "value"), [(f, c, v) for f, c, v, _ in FLAGS])
def test_the_value_in_the_table_is_accepted(flag: str, command: list[str] | None, value: str) -> None:
    parser = _parser()
    args = parser.parse_args([*command[:1], f"{flag}={value}", *command[1:]] if command else [f"{flag}={value}"])
    assert getattr(args, parser_dest(parser, flag, command)) is not None


def parser_dest(parser: argparse.ArgumentParser, flag: str, command: list[str] | None) -> str:
    for action in _actions(parser, command[0] if command else None):
        if flag in action.option_strings:
            return action.dest
    raise AssertionError(f"{flag} is not a flag of {command}")


def _actions(parser: argparse.ArgumentParser, command: str | None) -> list[argparse.Action]:
    if command is None:
        return [a for a in parser._actions if not isinstance(a, argparse._SubParsersAction)]
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return list(commands.choices[command]._actions)


def test_every_flag_that_takes_a_number_is_in_the_table() -> None:
    """A flag whose value is a number, a duration or a size by its type or by its default is listed in FLAGS."""
    parser = _parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    listed = {(command[0] if command else None, flag) for flag, command, _, _ in FLAGS}
    found = set()
    for name in [None, *commands.choices]:
        for action in _actions(parser, name):
            typed = action.type not in (None, str) and not isinstance(action.default, bool)
            numeric_default = isinstance(action.default, (int, float)) and not isinstance(action.default, bool)
            written_as_number = isinstance(action.default, str) and re.fullmatch(r"[\d.]+[a-zA-Z]*", action.default)
            if action.option_strings and (typed or numeric_default or written_as_number):
                found.add((name, action.option_strings[0]))
    assert found <= listed, sorted(found - listed, key=str)
