"""The ``workflow-exporter`` command (and ``python -m exporter``).

The distribution's base install is the Django integration alone; the exporter's libraries come with the
``exporter`` extra. Without them this says which to install, instead of ending in an ``ImportError`` traceback.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from importlib import metadata

DISTRIBUTION = "workflow-exporter"
EXTRA = "exporter"
# The package is not on PyPI: the hint names the two ways it is installed (README.md).
INSTALL_HINT = (
    "install workflow-exporter[exporter]: from a clone, pip install '/path/to/workflow-exporter[exporter]'; "
    "from a wheel, pip install 'workflow_exporter-<version>-py3-none-any.whl[exporter]'"
)
# PEP 508: a requirement starts with the distribution's name.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_EXTRA_MARKER = re.compile(r"""\bextra\s*==\s*["']([^"']+)["']""")


def missing_requirements(distribution: str = DISTRIBUTION, extra: str = EXTRA) -> list[str]:
    """Names of the distributions that ``extra`` of ``distribution`` requires and that are not installed.

    Empty when ``distribution`` itself is not installed (running from a source tree): nothing to compare with.
    """
    try:
        requirements = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return []
    missing: list[str] = []
    for requirement in requirements:
        spec, _, marker = requirement.partition(";")
        if extra not in _EXTRA_MARKER.findall(marker):
            continue
        name = _NAME.match(spec.strip())
        if name is None:
            continue
        try:
            metadata.distribution(name.group())
        except metadata.PackageNotFoundError:
            missing.append(name.group())
    return missing


def main(argv: Sequence[str] | None = None) -> int:
    """Run the exporter's command line; exit 2 with an install hint when the ``exporter`` extra is missing."""
    try:
        from .cli import main as cli_main
    except ModuleNotFoundError as error:
        missing = missing_requirements()
        if not missing:
            raise  # not a missing extra: a real bug, keep its traceback
        print(
            f"workflow-exporter: the exporter's libraries are not installed ({', '.join(missing)}; "
            f"importing {error.name!r} failed): {INSTALL_HINT}",
            file=sys.stderr,
        )
        return 2
    return cli_main(argv)
