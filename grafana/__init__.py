"""Grafana dashboards (built in ``grafana/boards/``, one module per dashboard, written by ``grafana/generate.py``
and committed as JSON) and their provisioning.

A plain package so tests can ``from grafana.queries import panel_queries`` with the repository root on
``sys.path``; it is not installed with the distribution.
"""
