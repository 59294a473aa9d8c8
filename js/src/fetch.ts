/**
 * A `fetch` that gives every call a fresh request ID, sent as `X-Request-ID` and `traceparent`, and reads the
 * server's `X-Request-ID` back. Errors it throws carry the ID (`requestId`); `ensureOk` turns an HTTP error into a
 * `RequestError` with the ID the server logged it under.
 */

import { recordCall, safeUrl } from "./calls.js";
import { REQUEST_ID_HEADER, TRACEPARENT_HEADER, newRequestId, traceparentFor } from "./ids.js";

/** An API call that failed, with the request ID to look it up by in the server's logs and the SQL comments. */
export class RequestError extends Error {
  override readonly name: string = "RequestError";
  constructor(
    message: string,
    readonly requestId: string,
    readonly status: number,
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The request ID an error carries (a `RequestError`, an axios error, or any error we tagged), else null. */
export function requestIdOf(value: unknown): string | null {
  if (value && typeof value === "object" && "requestId" in value) {
    const id = (value as { requestId?: unknown }).requestId;
    return typeof id === "string" ? id : null;
  }
  return null;
}

/** Tag `error` with the request ID (when it is an object that takes properties); returns it. */
export function tagError<T>(error: T, requestId: string): T {
  if (error && typeof error === "object" && !requestIdOf(error)) {
    try {
      Object.defineProperty(error, "requestId", { value: requestId, enumerable: false, configurable: true });
    } catch {
      // a frozen error keeps what it has
    }
  }
  return error;
}

export interface CorrelatedFetchOptions {
  /** The fetch to wrap (default the global one, looked up at call time). */
  fetch?: typeof fetch;
  /**
   * Which URLs get the correlation headers. Default: the page's own origin and `origins`. Other origins do not,
   * so a third-party API is never sent headers its CORS policy would refuse.
   */
  shouldCorrelate?: (url: URL) => boolean;
  /** API origins besides the page's own, e.g. `["https://api.shop.example"]`. */
  origins?: readonly string[];
}

function baseUrl(): string | undefined {
  const location = (globalThis as { location?: { href?: string } }).location;
  return location?.href;
}

function urlOf(input: RequestInfo | URL): URL | null {
  try {
    const raw = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    return new URL(raw, baseUrl());
  } catch {
    return null;
  }
}

function methodOf(input: RequestInfo | URL, init: RequestInit | undefined): string {
  const method = init?.method ?? (typeof input === "object" && "method" in input ? input.method : undefined);
  return (method ?? "GET").toUpperCase();
}

/** The default `shouldCorrelate`: same origin as the page, or one of `origins`. */
export function sameOriginOr(origins: readonly string[] = []): (url: URL) => boolean {
  const allowed = new Set(origins.map((origin) => origin.replace(/\/+$/, "")));
  return (url) => {
    const here = (globalThis as { location?: { origin?: string } }).location?.origin;
    return url.origin === here || allowed.has(url.origin);
  };
}

/** A `fetch` with correlation headers on every call it should correlate (see `CorrelatedFetchOptions`). */
export function correlatedFetch(options: CorrelatedFetchOptions = {}): typeof fetch {
  const shouldCorrelate = options.shouldCorrelate ?? sameOriginOr(options.origins);
  const wrapped = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const base = options.fetch ?? globalThis.fetch;
    const url = urlOf(input);
    let correlate = false;
    try {
      correlate = url !== null && shouldCorrelate(url);
    } catch {
      correlate = false;
    }
    if (!correlate) return base(input, init);
    const id = newRequestId();
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set(REQUEST_ID_HEADER, id);
    headers.set(TRACEPARENT_HEADER, traceparentFor(id));
    const method = methodOf(input, init);
    const shown = safeUrl(url?.href ?? "");
    let response: Response;
    try {
      response = await base(input, { ...init, headers });
    } catch (error) {
      recordCall({ requestId: id, method, url: shown, status: 0, at: Date.now() });
      throw tagError(error, id);
    }
    let answered = id;
    try {
      answered = response.headers.get(REQUEST_ID_HEADER) ?? id;
    } catch {
      answered = id;
    }
    recordCall({ requestId: answered, method, url: shown, status: response.status, at: Date.now() });
    return response;
  };
  return wrapped as typeof fetch;
}

/** The response, or a `RequestError` naming its status, URL and the server's request ID when it is not 2xx. */
export function ensureOk(response: Response): Response {
  if (response.ok) return response;
  const id = response.headers.get(REQUEST_ID_HEADER) ?? "unknown";
  throw new RequestError(
    `${response.status} ${response.statusText || "error"} from ${safeUrl(response.url)} (request ${id})`,
    id,
    response.status,
    safeUrl(response.url),
  );
}
