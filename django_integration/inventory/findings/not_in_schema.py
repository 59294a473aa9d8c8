"""``not_in_schema`` (django_integration.W103): an endpoint under the API's paths (the prefixes the OpenAPI
document uses, ``api/``) that the document drf-spectacular generates does not cover: a plain Django view
answering JSON next to the REST framework views, or one the generator could not read. Clients built from the
document cannot know it, and the contract checks never see it.

Views that keep themselves out on purpose (``schema = None``, ``@extend_schema(exclude=True)``) are not findings.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._base import Endpoint
from ._base import Finding

ID = "django_integration.W103"
NAME = "not_in_schema"


def find(endpoints: Sequence[Endpoint]) -> list[Finding]:
    return [
        Finding(NAME, ID, e.route, e.method, e.view,
                f"{e.method} {e.route} ({e.view}) is not in the OpenAPI document, although it lies under the "
                "API's paths.",
                "Make it a REST framework view (or describe it with @extend_schema); if it is not part of the "
                "API, move it out of the API's paths or exclude it with @extend_schema(exclude=True).")
        for e in endpoints
        if e.in_schema == "no"
    ]  # fmt: skip
