import assert from "node:assert/strict";
import { test } from "node:test";

import { LogClient, SERVER_MAX_BYTES, SERVER_MAX_EVENTS, sanitize } from "../dist/index.js";
import { FakeDocument, manualTimers, recordingBeacon, recordingFetch } from "./helpers.mjs";

const ENDPOINT = "https://api.shop.example/client-logs";

function client(options = {}) {
  const page = new EventTarget();
  const document = new FakeDocument();
  const timers = manualTimers();
  const { beacon, sent } = recordingBeacon(options.beaconResult ?? true);
  const { fetch, calls } = recordingFetch(options.answer);
  let online = options.online ?? true;
  const log = new LogClient({
    endpoint: ENDPOINT,
    target: page,
    document,
    sendBeacon: options.noBeacon ? null : beacon,
    fetch,
    isOnline: () => online,
    setTimer: timers.setTimer,
    clearTimer: timers.clearTimer,
    ...options.client,
  });
  return { log, page, document, timers, sent, calls, goOnline: () => { online = true; page.dispatchEvent(new Event("online")); } };
}

const info = (i) => ({ level: "info", message: `event ${i}` });

test("events wait for the timer, then go out as one batch", () => {
  const { log, sent, timers } = client();
  log.log(info(1));
  log.log(info(2));
  assert.equal(sent.length, 0);
  assert.equal(timers.count, 1);
  timers.fire();
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0].batch.events.map((e) => e.message), ["event 1", "event 2"]);
  assert.equal(sent[0].url, ENDPOINT);
  assert.match(sent[0].batch.events[0].timestamp, /^\d{4}-\d\d-\d\dT/);
});

test("a full batch goes out at once; no batch exceeds the server's event count", () => {
  const { log, sent } = client({ client: { maxQueue: 500, maxEventsPerMinute: 1000 } });
  for (let i = 0; i < 120; i += 1) log.log(info(i));
  assert.equal(sent.length, 2); // two full batches of 50; 20 wait for the timer
  assert.ok(sent.every((s) => s.batch.events.length === SERVER_MAX_EVENTS));
  assert.equal(log.pending, 20);
});

test("batches stay under the byte bound, however big the events", () => {
  const { log, sent, timers } = client({ client: { maxBatchBytes: 10_000 } });
  for (let i = 0; i < 30; i += 1) log.log({ level: "error", message: "x".repeat(1500), stack: "s".repeat(1500) });
  timers.fire();
  assert.ok(sent.length >= 9);
  assert.ok(sent.every((s) => s.bytes <= 10_000), sent.map((s) => s.bytes).join(","));
  assert.equal(sent.reduce((n, s) => n + s.batch.events.length, 0), 30);
});

test("the queue is bounded: beyond it events are dropped and counted", () => {
  const { log, sent } = client({ online: false, client: { maxQueue: 10 } });
  for (let i = 0; i < 25; i += 1) log.log(info(i));
  assert.equal(log.pending, 10);
  assert.equal(log.dropped, 15);
  assert.equal(sent.length, 0);
});

test("an error loop cannot flood the server: events per minute are capped", () => {
  let now = 1_000_000;
  const { log } = client({ online: false, client: { maxQueue: 1000, maxEventsPerMinute: 30, now: () => now } });
  for (let i = 0; i < 100; i += 1) log.log(info(i));
  assert.equal(log.pending, 30);
  now += 61_000;
  log.log(info(101));
  assert.equal(log.pending, 31);
});

test("pagehide sends what is queued with sendBeacon", () => {
  const { log, page, sent } = client();
  log.log(info(1));
  page.dispatchEvent(new Event("pagehide"));
  assert.equal(sent.length, 1);
  assert.equal(log.pending, 0);
});

test("a hidden page (visibilitychange) sends too; a visible one waits", () => {
  const { log, document, sent } = client();
  log.log(info(1));
  document.dispatchEvent(new Event("visibilitychange"));
  assert.equal(sent.length, 0);
  document.hide();
  assert.equal(sent.length, 1);
});

test("offline nothing is sent and nothing retried; online again the queue goes", () => {
  const { log, page, sent, calls, timers, goOnline } = client({ online: false });
  log.log(info(1));
  timers.fire();
  page.dispatchEvent(new Event("pagehide"));
  assert.equal(sent.length + calls.length, 0);
  assert.equal(log.pending, 1);
  goOnline();
  assert.equal(sent.length, 1);
});

test("when the beacon refuses, a keepalive fetch carries the batch", async () => {
  const { log, sent, calls, timers } = client({ beaconResult: false });
  log.log(info(1));
  timers.fire();
  assert.equal(sent.length, 0);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].init.method, "POST");
  assert.equal(calls[0].init.keepalive, true);
  assert.equal(calls[0].headers.get("Content-Type"), "application/json");
  assert.equal(JSON.parse(calls[0].init.body).events.length, 1);
});

test("a batch that fails to go out is dropped, not retried", async () => {
  const { log, calls, timers } = client({ noBeacon: true, answer: () => Promise.reject(new TypeError("offline")) });
  log.log(info(1));
  log.log(info(2));
  timers.fire();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(calls.length, 1);
  assert.equal(log.dropped, 2);
  timers.fire();
  assert.equal(calls.length, 1);
});

test("never throws into the app", () => {
  const exploding = () => {
    throw new Error("boom");
  };
  const log = new LogClient({
    endpoint: ENDPOINT,
    sendBeacon: exploding,
    fetch: exploding,
    target: null,
    document: null,
    setTimer: exploding,
    isOnline: exploding,
  });
  const cyclic = { level: "info", message: "x" };
  cyclic.self = cyclic;
  const hostile = Object.defineProperty({ level: "info" }, "message", { get: exploding, enumerable: true });
  for (const event of [info(1), null, undefined, 42, "text", cyclic, hostile, { level: "info", message: 5 }]) {
    assert.doesNotThrow(() => log.log(event));
  }
  assert.doesNotThrow(() => log.flush(true));
  assert.doesNotThrow(() => log.close());
  // With nothing to deliver by, the batch is lost and counted.
  assert.ok(log.dropped >= 1);
});

test("a page without beacon, fetch or window still does not throw", () => {
  const log = new LogClient({ endpoint: ENDPOINT, sendBeacon: null, fetch: null, target: null, document: null });
  log.log(info(1));
  log.flush(true);
  assert.equal(log.dropped, 1);
});

const SANITIZED = [
  ["long message", { level: "error", message: "m".repeat(5000) }, (e) => e.message.length === 2000],
  ["long stack", { level: "error", message: "x", stack: "s".repeat(9000) }, (e) => e.stack.length === 4000],
  ["bad correlation ID", { level: "error", message: "x", correlation_id: "no spaces allowed" }, (e) => !("correlation_id" in e)],
  ["good correlation ID", { level: "error", message: "x", correlation_id: "abcd1234abcd1234" }, (e) => e.correlation_id === "abcd1234abcd1234"],
  ["timing names and values", { level: "info", message: "x", timing: { ttfb: 12, "Bad Name": 1, load: -1, dns: Number.NaN, huge: 9e9 } },
    (e) => JSON.stringify(e.timing) === JSON.stringify({ ttfb: 12, huge: 3_600_000 })],
  ["too many timings", { level: "info", message: "x", timing: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`t${i}`, i])) },
    (e) => Object.keys(e.timing).length === 20],
  ["NaN vital", { level: "info", message: "x", kind: "vital", vital: { name: "LCP", value: Number.NaN } }, (e) => e === null],
  ["route not a string", { level: "info", message: "x", route: 42 }, (e) => !("route" in e)],
];

for (const [what, event, check] of SANITIZED) {
  test(`sanitize: ${what}`, () => assert.ok(check(sanitize(event)), JSON.stringify(sanitize(event))));
}

test("the byte bound never exceeds the server's", () => {
  const { log, sent, timers } = client({ client: { maxBatchBytes: 10 * SERVER_MAX_BYTES } });
  for (let i = 0; i < 50; i += 1) log.log({ level: "error", message: "x".repeat(1900), stack: "y".repeat(3900) });
  timers.fire();
  assert.ok(sent.every((s) => s.bytes < SERVER_MAX_BYTES));
});
