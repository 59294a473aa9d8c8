"""A Next.js app nobody on the team wrote: six files of fastapi-fullstack's generated frontend (fixtures/
fastapi_fullstack_excerpt, MIT, see its README), mapped as they are. The expected map is read off the sources by
hand: two route handlers proxying to the FastAPI backend through its ``backendFetch`` client."""

from __future__ import annotations

from exporter.frontend_map import build_map

from .conftest import FIXTURES

EXCERPT = FIXTURES / "fastapi_fullstack_excerpt"


def test_the_excerpt_maps_every_call_it_makes() -> None:
    result = build_map(EXCERPT, None)
    assert result.problems == []
    routes = {route.route: [(rc.call.method, rc.call.url, rc.call.location.file, rc.call.location.line, rc.chain)
                            for rc in route.calls] for route in result.routes}  # fmt: skip
    backend = "http://localhost:8000"  # BACKEND_URL's default in the source
    assert routes == {
        "/api/admin/stats": [
            # requireAdmin first asks who the user is, then the stats are read: both through backendFetch, whose
            # `let url = …; if (params) url += `?${…}`` keeps the path
            ("GET", f"{backend}/api/v1/admin/stats", "src/app/api/admin/stats/route.ts", 12,
             ("src/app/api/admin/stats/route.ts",)),
            ("GET", f"{backend}/api/v1/auth/me", "src/lib/admin-auth.ts", 17,
             ("src/app/api/admin/stats/route.ts", "src/lib/admin-auth.ts")),
        ],
        # `${id}${qs ? `?${qs}` : ""}`: the optional query string leaves {id} a whole path segment
        "/api/files/[id]": [("GET", f"{backend}/api/v1/files/{{id}}", "src/app/api/files/[id]/route.ts", 17,
                             ("src/app/api/files/[id]/route.ts",))],
    }  # fmt: skip
    assert all(call.via == ("src/lib/server-api.ts:48",) for call in result.calls if "files" not in (call.path or ""))
