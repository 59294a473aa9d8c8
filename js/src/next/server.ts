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

/** The headers that forward `incoming`'s ID (a route handler's `request.headers`), or a new one. */
export function forwardedHeaders(incoming?: HeaderReader | null): Record<string, string> {
  return correlationHeaders((incoming && incomingRequestId(incoming)) || newRequestId());
}

/** The ID of the request being rendered or handled (from `next/headers`), else a new one. */
export async function serverRequestId(): Promise<string> {
  try {
    const { headers } = await import("next/headers");
    return incomingRequestId(await headers()) ?? newRequestId();
  } catch {
    return newRequestId(); // outside a request (build time, a script)
  }
}

export interface ServerFetchInit extends RequestInit {
  /** Forward this ID instead of the incoming request's. */
  requestId?: string;
}

/** `fetch` from the server to the API with the incoming request's ID as `X-Request-ID` and `traceparent`. */
export async function serverFetch(input: string | URL, init: ServerFetchInit = {}): Promise<Response> {
  const { requestId: given, ...rest } = init;
  const id = given && isValidRequestId(given) ? given : await serverRequestId();
  const headers = new Headers(rest.headers);
  headers.delete(TRACEPARENT_HEADER);
  for (const [name, value] of Object.entries(correlationHeaders(id))) headers.set(name, value);
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
