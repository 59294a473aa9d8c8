"""Generate workflow-exporter's Grafana dashboards into ``grafana/dashboards/*.json``.

    .venv/bin/python grafana/generate.py           # (re)write the JSON files
    .venv/bin/python grafana/generate.py --check   # exit 1 and name the files that would change

The dashboards themselves live in ``grafana/boards/``, one module per dashboard, registered in
``grafana.boards.DASHBOARDS``; this entry point renders every registered dashboard and nothing else.

They are built with grafana-foundation-sdk, pinned to an exact build in pyproject.toml's ``dev`` extra
(``1769699379!11.6.0``: the Grafana 11.6 schema, ``schemaVersion`` 41). Its PyPI versions carry epochs, so an
unpinned install picks an old Grafana schema: keep the pin exact. The output is pretty-printed JSON with sorted
keys and a trailing newline, so regenerating is deterministic and a test fails when the committed files drift.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

HERE = Path(__file__).resolve().parent
OUTPUT_DIR = HERE / "dashboards"

if __package__ in (None, ""):  # run as a script: `grafana` is a plain package beside the repository root
    sys.path.insert(0, str(HERE.parent))

from grafana.boards import DASHBOARDS  # noqa: E402


def render(dashboard: model.Dashboard) -> str:
    return json.dumps(dashboard, cls=JSONEncoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """File name → content of every dashboard."""
    return {f"{uid}.json": render(build()) for uid, build in sorted(DASHBOARDS.items())}


def stale(output_dir: Path, files: dict[str, str]) -> list[str]:
    """Names of files that differ from ``files``, are missing, or are not generated any more."""
    present = {path.name for path in output_dir.glob("*.json")}
    changed = [
        name
        for name, content in files.items()
        if name not in present or (output_dir / name).read_text(encoding="utf-8") != content
    ]
    return sorted([*changed, *(present - files.keys())])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming files that would change")
    parser.add_argument("--output-dir", type=Path, default=OUTPUT_DIR, help="default: %(default)s")
    args = parser.parse_args(argv)
    output_dir: Path = args.output_dir
    files = rendered()
    changes = stale(output_dir, files) if output_dir.is_dir() else sorted(files)
    if args.check:
        for name in changes:
            print(f"would change: {output_dir / name}", file=sys.stderr)
        if changes:
            print("run: .venv/bin/python grafana/generate.py", file=sys.stderr)
        return 1 if changes else 0
    output_dir.mkdir(parents=True, exist_ok=True)
    for name in changes:
        path = output_dir / name
        if name in files:
            path.write_text(files[name], encoding="utf-8")
            print(f"wrote {path}")
        else:
            path.unlink()
            print(f"removed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
