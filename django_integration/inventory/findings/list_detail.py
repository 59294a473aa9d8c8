"""``list_detail_exposure`` (django_integration.W102): a ViewSet whose detail route lets an anonymous request
read what its list route refuses it: the objects are hidden as a list and exposed one by one.

Compares, per ViewSet, the effective permissions of GET on the list route and on the detail route (a
``get_permissions`` that opens ``retrieve`` but not ``list`` is the usual cause).
"""

from __future__ import annotations

from collections.abc import Sequence

from .._base import Endpoint
from ._base import Finding

ID = "django_integration.W102"
NAME = "list_detail_exposure"


def find(endpoints: Sequence[Endpoint]) -> list[Finding]:
    lists = {(e.view.rsplit(".", 1)[0], e.method): e for e in endpoints
             if e.style == "drf-viewset" and e.detail is False}  # fmt: skip
    found = []
    for e in endpoints:
        if e.style != "drf-viewset" or not e.detail or e.anonymous is not True:
            continue
        counterpart = lists.get((e.view.rsplit(".", 1)[0], e.method)) if e.method == "GET" else None
        if counterpart is None or counterpart.anonymous is not False:
            continue
        found.append(Finding(
            NAME, ID, e.route, e.method, e.view,
            f"{e.method} {e.route} ({e.view}) lets an anonymous request through while {counterpart.method} "
            f"{counterpart.route} refuses it: objects hidden from the list are exposed one by one.",
            "Give the detail actions the permissions of the list (look at get_permissions for the action).",
        ))  # fmt: skip
    return found
