/**
 * Next.js server side: route handlers, server components and server actions forward the incoming request's
 * correlation ID to the API (or start one), so the API call a page render makes is logged under the ID the
 * browser's request carried.
 *
 * ```ts
 * // proxy.ts (Next.js 16; middleware.ts before): every request gets an ID, answered as X-Request-ID
 * import { NextResponse, type NextRequest } from "next/server";
 * import { withRequestId } from "@workflow-exporter/browser/next/server";
 * export function proxy(request: NextRequest) {
 *   const { requestHeaders, requestId } = withRequestId(request.headers);
 *   const response = NextResponse.next({ request: { headers: requestHeaders } });
 *   response.headers.set("X-Request-ID", requestId);
 *   return response;
 * }
 *
 * // a server component, route handler or server action
 * import { serverFetch } from "@workflow-exporter/browser/next/server";
 * const products = await (await serverFetch(`${process.env.SHOP_URL}/api/products/`)).json();
 * ```
 */

import { recordCall, safeUrl } from "../calls.js";
import { tagError } from "../fetch.js";
import {
  REQUEST_ID_HEADER,
  TRACEPARENT_HEADER,
  correlationHeaders,
  isTraceId,
  isValidRequestId,
  newRequestId,
  traceIdOf,
} from "../ids.js";

export interface HeaderReader {
  get(name: string): string | null;
}

/** The incoming request's ID as the Django integration picks it: `traceparent`, `X-Request-ID`,
 * `X-Correlation-ID`, only when valid; else null. */
export function incomingRequestId(headers: HeaderReader): string | null {
  const fromTrace = traceIdOf(headers.get(TRACEPARENT_HEADER));
  if (fromTrace) return fromTrace;
  for (const name of [REQUEST_ID_HEADER, "X-Correlation-ID"]) {
    const value = headers.get(name)?.trim();
    if (isValidRequestId(value)) return value;
  }
  return null;
}

/** For `proxy.ts`/`middleware.ts`: the request headers with a valid `X-Request-ID` (kept or new). */
export function withRequestId(headers: Headers): { requestHeaders: Headers; requestId: string } {
  const requestHeaders = new Headers(headers);
  const requestId = incomingRequestId(headers) ?? newRequestId();
  for (const [name, value] of Object.entries(correlationHeaders(requestId))) requestHeaders.set(name, value);
  if (!isTraceId(requestId)) requestHeaders.delete(TRACEPARENT_HEADER); // it would win over the ID
  return { requestHeaders, requestId };
}

/** The synthetic marker a probe sends (workflow-exporter's journeys: `1`, or `v1:<time>:<HMAC>` signed for the
 * request's ID): forwarded with that ID only, so the API leaves a probe's server-side calls out of its users'
 * figures too (the Django integration verifies it against the ID it came with). */
export const SYNTHETIC_HEADER = "X-Synthetic";
const MARKER = /^[\x21-\x7e]{1,200}$/; // printable, bounded: anything else is not forwarded

/** `incoming`'s synthetic marker, when it has one of a sane shape; else null. */
export function incomingSyntheticMarker(incoming: HeaderReader | null | undefined): string | null {
  const value = incoming?.get(SYNTHETIC_HEADER)?.trim();
  return value && MARKER.test(value) ? value : null;
}

/** The headers that forward `incoming`'s ID (a route handler's `request.headers`), or a new one; with the ID,
 * `incoming`'s synthetic marker. */
export function forwardedHeaders(incoming?: HeaderReader | null): Record<string, string> {
  const incomingId = incoming ? incomingRequestId(incoming) : null;
  const headers = correlationHeaders(incomingId ?? newRequestId());
  const marker = incomingId ? incomingSyntheticMarker(incoming) : null;
  if (marker) headers[SYNTHETIC_HEADER] = marker;
  return headers;
}

/** The headers of the request being rendered or handled (`next/headers`), or null outside a request. */
async function requestHeaders(): Promise<HeaderReader | null> {
  try {
    const { headers } = await import("next/headers");
    return await headers();
  } catch {
    return null; // outside a request (build time, a script)
  }
}

/** The ID of the request being rendered or handled (from `next/headers`), else a new one. */
export async function serverRequestId(): Promise<string> {
  const incoming = await requestHeaders();
  return (incoming && incomingRequestId(incoming)) ?? newRequestId();
}

export interface ServerFetchInit extends RequestInit {
  /** Forward this ID instead of the incoming request's. */
  requestId?: string;
}

/** `fetch` from the server to the API with the incoming request's ID as `X-Request-ID` and `traceparent` (and,
 * with that ID, the incoming synthetic marker). */
export async function serverFetch(input: string | URL, init: ServerFetchInit = {}): Promise<Response> {
  const { requestId: given, ...rest } = init;
  const incoming = await requestHeaders();
  const incomingId = incoming ? incomingRequestId(incoming) : null;
  const id = given && isValidRequestId(given) ? given : (incomingId ?? newRequestId());
  const headers = new Headers(rest.headers);
  headers.delete(TRACEPARENT_HEADER);
  for (const [name, value] of Object.entries(correlationHeaders(id))) headers.set(name, value);
  const marker = id === incomingId ? incomingSyntheticMarker(incoming) : null; // signed for that ID only
  if (marker) headers.set(SYNTHETIC_HEADER, marker);
  const url = safeUrl(String(input));
  const method = (rest.method ?? "GET").toUpperCase();
  let response: Response;
  try {
    response = await fetch(input, { ...rest, headers });
  } catch (error) {
    recordCall({ requestId: id, method, url, status: 0, at: Date.now() });
    throw tagError(error, id);
  }
  recordCall({ requestId: response.headers.get(REQUEST_ID_HEADER) ?? id, method, url, status: response.status, at: Date.now() });
  return response;
}
