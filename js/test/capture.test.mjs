import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import {
  LogClient,
  RequestError,
  captureErrors,
  captureInteractions,
  clearFailedCall,
  correlatedFetch,
  navigationTiming,
  resetRoute,
  setRouteTemplate,
  vitalEvent,
} from "../dist/index.js";
import { atLocation, recordingFetch } from "./helpers.mjs";

let events;
let log;
let leave;
beforeEach(() => {
  events = [];
  log = new LogClient({ endpoint: "/client-logs", target: null, document: null, sendBeacon: null, fetch: null });
  log.log = (event) => events.push(event);
  resetRoute();
  clearFailedCall();
  leave = atLocation("https://shop.example/checkout");
});
afterEach(() => leave());

function errorEvent(error) {
  const event = new Event("error");
  event.error = error;
  event.message = error?.message;
  return event;
}

test("an uncaught RequestError is reported with its request ID and the route template", () => {
  const page = new EventTarget();
  captureErrors(log, page);
  setRouteTemplate("/checkout");
  page.dispatchEvent(errorEvent(new RequestError("500 from /api/checkout/", "server-id-0001", 500, "/api/checkout/")));
  assert.equal(events.length, 1);
  assert.equal(events[0].level, "error");
  assert.equal(events[0].kind, "error");
  assert.equal(events[0].correlation_id, "server-id-0001");
  assert.equal(events[0].route, "/checkout");
  assert.equal(events[0].error_class, "RequestError");
  assert.match(events[0].stack, /RequestError/);
});

test("an error right after a failed call gets that call's ID", async () => {
  const page = new EventTarget();
  captureErrors(log, page);
  const { fetch } = recordingFetch(() => new Response("", { status: 502, headers: { "X-Request-ID": "failed-call-1234" } }));
  await correlatedFetch({ fetch })("/api/cart/");
  page.dispatchEvent(errorEvent(new TypeError("cart.items is undefined")));
  assert.equal(events[0].correlation_id, "failed-call-1234");
  assert.equal(events[0].message, "TypeError: cart.items is undefined");
});

test("unhandled rejections are reported, strings and objects too", () => {
  const page = new EventTarget();
  const stop = captureErrors(log, page);
  for (const reason of [new Error("lost"), "plain text", { code: 7 }]) {
    const event = new Event("unhandledrejection");
    event.reason = reason;
    page.dispatchEvent(event);
  }
  assert.deepEqual(events.map((e) => e.message), [
    "unhandled rejection: Error: lost",
    "unhandled rejection: plain text",
    'unhandled rejection: {"code":7}',
  ]);
  stop();
  page.dispatchEvent(errorEvent(new Error("after stop")));
  assert.equal(events.length, 3);
});

test("a failing log client never breaks the page's error handling", () => {
  const page = new EventTarget();
  log.log = () => {
    throw new Error("broken");
  };
  captureErrors(log, page);
  assert.doesNotThrow(() => page.dispatchEvent(errorEvent(new Error("x"))));
});

test("interactions: only clicks inside elements marked data-track are reported", () => {
  const root = new EventTarget();
  captureInteractions(log, root);
  setRouteTemplate("/products/[id]");
  const marked = { getAttribute: (name) => (name === "data-track" ? "add-to-cart" : null) };
  const inside = { closest: (selector) => (selector === "[data-track]" ? marked : null) };
  const outside = { closest: () => null };
  for (const target of [inside, outside]) {
    const click = new Event("click");
    Object.defineProperty(click, "target", { value: target });
    root.dispatchEvent(click);
  }
  assert.deepEqual(events, [{ level: "info", kind: "interaction", message: "click add-to-cart", element: "add-to-cart", route: "/products/[id]" }]);
});

test("navigation timing in whole milliseconds by phase", () => {
  const entry = {
    startTime: 0, domainLookupStart: 1, domainLookupEnd: 5.4, connectStart: 5.4, connectEnd: 12,
    responseStart: 80.6, responseEnd: 120, domInteractive: 300, domContentLoadedEventEnd: 350, loadEventEnd: 0, transferSize: 20480,
  };
  assert.deepEqual(navigationTiming(entry), {
    dns: 4, connect: 7, ttfb: 81, response: 39, dom_interactive: 300, dom_content_loaded: 350, transfer_kb: 20,
  });
});

for (const [metric, value] of [
  [{ name: "LCP", value: 1234.56, rating: "good" }, 1235],
  [{ name: "CLS", value: 0.123456, rating: "needs-improvement" }, 0.1235],
  [{ name: "INP", value: 88, rating: "good" }, 88],
]) {
  test(`vital event for ${metric.name}`, () => {
    const event = vitalEvent(metric, "/products/[id]");
    assert.deepEqual(event, {
      level: "info", kind: "vital", message: `${metric.name} ${value}`, route: "/products/[id]",
      vital: { name: metric.name, value, rating: metric.rating },
    });
  });
}
