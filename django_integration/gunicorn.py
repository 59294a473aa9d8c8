"""Gunicorn hooks for prometheus-client's multiprocess mode (several workers, one /metrics).

Use: ``gunicorn -c python:django_integration.gunicorn myproject.wsgi`` with ``PROMETHEUS_MULTIPROC_DIR``
set to an empty directory. Every worker writes its samples there and /metrics merges them. Trade-off:
prometheus-client keeps no exemplars in this mode, so the correlation ID is not on the metrics; it is still
in every log line, SQL comment and response header. Keep one worker with threads where exemplars matter.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any


def on_starting(server: Any) -> None:
    """Empty the multiprocess directory: samples of a previous run would be counted again."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        if path.exists():
            for child in path.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        path.mkdir(parents=True, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges (counters and histograms keep counting from its files)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
