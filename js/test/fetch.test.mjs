import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import {
  RequestError,
  clearFailedCall,
  correlatedFetch,
  ensureOk,
  recentFailedCall,
  requestIdOf,
  traceIdOf,
} from "../dist/index.js";
import { atLocation, recordingFetch } from "./helpers.mjs";

let leave;
beforeEach(() => {
  leave = atLocation("https://shop.example/products/42");
  clearFailedCall();
});
afterEach(() => leave());

const CASES = [
  // [what, input, options, correlated]
  ["a relative URL (the page's origin)", "/api/products/", {}, true],
  ["an absolute URL on the page's origin", "https://shop.example/api/cart/", {}, true],
  ["a listed API origin", "https://api.shop.example/api/cart/", { origins: ["https://api.shop.example/"] }, true],
  ["another origin", "https://cdn.example/x.json", {}, false],
  ["a URL object", new URL("https://shop.example/api/orders/"), {}, true],
  ["a Request", new Request("https://shop.example/api/orders/", { method: "POST" }), {}, true],
  ["a custom rule", "https://cdn.example/x.json", { shouldCorrelate: (url) => url.host === "cdn.example" }, true],
  ["a rule that throws", "/api/", { shouldCorrelate: () => { throw new Error("bug"); } }, false],
];

for (const [what, input, options, correlated] of CASES) {
  test(`fetch of ${what}: ${correlated ? "gets" : "does not get"} the correlation headers`, async () => {
    const { fetch, calls } = recordingFetch();
    await correlatedFetch({ ...options, fetch })(input);
    const sent = calls[0].headers;
    if (correlated) {
      assert.match(sent.get("X-Request-ID"), /^[0-9a-f]{32}$/);
      assert.equal(traceIdOf(sent.get("traceparent")), sent.get("X-Request-ID"));
    } else {
      assert.equal(sent.get("X-Request-ID"), null);
      assert.equal(sent.get("traceparent"), null);
    }
  });
}

test("every call gets its own ID; the app's own headers stay", async () => {
  const { fetch, calls } = recordingFetch();
  const api = correlatedFetch({ fetch });
  await api("/api/cart/", { method: "POST", headers: { Authorization: "Bearer t", "Content-Type": "application/json" } });
  await api("/api/cart/");
  assert.equal(calls[0].headers.get("Authorization"), "Bearer t");
  assert.equal(calls[0].headers.get("Content-Type"), "application/json");
  assert.equal(calls[0].init.method, "POST");
  assert.notEqual(calls[0].headers.get("X-Request-ID"), calls[1].headers.get("X-Request-ID"));
});

test("the server's X-Request-ID of a failed call is remembered for the next error", async () => {
  const { fetch } = recordingFetch(() => new Response("boom", { status: 500, headers: { "X-Request-ID": "server-side-id-1" } }));
  const response = await correlatedFetch({ fetch })("/api/checkout/?token=secret", { method: "POST" });
  assert.equal(response.status, 500);
  const failed = recentFailedCall();
  assert.equal(failed.requestId, "server-side-id-1");
  assert.equal(failed.method, "POST");
  assert.equal(failed.url, "https://shop.example/api/checkout/"); // no query string: it may hold tokens
  assert.equal(recentFailedCall(Date.now() + 60_000), null); // only for a few seconds
});

test("a call that gets no answer rejects with the ID it sent", async () => {
  const { fetch, calls } = recordingFetch(() => {
    throw new TypeError("Failed to fetch");
  });
  const error = await correlatedFetch({ fetch })("/api/products/").catch((e) => e);
  assert.ok(error instanceof TypeError);
  assert.equal(requestIdOf(error), calls[0].headers.get("X-Request-ID"));
  assert.equal(recentFailedCall().status, 0);
});

test("ensureOk turns an HTTP error into a RequestError with the server's ID", () => {
  const answer = new Response("no", { status: 404, statusText: "Not Found", headers: { "X-Request-ID": "abc123def456" } });
  assert.throws(() => ensureOk(answer), (error) => {
    assert.ok(error instanceof RequestError);
    assert.equal(error.requestId, "abc123def456");
    assert.equal(error.status, 404);
    assert.equal(requestIdOf(error), "abc123def456");
    return true;
  });
  const ok = new Response("{}", { status: 200 });
  assert.equal(ensureOk(ok), ok);
});

test("the global fetch is looked up at call time (a test or polyfill may replace it)", async () => {
  const original = globalThis.fetch;
  const { fetch, calls } = recordingFetch();
  const api = correlatedFetch();
  globalThis.fetch = fetch;
  try {
    await api("/api/products/");
  } finally {
    globalThis.fetch = original;
  }
  assert.equal(calls.length, 1);
});
