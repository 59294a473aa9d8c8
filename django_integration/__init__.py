"""Django app: correlation IDs through logs, HTTP and SQL, and per-route metrics with exemplars."""
