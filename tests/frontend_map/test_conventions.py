"""Table-driven: each Next.js file convention and each call style, one small tree per row, the expected routes or
calls written out. The storefront fixture shows them together; these rows pin each one alone, siblings included
(every call style's method forms, every intercepting prefix, every config file form)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from exporter.frontend_map import build_map

PAGE = "export default function Page() { return null; }\n"
REWRITE = (
    "module.exports = { async rewrites() { return [{ source: '/api/:path*', "
    "destination: 'http://127.0.0.1:8000/api/:path*/' }]; } };\n"
)


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


ROUTES: list[tuple[str, dict[str, str], list[tuple[str, str, str | None]]]] = [
    # (case, files, [(route, file, intercepts)])
    ("root app dir wins over src/app", {"app/page.tsx": PAGE, "src/app/other/page.tsx": PAGE},
     [("/", "app/page.tsx", None)]),
    ("groups leave the URL", {"app/(a)/(b)/x/page.tsx": PAGE}, [("/x", "app/(a)/(b)/x/page.tsx", None)]),
    ("dynamic and catch-alls", {"app/[id]/page.tsx": PAGE, "app/d/[...s]/page.tsx": PAGE,
                                "app/o/[[...s]]/page.jsx": PAGE},
     [("/[id]", "app/[id]/page.tsx", None), ("/d/[...s]", "app/d/[...s]/page.tsx", None),
      ("/o/[[...s]]", "app/o/[[...s]]/page.jsx", None)]),
    ("private folders and their escape", {"app/_lib/page.tsx": PAGE, "app/_lib/x/page.tsx": PAGE,
                                          "app/%5Fdocs/page.tsx": PAGE},
     [("/_docs", "app/%5Fdocs/page.tsx", None)]),
    ("intercepting one level, two levels, from the root",
     {"app/feed/(.)photo/[id]/page.tsx": PAGE, "app/a/b/(..)photo/page.tsx": PAGE,
      "app/a/b/c/(..)(..)x/page.tsx": PAGE, "app/deep/er/(...)login/page.tsx": PAGE},
     [("/a/photo", "app/a/b/(..)photo/page.tsx", "/a/b"), ("/a/x", "app/a/b/c/(..)(..)x/page.tsx", "/a/b/c"),
      ("/feed/photo/[id]", "app/feed/(.)photo/[id]/page.tsx", "/feed"),
      ("/login", "app/deep/er/(...)login/page.tsx", "/deep/er")]),
    ("intercepting counts route segments, not folders", {"app/(shop)/feed/(group)/(..)photo/page.tsx": PAGE},
     [("/photo", "app/(shop)/feed/(group)/(..)photo/page.tsx", "/feed")]),
    ("pageExtensions from next.config", {"next.config.js": "module.exports = { pageExtensions: ['page.tsx'] };\n",
                                         "pages/a.page.tsx": PAGE, "pages/b.tsx": PAGE},
     [("/a", "pages/a.page.tsx", None)]),
    ("pages router: index, api, special files", {"pages/index.tsx": PAGE, "pages/blog/index.tsx": PAGE,
                                                 "pages/api/x.ts": PAGE, "pages/_app.tsx": PAGE,
                                                 "pages/_document.tsx": PAGE, "pages/_error.tsx": PAGE,
                                                 "pages/404.tsx": PAGE},
     [("/", "pages/index.tsx", None), ("/404", "pages/404.tsx", None), ("/api/x", "pages/api/x.ts", None),
      ("/blog", "pages/blog/index.tsx", None)]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "files", "expected"), ROUTES, ids=[row[0] for row in ROUTES])
def test_route_conventions(tmp_path: Path, case: str, files: dict[str, str], expected: list[Any]) -> None:
    result = build_map(tree(tmp_path, files), None)
    assert [(r.route, r.file, r.intercepts) for r in result.routes] == expected


def test_a_route_handler_exports_its_methods_and_conflicts_are_named(tmp_path: Path) -> None:
    result = build_map(tree(tmp_path, {
        "app/api/x/route.ts": "export async function GET() {}\nexport const POST = async () => {};\n",
        "app/y/page.tsx": PAGE, "app/y/route.ts": "export function GET() {}\n",
        "app/(a)/z/page.tsx": PAGE, "app/(b)/z/page.tsx": PAGE,
    }), None)  # fmt: skip
    handler = next(r for r in result.routes if r.route == "/api/x")
    assert (handler.kind, handler.methods) == ("route-handler", ("GET", "POST"))
    found = [(p.kind, p.file) for p in result.problems if p.kind != "tsconfig"]
    assert found == [("route", "app/(b)/z/page.tsx"), ("route", "app/y/page.tsx")]


NO_CALL = "no call the map follows gives it an argument, so it is known only at run time"
NO_INSTANCE_CALL = (
    "no call the map follows goes through this axios instance (baseURL `/api`), so its requests are "
    "known only at run time"
)
CALLS: list[tuple[str, dict[str, str], list[tuple[Any, ...]]]] = [
    # (case, files besides app/page.tsx importing ./c, [(method, path, status or reason, line)])
    ("fetch: a template with two parameters and an init method",
     {"c.ts": "export const f = (o: number, l: number) => fetch(`/api/orders/${o}/lines/${l}/`, {method: 'PUT'});\n"},
     [("PUT", "/api/orders/{o}/lines/{l}/", "unmatched", 1)]),
    ("axios verbs, config forms and require()",
     {"c.ts": "const axios = require('axios');\naxios.patch('/api/cart/items/1/', {});\n"
              "axios({ url: '/api/cart/', method: 'get' });\n"
              "axios.request({ url: '/api/checkout/', method: 'POST' });\n"
              "axios('/api/orders/', { method: 'delete' });\n"},
     [("PATCH", "/api/cart/items/1/", "matched", 2), ("GET", "/api/cart/", "matched", 3),
      ("POST", "/api/checkout/", "matched", 4), ("DELETE", "/api/orders/", "method", 5)]),
    ("a class client holding an axios instance",
     {"c.ts": "import axios from 'axios';\nclass Api {\n  http = axios.create({ baseURL: '/api' });\n"
              "  list<T>(path: string) { return this.http.get<T>(path); }\n}\nexport const api = new Api();\n"
              "api.list<string[]>('/products/');\n"},
     [("GET", "/api/products/", "matched", 7)]),
    ("a factory closing over its base URL",
     {"c.ts": "function makeClient(base: string) {\n  return { get: (path: string) => fetch(base + path) };\n}\n"
              "makeClient('http://127.0.0.1:8000/api').get('/auth/me/');\n"},
     [("GET", "/api/auth/me/", "matched", 4)]),
    ("new URL with a base, casts and non-null assertions read through",
     {"c.ts": "const base = process.env.NEXT_PUBLIC_API!;\nfetch(new URL('/api/products/' as string, base));\n"
              "fetch(('/api/cart/' satisfies string) as unknown as string);\n"},
     [("GET", "/api/products/", "matched", 2), ("GET", "/api/cart/", "matched", 3)]),
    ("SWR without a fetcher, conditional key; TanStack's default query function",
     {"c.ts": "import useSWR from 'swr';\nimport { useQuery } from '@tanstack/react-query';\n"
              "export function useX(id?: string) {\n  useSWR(id ? `/api/orders/${id}/` : null);\n"
              "  useQuery({ queryKey: ['/api/cart/'] });\n}\n"},
     [("GET", "/api/orders/{id}/", "matched", 4), ("GET", "/api/cart/", "matched", 5)]),
    ("a mutation whose URL comes from mutate()'s variables",
     {"c.ts": "import { useMutation } from '@tanstack/react-query';\n"
              "export const useSend = () => useMutation({ mutationFn: (v: { url: string }) => fetch(v.url) });\n"},
     [("GET", None, "the URL is `variables.url` (the variables passed to mutate(), known only at run time)", 2)]),
    ("unresolved: method from a variable, a relative URL, a URL from a call",
     {"c.ts": "export function go(m: string) {}\nlet verb = 'GET';\nverb = 'POST';\n"
              "fetch('/api/cart/', { method: verb });\nfetch('api/cart/');\nfetch(location.href);\n"},
     [(None, "/api/cart/", "the method is `verb` (`verb` is assigned again in app/c.ts: its value is known only at "
       "run time)", 4),
      ("GET", None, "`api/cart/` is relative to the page's own URL (no leading slash); it cannot be known "
       "statically", 5),
      ("GET", None, "the URL is `location.href` (`location` is a global or not declared here)", 6)]),
    # Nothing ends without a call or an unresolved entry: a wrapper no call site fills in, an axios instance no
    # call goes through, a hook whose request the map cannot read are each named, with where they went instead.
    ("a wrapper only exported",
     {"c.ts": "export const get = (path: string) => fetch('/api' + path);\n"},
     [("GET", None, "the URL depends on `path`, a parameter of `get`, which is only exported: " + NO_CALL, 1)]),
    ("a route handler and a layout whose URL comes from what Next.js passes them",
     {"api/[...path]/route.ts": "export async function GET(request: Request) {\n"
                                "  return fetch(`http://127.0.0.1:8000${new URL(request.url).pathname}`);\n}\n",
      "layout.tsx": "export default function Shell({ params }: { params: { next: string } }) {\n"
                    "  fetch(params.next);\n  return null;\n}\n", "c.ts": "export {};\n"},
     [("GET", None, "the URL depends on `request.url.pathname`, a parameter of the route handler `GET`, which "
       "Next.js calls with the request: " + NO_CALL, 2),
      ("GET", None, "the URL depends on `params.next`, a parameter of the layout component `Shell`, which Next.js "
       "calls with `params`: " + NO_CALL, 2)]),
    ("a wrapper handed to package code in a JSX prop's object",
     {"c.tsx": "import { SWRConfig } from 'swr';\nconst fetcher = (url: string) => fetch(url).then((r) => r.json());\n"
               "export const P = () => <SWRConfig value={{ fetcher }} />;\n"},
     [("GET", None, "the URL depends on `url`, a parameter of `fetcher`, put in an object (line 3): " + NO_CALL, 2)]),
    ("a wrapper passed as a callback",
     {"c.ts": "const load = (u: string) => fetch(u);\nexport const all = (us: string[]) => us.map(load);\n"},
     [("GET", None, "the URL depends on `u`, a parameter of `load`, passed to `us.map(…)` (line 2): " + NO_CALL, 1)]),
    ("an inline callback to package code, its parameter's properties named together",
     {"c.ts": "import axios from 'axios';\n"
              "axios.interceptors.response.use(undefined, (error) => axios(error.config));\n"},
     [(None, None, "the URL depends on `error.config`, a parameter of an inline function passed to "
       "`axios.interceptors.response.use(…)` (line 2): " + NO_CALL, 2)]),
    ("an inline handler in a JSX prop",
     {"c.tsx": "export const B = () => <button onClick={(e) => fetch(e.currentTarget.value)} />;\n"},
     [("GET", None, "the URL depends on `e.currentTarget.value`, a parameter of an inline function in the "
       "`onClick` prop of <button> (line 1): " + NO_CALL, 1)]),
    ("a class method no instance calls",
     {"c.ts": "import axios from 'axios';\nexport class Api {\n  http = axios.create({ baseURL: '/api' });\n"
              "  get(p: string) { return this.http.get(p); }\n}\n"},
     [("GET", None, "the URL depends on `p`, a parameter of the method `get` of class `Api`: " + NO_CALL, 4)]),
    ("useCallback is the function it is given; one never called is named",
     {"c.tsx": "import { useCallback } from 'react';\nexport function C() {\n"
               "  const load = useCallback((p: string) => fetch(p), []);\n  load('/api/cart/');\n"
               "  const save = useCallback((p: string) => fetch(p, { method: 'POST' }), []);\n"
               "  return <form onSubmit={() => save} />;\n}\n"},
     [("GET", "/api/cart/", "matched", 4),
      ("POST", None, "the URL depends on `p`, a parameter of `save`, used at line 6: " + NO_CALL, 5)]),
    ("axios instances no call goes through: given to a generated client, only exported",
     {"c.ts": "import axios from 'axios';\nimport { DefaultApi } from '@acme/api-client';\n"
              "const http = axios.create({ baseURL: '/api' });\n"
              "export const api = new DefaultApi(undefined, '', http);\n"
              "export const bare = axios.create({ baseURL: '/api' });\n"},
     [(None, None, "an axios instance `http`, passed to `new DefaultApi(…)` (line 4): " + NO_INSTANCE_CALL, 3),
      (None, None, "an axios instance `bare`, which is only exported: " + NO_INSTANCE_CALL, 5)]),
    ("an axios method chosen at run time",
     {"c.ts": "import axios from 'axios';\nconst api = axios.create({ baseURL: '/api' });\n"
              "export const send = (verb: 'get' | 'post') => api[verb]('/cart/');\n"},
     [(None, "/api/cart/", "the axios method of `api[verb](…)` is chosen at run time", 3)]),
    ("an awaited call with type arguments (tree-sitter reads the await as the callee)",
     {"c.ts": "import axios from 'axios';\nconst api = axios.create({ baseURL: '/api' });\n"
              "export async function cart() {\n  const { data } = await api.get<string[]>('/cart/');\n"
              "  return data;\n}\n"},
     [("GET", "/api/cart/", "matched", 4)]),
    ("SWR: infinite keys, fetchers the map cannot read",
     {"c.ts": "import useSWR from 'swr';\nimport useSWRInfinite from 'swr/infinite';\nimport ky from 'ky';\n"
              "const fetcher = (u: string) => fetch(u).then((r) => r.json());\nexport function useX() {\n"
              "  useSWRInfinite((i: number) => `/api/orders/?page=${i}`, fetcher);\n  useSWR('/api/cart/', ky.get);\n"
              "  useSWR('/api/products/', (u: string) => u.length);\n}\n"},
     [("GET", "/api/orders/", "matched", 6),
      (None, "/api/cart/", "the fetcher `ky.get` is `get` of the package ky, which the map cannot read, so how the "
       "key is requested is unknown", 7),
      (None, "/api/products/", "the fetcher `(u: string) => u.length` makes no fetch or axios call the map reads, "
       "so how the key is requested is unknown", 8)]),
    ("TanStack Query: no queryFn with a key that is no path, mutation functions the map cannot read",
     {"c.ts": "import { useQuery, useMutation } from '@tanstack/react-query';\nimport { send } from 'sender';\n"
              "export function useX() {\n  useQuery({ queryKey: ['products'] });\n"
              "  useMutation({ mutationFn: send });\n"
              "  useMutation({ mutationKey: ['cart'] });\n  useQuery({ queryKey: ['x'], queryFn: () => 1 });\n}\n"},
     [("GET", None, "the URL is `useQuery(…)` (it has no queryFn and queryKey[0] is not a path: the QueryClient's "
       "default query function makes the request)", 4),
      (None, None, "the URL is `useMutation(…)` (its mutationFn is `send` of the package sender, which the map "
       "cannot read)", 5),
      (None, None, "the URL is `useMutation(…)` (it has no mutationFn: the QueryClient's mutation defaults make "
       "the request)", 6),
      ("GET", None, "the URL is `useQuery(…)` (its queryFn makes no fetch or axios call the map reads)", 7)]),
    ("a URL appended to: a query string keeps its path, anything else makes it run-time",
     {"c.ts": "export async function go(p?: string) {\n  let url = '/api/products/';\n  if (p) url += `?page=${p}`;\n"
              "  fetch(url);\n  let other = '/api/';\n  other += p;\n  fetch(other);\n}\n"},
     [("GET", "/api/products/", "matched", 4),
      ("GET", None, "the URL is `other` (`other` is appended to at app/c.ts:6 with more than a query string: its "
       "value is known only at run time)", 7)]),
    ("a query string added by a ternary leaves a path parameter whole",
     {"c.ts": "export async function GET(_: Request, { params }: { params: { id: string } }) {\n"
              "  const qs = new URLSearchParams().toString();\n"
              "  return fetch(`/api/orders/${params.id}/${qs ? `?${qs}` : ''}`);\n}\n"},
     [("GET", "/api/orders/{id}/", "matched", 3)]),
    ("a component whose request depends on its props is called at each element",
     {"c.tsx": "function Viewer({ url }: { url: string }) { fetch(url); return null; }\n"
               "export const Card = ({ id }: { id: string }) => <Viewer url={`/api/orders/${id}/`} />;\n"},
     [("GET", "/api/orders/{id}/", "matched", 2)]),
    ("dynamic imports are followed",
     {"c.ts": "import dynamic from 'next/dynamic';\nexport const Heavy = dynamic(() => import('./heavy'));\n",
      "heavy.tsx": "export default function Heavy() { fetch('/api/orders/'); return null; }\n"},
     [("GET", "/api/orders/", "matched", 1)]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "files", "expected"), CALLS, ids=[row[0] for row in CALLS])
def test_call_styles(tmp_path: Path, demo_openapi: dict[str, Any], case: str, files: dict[str, str],
                     expected: list[tuple[Any, ...]]) -> None:  # fmt: skip
    # the namespace used as a value: every declaration of c.ts counts for the page
    page = "import * as c from './c';\nexport default function Page() { return c; }\n"
    result = build_map(tree(tmp_path, {"next.config.js": REWRITE, "app/page.tsx": page, **{f"app/{k}": v
                                       for k, v in files.items()}}), demo_openapi)  # fmt: skip
    got = [(c.method, c.path, c.status if c.status in ("matched", "unmatched", "method") else c.reason,
            c.location.line) for c in result.calls]  # fmt: skip
    assert got == expected
    assert [p for p in result.problems if p.kind != "tsconfig"] == []


CONFIGS: list[tuple[str, str, str, str, list[tuple[str, str | None, str]]]] = [
    # (case, config file, its text, the call, [(method, backend_path, status)])
    ("next.config.ts with basePath and a typed const", "next.config.ts",
     "import type { NextConfig } from 'next';\nconst nextConfig: NextConfig = { basePath: '/shop', async rewrites() "
     "{ return { beforeFiles: [{ source: '/shop/api/:path*', destination: 'http://127.0.0.1:8000/api/:path*/', "
     "basePath: false }] }; } };\nexport default nextConfig;\n", "fetch('/shop/api/cart/')",
     [("GET", "/api/cart/", "matched")]),
    ("next.config.mjs function form with fallback rewrites and trailingSlash", "next.config.mjs",
     "export default (phase) => ({ trailingSlash: true, rewrites: async () => ({ fallback: [{ source: '/:path*/', "
     "destination: `${process.env.API ?? 'http://127.0.0.1:8000'}/:path*/` }] }) });\n", "fetch('/api/cart')",
     [("GET", "/api/cart/", "matched")]),
    ("no rewrite: the path as it is, with a note", "next.config.js", "module.exports = {};\n",
     "fetch('/api/cart/')", [("GET", "/api/cart/", "matched")]),
    ("the trailing slash Next.js takes off and the destination does not put back", "next.config.js",
     "module.exports = { rewrites: async () => [{ source: '/api/:path*', destination: "
     "'http://127.0.0.1:8000/api/:path*' }] };\n", "fetch('/api/cart/')", [("GET", "/api/cart", "unmatched")]),
    ("a plugin wrapper is read through", "next.config.js",
     "const withX = require('x');\nmodule.exports = withX({ rewrites: async () => [{ source: '/b/:p*', "
     "destination: 'http://127.0.0.1:8000/api/:p*/' }] });\n", "fetch('/b/cart')", [("GET", "/api/cart/", "matched")]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "name", "config", "call", "expected"), CONFIGS, ids=[row[0] for row in CONFIGS])
def test_config_forms(tmp_path: Path, demo_openapi: dict[str, Any], case: str, name: str, config: str, call: str,
                      expected: list[Any]) -> None:  # fmt: skip
    page = f"export default function Page() {{ {call}; return null; }}\n"
    result = build_map(tree(tmp_path, {name: config, "app/page.tsx": page}), demo_openapi)
    assert [(c.method, c.backend_path, c.status) for c in result.calls] == expected


def test_the_trailing_slash_miss_is_explained(tmp_path: Path, demo_openapi: dict[str, Any]) -> None:
    config = ("module.exports = { rewrites: async () => [{ source: '/api/:path*', destination: "
              "'http://127.0.0.1:8000/api/:path*' }] };\n")  # fmt: skip
    page = "export default function Page() { fetch('/api/cart/'); return null; }\n"
    (call,) = build_map(tree(tmp_path, {"next.config.js": config, "app/page.tsx": page}), demo_openapi).calls
    assert call.reason == ("no backend operation at /api/cart; /api/cart/ differs only in its trailing slash "
                           "(Django answers a redirect or 404)")  # fmt: skip
    assert call.notes[0] == "Next.js redirects /api/cart/ to /api/cart first (trailingSlash: false)"


def test_jsconfig_paths_and_env_values(tmp_path: Path, demo_openapi: dict[str, Any]) -> None:
    result = build_map(tree(tmp_path, {
        "jsconfig.json": '{"compilerOptions": {"baseUrl": ".", "paths": {"~/*": ["lib/*"]}}}',
        "lib/api.js": "export const BASE = process.env.NEXT_PUBLIC_API;\n",
        "app/page.jsx": "import { BASE } from '~/api';\nexport default function P() { fetch(`${BASE}/orders/`); }\n",
    }), demo_openapi, env={"NEXT_PUBLIC_API": "http://127.0.0.1:8000/api"})  # fmt: skip
    (call,) = result.calls
    assert (call.url, call.backend_path, call.status) == ("http://127.0.0.1:8000/api/orders/", "/api/orders/",
                                                          "matched")  # fmt: skip
    assert call.notes == ("base URL from process.env.NEXT_PUBLIC_API",)


LIB = (
    "export const client = {\n"
    "  cart: () => fetch('/api/cart/'),\n"
    "  orders: () => fetch('/api/orders/'),\n"
    "};\n"
    "export function checkout() { return fetch('/api/checkout/', { method: 'POST' }); }\n"
    "export default function Products() { fetch('/api/products/'); return null; }\n"
    "fetch('/api/auth/csrf/');\n"
    "export const get = (path: string) => fetch(path);\n"
)
USES: list[tuple[str, str, list[str]]] = [
    # (case, the page's import and use, the paths the page reaches): lib.ts's module-level call always runs
    ("one property of an object", "import { client } from './lib';\nclient.cart();", ["/api/auth/csrf/", "/api/cart/"]),
    ("the whole object passed on", "import { client } from './lib';\nconsole.log(client);",
     ["/api/auth/csrf/", "/api/cart/", "/api/orders/"]),
    ("a function", "import { checkout } from './lib';\ncheckout();", ["/api/auth/csrf/", "/api/checkout/"]),
    ("the default export as JSX", "import Products from './lib';\nconst x = <Products />;",
     ["/api/auth/csrf/", "/api/products/"]),
    ("a namespace member", "import * as lib from './lib';\nlib.checkout();", ["/api/auth/csrf/", "/api/checkout/"]),
    ("a side-effect import", "import './lib';", ["/api/auth/csrf/"]),
    ("through a barrel re-exporting by name", "import { checkout } from './barrel';\ncheckout();",
     ["/api/auth/csrf/", "/api/checkout/"]),
    ("a wrapper used but never called: its unresolved entry (no path) is the using route's only",
     "import { get } from './lib';\nconsole.log(get);", ["", "/api/auth/csrf/"]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "use", "paths"), USES, ids=[row[0] for row in USES])
def test_a_route_reaches_what_it_uses(tmp_path: Path, case: str, use: str, paths: list[str]) -> None:
    files = {"app/lib.ts": LIB, "app/barrel.ts": "export * from './lib';\n",
             "app/page.tsx": f"{use}\nexport default function Page() {{ return null; }}\n"}  # fmt: skip
    (route,) = build_map(tree(tmp_path, files), None).routes
    assert sorted(rc.call.path or "" for rc in route.calls) == paths


def test_an_import_chosen_at_run_time_is_named(tmp_path: Path) -> None:
    page = ("export default async function Page({ params }: { params: { kind: string } }) {\n"
            "  const mod = await import(`./kinds/${params.kind}`);\n  return mod.default;\n}\n")  # fmt: skip
    result = build_map(tree(tmp_path, {"app/page.tsx": page}), None)
    assert [(p.kind, p.file, p.message) for p in result.problems if p.kind != "tsconfig"] == [
        ("import", "app/page.tsx", "line 2: import(`./kinds/${params.kind}`) loads a module chosen at run time: the "
         "modules it loads and their calls are unknown")]  # fmt: skip


def test_a_chain_of_calls_is_evaluated_once_per_link(tmp_path: Path) -> None:
    # each link's object was evaluated twice (for the string method, then for the callee): 2^n for n links
    chain = "".join(f".replace('{i}', '')" for i in range(20))
    lib = f"function strip(s: string) {{ return s{chain}; }}\nexport const label = (s: string) => strip(s);\n"
    page = ("import { label } from './lib';\nexport default function Page() {\n"
            "  fetch('/api/cart/?q=' + label(window.name)); return null;\n}\n")  # fmt: skip
    started = time.monotonic()
    result = build_map(tree(tmp_path, {"app/lib.ts": lib, "app/page.tsx": page}), None)
    assert time.monotonic() - started < 3
    assert [c.path for c in result.calls] == ["/api/cart/"]
