"""The report as JSON, Markdown (PNG plots written beside it) or one HTML page (PNG plots embedded as data
URIs). Plots are drawn server-side with matplotlib's Agg backend."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._model import Plot, Report

_PLOT_LOCK = threading.Lock()  # pyplot's state is global
_COLORS = ["#9aa5b1", "#3367d6", "#e8710a", "#1e8e3e", "#d93025"]


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def to_dict(report: Report) -> dict[str, Any]:
    """Everything in the report, plain data."""
    body = dataclasses.asdict(report)
    body["start_iso"], body["end_iso"] = _when(report.start), _when(report.end)
    body["previous_start_iso"], body["previous_end_iso"] = _when(report.previous_start), _when(report.previous_end)
    body["critical"] = sum(1 for f in report.findings if f.severity == "critical")
    return body


def plot_png(plot: Plot) -> bytes:
    """One bar chart as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    with _PLOT_LOCK:
        height = 1.2 + 0.38 * max(len(plot.categories), 1) * (1 if plot.stacked else max(len(plot.series), 1) * 0.7)
        figure = Figure(figsize=(8, min(height, 9)), dpi=90)
        axes = figure.subplots()
        positions = list(range(len(plot.categories)))
        count = len(plot.series)
        width = 0.8 if plot.stacked else 0.8 / max(count, 1)
        left = [0.0] * len(positions)
        for index, (name, values) in enumerate(plot.series.items()):
            color = _COLORS[index % len(_COLORS)]
            if plot.stacked:
                axes.barh(positions, values, height=width, left=left, label=name, color=color)
                left = [a + b for a, b in zip(left, values, strict=True)]
            else:
                offset = [p - 0.4 + width * (index + 0.5) for p in positions]
                axes.barh(offset, values, height=width, label=name, color=color)
        if plot.marks:
            for position, mark in zip(positions, plot.marks, strict=False):
                if mark:
                    axes.plot([mark, mark], [position - 0.45, position + 0.45], color="#d93025", linewidth=2)
        axes.set_yticks(positions, [c[:50] for c in plot.categories], fontsize=8)
        axes.invert_yaxis()
        axes.set_xlabel(plot.unit)
        axes.set_title(plot.title, fontsize=10)
        if count > 1 or plot.marks:
            axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        axes.grid(axis="x", alpha=0.3)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
        return out.getvalue()


def render(report: Report, fmt: str, images: Path | None = None, image_prefix: str = "report") -> str:
    """``json``, ``markdown`` (plots written beside it into ``images`` as ``<image_prefix>-<plot>.png`` and
    linked by that name; none when ``images`` is ``None``) or ``html`` (plots embedded)."""
    if fmt == "json":
        return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return _markdown(report, images, image_prefix)
    if fmt == "html":
        return _html(report)
    raise ValueError(f"format: {fmt!r} is not one of html, markdown, json")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown(report: Report, images: Path | None, prefix: str) -> str:
    lines = [
        "# Debugging report",
        "",
        f"{_when(report.start)} - {_when(report.end)}, compared with {_when(report.previous_start)} - "
        f"{_when(report.previous_end)}; Prometheus {report.prometheus}, {report.queries} queries.",
        "",
    ]
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        if section.key == "suggestions":
            if not report.findings:
                lines += ["No findings: nothing crossed a threshold in this period.", ""]
            for number, f in enumerate(report.findings, 1):
                lines.append(
                    f"{number}. **{f.severity}** {f.title}. **Do:** {f.action} "
                    f"([runbook]({f.runbook}); {f.impact_text})"
                )
            lines.append("")
            continue
        if section.status != "ok":
            lines += [f"_{section.message}_", ""]
            continue
        lines += [f"_{note}_" for note in section.notes] + ([""] if section.notes else [])
        for plot in section.plots:
            if images is not None:
                images.mkdir(parents=True, exist_ok=True)
                name = f"{prefix}-{plot.name}.png"
                (images / name).write_bytes(plot_png(plot))
                lines += [f"![{plot.title}]({name})", ""]
        for table in section.tables:
            lines += [
                f"**{table.title}**",
                "",
                "| " + " | ".join(table.columns) + " |",
                "|" + "---|" * len(table.columns),
            ]
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
            lines.append("")
    return "\n".join(lines)


def _html(report: Report) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    environment = Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
        autoescape=select_autoescape(["html"]),
    )
    plots = {
        plot.name: "data:image/png;base64," + base64.b64encode(plot_png(plot)).decode()
        for section in report.sections
        if section.status == "ok"
        for plot in section.plots
    }
    return environment.get_template("report.html").render(
        report=report, plots=plots, when=_when, critical=sum(1 for f in report.findings if f.severity == "critical")
    )
