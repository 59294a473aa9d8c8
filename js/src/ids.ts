/**
 * Correlation IDs as the Django integration accepts them: 32 lower-case hex characters, sent as `X-Request-ID`
 * and as the trace-id of a W3C `traceparent`, so the same ID reaches the request log, the SQL comment and the
 * metrics' exemplars whichever header the server reads first.
 */

/** Header names, as the server reads and answers them. */
export const REQUEST_ID_HEADER = "X-Request-ID";
export const TRACEPARENT_HEADER = "traceparent";

/** What the server accepts as an inbound ID: letters, digits and `-_.:`, 8 to 128 characters. */
const VALID_ID = /^[A-Za-z0-9\-_.:]{8,128}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const ZERO_TRACE = "0".repeat(32);

function randomHex(bytes: number): string {
  const buffer = new Uint8Array(bytes);
  const cryptoApi = (globalThis as { crypto?: Crypto }).crypto;
  if (cryptoApi && typeof cryptoApi.getRandomValues === "function") {
    cryptoApi.getRandomValues(buffer);
  } else {
    for (let i = 0; i < bytes; i += 1) buffer[i] = Math.floor(Math.random() * 256);
  }
  let out = "";
  for (const byte of buffer) out += byte.toString(16).padStart(2, "0");
  return out;
}

/** A fresh request ID: 32 lower-case hex characters (128 random bits), never all zeros. */
export function newRequestId(): string {
  const id = randomHex(16);
  return id === ZERO_TRACE ? newRequestId() : id;
}

/** A fresh span ID for `traceparent`: 16 lower-case hex characters, never all zeros. */
export function newSpanId(): string {
  const id = randomHex(8);
  return id === "0".repeat(16) ? newSpanId() : id;
}

/** Whether the server would accept `value` as a correlation ID. */
export function isValidRequestId(value: unknown): value is string {
  return typeof value === "string" && VALID_ID.test(value);
}

/** Whether `requestId` can be a W3C trace-id (32 lower-case hex characters, not all zeros). */
export function isTraceId(requestId: string): boolean {
  return /^[0-9a-f]{32}$/.test(requestId) && requestId !== ZERO_TRACE;
}

/**
 * The `traceparent` for a request ID: version 00, the ID as trace-id when it is one (`isTraceId`; otherwise a
 * random trace-id: do not send it with that ID, the server would take the trace-id over `X-Request-ID`), a fresh
 * span-id, sampled.
 */
export function traceparentFor(requestId: string): string {
  const traceId = isTraceId(requestId) ? requestId : newRequestId();
  return `00-${traceId}-${newSpanId()}-01`;
}

/** The trace-id of a valid `traceparent`, else null. */
export function traceIdOf(traceparent: string | null | undefined): string | null {
  if (!traceparent) return null;
  const match = TRACEPARENT.exec(traceparent.trim().toLowerCase());
  if (!match || match[1] === ZERO_TRACE || match[2] === "0".repeat(16)) return null;
  return match[1] ?? null;
}

/** The correlation headers for one call, with a fresh ID unless `requestId` is given: `X-Request-ID`, and
 * `traceparent` when the ID can be its trace-id (the server reads `traceparent` first, so a different trace-id
 * would win over the ID). */
export function correlationHeaders(requestId: string = newRequestId()): Record<string, string> {
  const headers: Record<string, string> = { [REQUEST_ID_HEADER]: requestId };
  if (isTraceId(requestId)) headers[TRACEPARENT_HEADER] = traceparentFor(requestId);
  return headers;
}
