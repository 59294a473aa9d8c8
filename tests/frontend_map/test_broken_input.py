"""Broken input is a named problem and the rest is still mapped: a syntax error, a missing tsconfig.json, a symlink
loop, binary files, a 50 MB generated file, non-UTF-8 sources, too many files, too deep a tree, no time left;
a missing or invalid OpenAPI document is a clear error."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from exporter.frontend_map import FrontendMap, MapLimits, OpenAPIError, build_map, load_openapi

from .conftest import DEMO_OPENAPI

CONFIG = (
    "module.exports = { async rewrites() { return [{ source: '/api/:path*', "
    "destination: 'http://127.0.0.1:8000/api/:path*/' }]; } };\n"
)
TSCONFIG = '{"compilerOptions": {"paths": {"@/*": ["./src/*"]}}}\n'
CLIENT = "import axios from 'axios';\nexport const client = axios.create({ baseURL: '/api' });\n"
PAGE = (
    "import { client } from '@/lib/client';\n"
    "export default function Page() {\n"
    "  client.get('/products/');\n"
    "  return null;\n"
    "}\n"
)


LATIN1 = "// Caf\xe9 cr\xe8me\nexport const load = () => fetch('/api/orders/');\n".encode("latin-1")


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def base_tree(root: Path) -> Path:
    return write(root, {"next.config.js": CONFIG, "tsconfig.json": TSCONFIG, "src/lib/client.ts": CLIENT,
                        "src/app/page.tsx": PAGE})  # fmt: skip


def mapped(root: Path, document: dict[str, Any], limits: MapLimits | None = None) -> FrontendMap:
    return build_map(root, document, limits=limits)


def problems(result: FrontendMap) -> list[tuple[str, str]]:
    return [(p.kind, p.file) for p in result.problems]


def calls(result: FrontendMap, route: str) -> list[tuple[str | None, str | None, str]]:
    found = next(r for r in result.routes if r.route == route)
    return [(rc.call.method, rc.call.path, rc.call.status) for rc in found.calls]


def test_the_base_tree_maps(tmp_path: Path, demo_openapi: dict[str, Any]) -> None:
    result = mapped(base_tree(tmp_path), demo_openapi)
    assert calls(result, "/") == [("GET", "/api/products/", "matched")]
    assert result.problems == []


def test_a_syntax_error_is_reported_and_the_rest_mapped(tmp_path: Path, demo_openapi: dict[str, Any]) -> None:
    base_tree(tmp_path)
    write(tmp_path, {
        "src/app/broken/page.tsx": "export default function Broken( {\n  fetch('/api/cart/');\n  return <div>;\n}\n",
        "src/app/cart/page.tsx": "export default function Cart() {\n  fetch('/api/cart/');\n  return null;\n}\n",
    })  # fmt: skip
    result = mapped(tmp_path, demo_openapi)
    assert ("syntax", "src/app/broken/page.tsx") in problems(result)
    message = next(p.message for p in result.problems if p.kind == "syntax")
    assert message.startswith("syntax error on line 1")
    assert calls(result, "/cart") == [("GET", "/api/cart/", "matched")]
    assert calls(result, "/") == [("GET", "/api/products/", "matched")]
    assert [r.route for r in result.routes] == ["/", "/broken", "/cart"]


def test_without_tsconfig_alias_imports_are_named(tmp_path: Path, demo_openapi: dict[str, Any]) -> None:
    base_tree(tmp_path)
    (tmp_path / "tsconfig.json").unlink()
    result = mapped(tmp_path, demo_openapi)
    assert ("tsconfig", "") in problems(result)
    assert ("import", "src/app/page.tsx") in problems(result)
    (call,) = result.calls
    assert (call.method, call.status, call.location.line) == ("GET", "unresolved", 3)
    assert call.reason == ("the URL is client.get: imported from '@/lib/client', which cannot be resolved: an alias, "
                           "and there is no tsconfig.json to define it")  # fmt: skip
    assert call.notes == ("the literal path given is /products/",)


def test_an_invalid_tsconfig_is_named(tmp_path: Path, demo_openapi: dict[str, Any]) -> None:
    base_tree(tmp_path)
    (tmp_path / "tsconfig.json").write_text('{"compilerOptions": {"paths": ')
    result = mapped(tmp_path, demo_openapi)
    assert ("tsconfig", "tsconfig.json") in problems(result)
    assert result.calls[0].status == "unresolved"


def test_a_symlink_loop_is_not_followed(tmp_path: Path, demo_openapi: dict[str, Any]) -> None:
    base_tree(tmp_path)
    os.symlink("..", tmp_path / "src" / "app" / "loop")
    os.symlink("self", tmp_path / "src" / "self")  # a link to itself: ELOOP
    result = mapped(tmp_path, demo_openapi)
    assert ("symlink-loop", "src/app/loop") in problems(result)
    assert ("symlink-loop", "src/self") in problems(result)
    assert calls(result, "/") == [("GET", "/api/products/", "matched")]


def test_binary_and_huge_and_non_utf8_files(tmp_path: Path, demo_openapi: dict[str, Any]) -> None:
    base_tree(tmp_path)
    generated = "export const data = [\n" + "  'x'.repeat(1),\n" * (50 * 1024 * 1024 // 16) + "];\n"
    write(tmp_path, {
        "src/lib/logo.ts": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8,
        "src/lib/generated.ts": generated,
        "src/lib/latin1.ts": LATIN1,
        "src/app/extra/page.tsx": "import '@/lib/logo';\nimport { data } from '@/lib/generated';\n"
        "import { load } from '@/lib/latin1';\nexport default function Extra() { load(); return data; }\n",
    })  # fmt: skip
    assert (tmp_path / "src/lib/generated.ts").stat().st_size > 50 * 1024 * 1024
    result = mapped(tmp_path, demo_openapi)
    found = problems(result)
    assert ("binary", "src/lib/logo.ts") in found
    assert ("too-large", "src/lib/generated.ts") in found
    assert ("encoding", "src/lib/latin1.ts") in found
    assert calls(result, "/extra") == [("GET", "/api/orders/", "matched")]


def test_bounds_on_count_depth_and_time(tmp_path: Path, demo_openapi: dict[str, Any]) -> None:
    base_tree(tmp_path)
    write(tmp_path, {f"src/components/C{i}.tsx": "export const C = 1;\n" for i in range(10)})
    write(tmp_path, {"src/" + "/".join(f"d{i}" for i in range(12)) + "/x.ts": "export const x = 1;\n"})
    result = mapped(tmp_path, demo_openapi, MapLimits(max_files=8, max_depth=6))
    kinds = {kind for kind, _ in problems(result)}
    assert {"too-many-files", "too-deep"} <= kinds
    result = mapped(tmp_path, demo_openapi, MapLimits(seconds=0))
    assert "time" in {kind for kind, _ in problems(result)}


class _Server:
    def __init__(self, answers: dict[str, tuple[int, bytes]]) -> None:
        answers_ = answers

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = answers_.get(self.path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def document_server() -> Iterator[_Server]:
    good = DEMO_OPENAPI.read_bytes()
    server = _Server({"/good.json": (200, good), "/html": (200, b"<html>login</html>"), "/boom": (500, b"oops")})
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.mark.parametrize(
    ("location", "content", "message"),
    [
        ("missing.json", None, "cannot read: No such file or directory"),
        ("bad.json", b'{"openapi": "3.0.3", "paths": ', "invalid YAML: expected the node content"),
        ("list.json", b"[1, 2]", "not an OpenAPI document (the top level is not a mapping)"),
        ("noversion.json", b'{"paths": {}}', "no 'openapi' or 'swagger' version field"),
        ("nopaths.yaml", b"openapi: 3.0.3\ninfo: {title: x}\n", "no 'paths' mapping"),
        ("latin1.yaml", "openapi: 3.0.3\ntitle: caf\xe9\n".encode("latin-1"), "is not UTF-8"),
        ("{server}/html", None, "not an OpenAPI document"),
        ("{server}/boom", None, "answered 500"),
        ("{server}/nothing", None, "answered 404"),
        ("http://127.0.0.1:9/openapi.json", None, "cannot fetch"),
    ],
)
def test_unusable_documents_are_clear_errors(tmp_path: Path, document_server: _Server, location: str,
                                             content: bytes | None, message: str) -> None:  # fmt: skip
    if content is not None:
        (tmp_path / location).write_bytes(content)
    target = location.format(server=document_server.url) if location.startswith("{") else str(tmp_path / location)
    if location.startswith("http"):
        target = location
    with pytest.raises(OpenAPIError) as error:
        load_openapi(target, seconds=5)
    assert message in str(error.value)
    assert str(error.value).startswith(target)
    assert "\n" not in str(error.value)


def test_a_document_over_the_size_bound(tmp_path: Path) -> None:
    from synthetic.documents import DocumentLimits

    path = tmp_path / "big.json"
    path.write_text(json.dumps({"openapi": "3.0.3", "paths": {f"/p{i}/": {} for i in range(2000)}}))
    with pytest.raises(OpenAPIError, match="more than the limit of 1000"):
        load_openapi(str(path), limits=DocumentLimits(max_bytes=1000))


def test_the_document_fetched_by_url_maps_the_same(document_server: _Server, tmp_path: Path) -> None:
    document = load_openapi(f"{document_server.url}/good.json")
    assert document == json.loads(DEMO_OPENAPI.read_text())
