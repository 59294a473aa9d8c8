"""The config sections the exporter owns beside ``targets`` and ``workflows``, each read by its own module.

``synthetic.config`` knows only targets and workflows (it imports nothing of the exporter); every loader of the
exporter passes ``SECTIONS`` so ``--config.check``, start and reload report these sections' problems with the
rest, and ``Config.sections[name]`` holds what each reader returned.
"""

from __future__ import annotations

from collections.abc import Mapping

from synthetic.config import SectionParser

from .frontend_map import config as frontend_config
from .report import config as report_config
from .trace import config as trace_config

SECTIONS: Mapping[str, SectionParser] = {
    "trace": trace_config.parse,
    "frontend": frontend_config.parse,
    "report": report_config.parse,
}
