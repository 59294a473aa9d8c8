"""workflow-exporter: the Prometheus exporter that runs user-journey workflows and API contract checks."""

__version__ = "0.1.0.dev0"
