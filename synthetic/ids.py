"""Correlation IDs and W3C trace context, shared by the exporter and the Django integration."""

from django_integration.correlation import is_valid_id, new_id, trace_id_for, traceparent_for

__all__ = ["is_valid_id", "new_id", "trace_id_for", "traceparent_for"]
