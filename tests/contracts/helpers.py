"""A config for a sweep of a test server: one target with a contracts section, and what it needs."""

from __future__ import annotations

import json
from typing import Any

from synthetic.config import Config, parse_config


def sweep_config(base_url: str, contracts: dict[str, Any], workflows: str = "") -> Config:
    """Target ``api`` at ``base_url`` with ``contracts`` (as a mapping), one idle workflow unless given."""
    text = f"""
targets:
  api:
    base_url: {base_url}
    contracts: {json.dumps(contracts)}
workflows:
{
        workflows
        or '''  idle:
    targets: [api]
    interval: 1h
    steps:
      - name: ok
        http: {path: /ok}'''
    }
"""
    return parse_config(text, "api.yml")


def document(paths: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An OpenAPI 3.0 document with ``paths`` (and ``components`` etc. from ``extra``)."""
    return {"openapi": "3.0.3", "info": {"title": "test", "version": "1"}, "paths": paths, **extra}


def json_response(schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {"responses": {status: {"description": "it", "content": {"application/json": {"schema": schema}}}}}
