"""``python -m exporter``: the same as the ``workflow-exporter`` command."""

import sys

from ._entry import main

sys.exit(main())
