"""The matrix table in docs/loop.md: one line per fault (and the healthy run), rewritten for the rows measured,
the others kept as they were with the date they were measured."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from .matrix import HEALTHY, MATRIX
from .run import Result

EXPECT_BEGIN = "<!-- loop:expected:begin (generated from tests/loop/matrix.py; a test fails when it drifts) -->"
EXPECT_END = "<!-- loop:expected:end -->"
BEGIN = "<!-- loop:table:begin (written by make loop; edit the text around it, not the table) -->"
END = "<!-- loop:table:end -->"
HEADER = (
    "| fault | expected alert | receiver | first alert of the run | to firing (s) | to notification (s) "
    "| to resolve (s) | result | measured | what else happened |\n"
    "|---|---|---|---|---|---|---|---|---|---|\n"
)
ORDER = [row.fault for row in MATRIX] + [HEALTHY]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def line(result: Result, measured: str) -> str:
    """The table line of ``result``; ``measured`` says when and at which timescale."""
    alert = f"{result.alertname} ({result.severity})" if result.fault != HEALTHY else "nothing fires"
    notes = [*result.problems, *(f"also: {name}" for name in result.also)]
    cells = [f"`{result.fault}`", alert, result.receiver, result.first_alert or "—", _seconds(result.to_firing),
             _seconds(result.to_notification), _seconds(result.to_resolve), "pass" if result.passed else "**FAIL**",
             measured, "; ".join(notes) or "—"]  # fmt: skip
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def write(path: Path, results: Sequence[Result], measured: str) -> None:
    """Replace the lines of ``results``' faults in the table of ``path``, keep the other lines, order by the
    matrix; faults never measured get a line saying so."""
    text = path.read_text()
    before, rest = text.split(BEGIN, 1)
    table, after = rest.split(END, 1)
    lines = {}
    for existing in table.splitlines():
        match = re.match(r"^\| `([a-z_0-9]+)` \|", existing)
        if match:
            lines[match.group(1)] = existing
    for result in results:
        lines[result.fault] = line(result, measured)
    body = []
    for fault in ORDER:
        body.append(lines.get(fault) or f"| `{fault}` | | | | | | | not measured yet | | |")
    path.write_text(with_expectations(f"{before}{BEGIN}\n{HEADER}" + "\n".join(body) + f"\n{END}{after}"))


def expectations() -> str:
    """The matrix as a Markdown table: fault, the alert it must raise first, where it goes, the labels that name
    what broke, and why that severity."""
    out = ["| fault | expected first alert | severity → receiver | labels naming what broke | also breaks | why |",
           "|---|---|---|---|---|---|"]  # fmt: skip
    for row in MATRIX:
        labels = ", ".join(f"{k}={v}" for k, v in row.labels.items())
        breaks = "alone (breaks everything)" if "*" in row.breaks else ", ".join(sorted(row.breaks)) or "—"
        cells = [f"`{row.fault}`", row.alertname, f"{row.severity} → {row.receiver}", labels,
                 breaks, row.why]  # fmt: skip
        out.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    out.append(f"| `{HEALTHY}` | nothing fires | — | — | — | a healthy shop pages and tickets no one |")
    return "\n".join(out)


def with_expectations(text: str) -> str:
    """``text`` (docs/loop.md) with its expectations table regenerated."""
    before, rest = text.split(EXPECT_BEGIN, 1)
    _, after = rest.split(EXPECT_END, 1)
    return f"{before}{EXPECT_BEGIN}\n{expectations()}\n{EXPECT_END}{after}"
