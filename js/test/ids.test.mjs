import assert from "node:assert/strict";
import { test } from "node:test";

import {
  correlationHeaders,
  isValidRequestId,
  newRequestId,
  newSpanId,
  traceIdOf,
  traceparentFor,
} from "../dist/index.js";

test("a request ID is 32 lower-case hex characters, fresh each time", () => {
  const ids = new Set(Array.from({ length: 2000 }, () => newRequestId()));
  assert.equal(ids.size, 2000);
  for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
  assert.match(newSpanId(), /^[0-9a-f]{16}$/);
});

test("traceparent carries the ID as its trace-id, a fresh span and the sampled flag", () => {
  const id = newRequestId();
  const first = traceparentFor(id);
  assert.match(first, new RegExp(`^00-${id}-[0-9a-f]{16}-01$`));
  assert.notEqual(first, traceparentFor(id)); // a new span per call
  assert.equal(traceIdOf(first), id);
  // An ID that cannot be a trace-id gets a random one; the server then reads X-Request-ID.
  assert.match(traceparentFor("order-check-0001"), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
});

for (const [value, expected] of [
  ["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "0af7651916cd43dd8448eb211c80319c"],
  ["00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01", "0af7651916cd43dd8448eb211c80319c"],
  ["00-00000000000000000000000000000000-b7ad6b7169203331-01", null],
  ["00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", null],
  ["01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", null],
  ["0af7651916cd43dd8448eb211c80319c", null],
  ["", null],
  [null, null],
]) {
  test(`traceIdOf(${JSON.stringify(value)})`, () => assert.equal(traceIdOf(value), expected));
}

for (const [value, valid] of [
  ["abcd1234", true],
  ["req-2024.01:xyz_1", true],
  ["a".repeat(128), true],
  ["a".repeat(129), false],
  ["short", false],
  ["has space here", false],
  ["abcd1234\n", false],
  ["<script>alert(1)</script>", false],
  [42, false],
]) {
  test(`isValidRequestId(${JSON.stringify(value)}) is ${valid}`, () => assert.equal(isValidRequestId(value), valid));
}

test("correlationHeaders gives both headers with one ID", () => {
  const headers = correlationHeaders();
  assert.match(headers["X-Request-ID"], /^[0-9a-f]{32}$/);
  assert.equal(traceIdOf(headers.traceparent), headers["X-Request-ID"]);
  // An ID that is not a trace-id is sent alone: a traceparent with another trace-id would win on the server.
  assert.deepEqual(correlationHeaders("abcd1234abcd1234"), { "X-Request-ID": "abcd1234abcd1234" });
});
