import assert from "node:assert/strict";
import { test } from "node:test";

import { traceIdOf } from "../dist/index.js";
import {
  forwardedHeaders,
  incomingRequestId,
  incomingSyntheticMarker,
  serverFetch,
  serverRequestId,
  withRequestId,
} from "../dist/next/server.js";
import { recordingFetch } from "./helpers.mjs";

const TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

for (const [headers, expected] of [
  [{ traceparent: TRACE, "X-Request-ID": "other-id-1234" }, "0af7651916cd43dd8448eb211c80319c"],
  [{ "X-Request-ID": "incoming-id-1234" }, "incoming-id-1234"],
  [{ "X-Correlation-ID": "correlation-5678" }, "correlation-5678"],
  [{ traceparent: "garbage", "X-Request-ID": "fallback-id-1234" }, "fallback-id-1234"],
  [{ "X-Request-ID": "bad id with spaces" }, null],
  [{ "X-Request-ID": "<script>" }, null],
  [{}, null],
]) {
  test(`incoming ${JSON.stringify(headers)} → ${expected}`, () => {
    assert.equal(incomingRequestId(new Headers(headers)), expected);
  });
}

test("the proxy keeps a valid incoming ID and replaces an invalid one", () => {
  const kept = withRequestId(new Headers({ "X-Request-ID": "incoming-id-1234", Cookie: "a=b" }));
  assert.equal(kept.requestId, "incoming-id-1234");
  assert.equal(kept.requestHeaders.get("X-Request-ID"), "incoming-id-1234");
  assert.equal(kept.requestHeaders.get("Cookie"), "a=b");
  const fresh = withRequestId(new Headers({ "X-Request-ID": "bad id" }));
  assert.match(fresh.requestId, /^[0-9a-f]{32}$/);
  assert.equal(traceIdOf(fresh.requestHeaders.get("traceparent")), fresh.requestId);
});

test("an ID that cannot be a trace-id goes without traceparent, so the server keeps it", () => {
  const { requestHeaders } = withRequestId(new Headers({ "X-Request-ID": "route-handler-0001", traceparent: TRACE.replace("00-", "ff-") }));
  assert.equal(requestHeaders.get("X-Request-ID"), "route-handler-0001");
  assert.equal(requestHeaders.get("traceparent"), null);
  assert.equal(incomingRequestId(requestHeaders), "route-handler-0001");
  assert.deepEqual(Object.keys(forwardedHeaders(requestHeaders)), ["X-Request-ID"]);
});

test("a route handler forwards the incoming ID, or starts one", () => {
  assert.equal(forwardedHeaders(new Headers({ "X-Request-ID": "incoming-id-1234" }))["X-Request-ID"], "incoming-id-1234");
  assert.match(forwardedHeaders(null)["X-Request-ID"], /^[0-9a-f]{32}$/);
});

// A probe's synthetic marker is signed for the request's ID: it goes on with that ID, never with a new one.
for (const [incoming, forwarded] of [
  [{ "X-Request-ID": "incoming-id-1234", "X-Synthetic": "v1:1764547200:abc123" }, "v1:1764547200:abc123"],
  [{ "X-Request-ID": "incoming-id-1234", "X-Synthetic": "1" }, "1"],
  [{ traceparent: TRACE, "X-Synthetic": " 1 " }, "1"],
  [{ "X-Request-ID": "bad id", "X-Synthetic": "1" }, undefined], // a new ID: the marker would not verify
  [{ "X-Synthetic": "1" }, undefined],
  [{ "X-Request-ID": "incoming-id-1234", "X-Synthetic": "x".repeat(201) }, undefined],
  [{ "X-Request-ID": "incoming-id-1234", "X-Synthetic": "v1 with spaces" }, undefined],
  [{ "X-Request-ID": "incoming-id-1234" }, undefined],
]) {
  test(`a route handler forwards the marker of ${JSON.stringify(incoming).slice(0, 80)}: ${forwarded}`, () => {
    assert.equal(forwardedHeaders(new Headers(incoming))["X-Synthetic"], forwarded);
  });
}

test("only a marker of a sane shape is read: printable, up to 200 characters", () => {
  for (const [value, read] of [["v1:1764547200:abc123", "v1:1764547200:abc123"], [" 1 ", "1"], ["", null],
    ["x".repeat(201), null], ["two words", null], ["tab\there", null]]) {
    assert.equal(incomingSyntheticMarker(new Headers({ "X-Synthetic": value })), read, JSON.stringify(value));
  }
  assert.equal(incomingSyntheticMarker(new Headers()), null);
  assert.equal(incomingSyntheticMarker(null), null);
});

test("serverFetch sends the given ID as X-Request-ID and traceparent's trace-id", async () => {
  const original = globalThis.fetch;
  const { fetch, calls } = recordingFetch();
  globalThis.fetch = fetch;
  try {
    await serverFetch("http://api.internal/api/products/", { requestId: "0af7651916cd43dd8448eb211c80319c", headers: { Accept: "application/json" } });
    await serverFetch("http://api.internal/api/products/");
  } finally {
    globalThis.fetch = original;
  }
  assert.equal(calls[0].headers.get("X-Request-ID"), "0af7651916cd43dd8448eb211c80319c");
  assert.equal(traceIdOf(calls[0].headers.get("traceparent")), "0af7651916cd43dd8448eb211c80319c");
  assert.equal(calls[0].headers.get("Accept"), "application/json");
  // Outside a Next.js request (no next/headers here) a fresh ID is started.
  assert.match(calls[1].headers.get("X-Request-ID"), /^[0-9a-f]{32}$/);
});

test("outside a request serverRequestId starts a new ID", async () => {
  assert.match(await serverRequestId(), /^[0-9a-f]{32}$/);
});
