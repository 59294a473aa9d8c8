"""``python -m exporter``: the same as the ``workflow-exporter`` command."""

import sys

from .cli import main

sys.exit(main())
