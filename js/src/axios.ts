/**
 * An axios interceptor pair: a fresh `X-Request-ID` and `traceparent` on every request, and the server's
 * `X-Request-ID` on every error (`error.requestId`). Typed structurally, so this package needs no axios.
 *
 * ```ts
 * import axios from "axios";
 * import { attachCorrelation } from "@workflow-exporter/browser/axios";
 * const api = axios.create({ baseURL: "https://api.shop.example" });
 * attachCorrelation(api);
 * ```
 */

import { recordCall, safeUrl } from "./calls.js";
import { tagError } from "./fetch.js";
import { REQUEST_ID_HEADER, TRACEPARENT_HEADER, newRequestId, traceparentFor } from "./ids.js";

type HeaderBag = Record<string, unknown> & { set?: (name: string, value: string) => unknown };

export interface AxiosRequestLike {
  headers?: HeaderBag;
  method?: string;
  url?: string;
  baseURL?: string;
}

export interface AxiosResponseLike {
  status: number;
  headers?: Record<string, unknown> & { get?: (name: string) => unknown };
  config?: AxiosRequestLike;
}

interface InterceptorManager<V> {
  use(onFulfilled?: (value: V) => V | Promise<V>, onRejected?: (error: unknown) => unknown): number;
  eject(id: number): void;
}

export interface AxiosLike {
  interceptors: {
    request: InterceptorManager<AxiosRequestLike>;
    response: InterceptorManager<AxiosResponseLike>;
  };
}

function setHeader(headers: HeaderBag, name: string, value: string): void {
  if (typeof headers.set === "function") headers.set(name, value);
  else headers[name] = value;
}

function readHeader(headers: AxiosResponseLike["headers"] | HeaderBag | undefined, name: string): string | null {
  if (!headers) return null;
  const value =
    typeof headers.get === "function" ? headers.get(name) : (headers[name] ?? headers[name.toLowerCase()]);
  return typeof value === "string" ? value : null;
}

function describe(config: AxiosRequestLike | undefined): { method: string; url: string } {
  const url = `${config?.baseURL ?? ""}${config?.url ?? ""}`;
  return { method: (config?.method ?? "get").toUpperCase(), url: safeUrl(url) };
}

/** Add the interceptors to an axios instance; returns the function that removes them. */
export function attachCorrelation(instance: AxiosLike): () => void {
  const request = instance.interceptors.request.use((config) => {
    try {
      const headers = (config.headers ??= {});
      const id = newRequestId();
      setHeader(headers, REQUEST_ID_HEADER, id);
      setHeader(headers, TRACEPARENT_HEADER, traceparentFor(id));
    } catch {
      // the request goes out without the headers rather than not at all
    }
    return config;
  });
  const response = instance.interceptors.response.use(
    (answer) => {
      try {
        const sent = readHeader(answer.config?.headers, REQUEST_ID_HEADER);
        const id = readHeader(answer.headers, "x-request-id") ?? sent ?? "unknown";
        recordCall({ requestId: id, ...describe(answer.config), status: answer.status, at: Date.now() });
      } catch {
        // recording is best effort
      }
      return answer;
    },
    (error: unknown) => {
      try {
        const failure = error as { config?: AxiosRequestLike; response?: AxiosResponseLike };
        const sent = readHeader(failure.config?.headers, REQUEST_ID_HEADER);
        const id = readHeader(failure.response?.headers, "x-request-id") ?? sent;
        if (id) {
          tagError(error, id);
          const status = failure.response?.status ?? 0;
          recordCall({ requestId: id, ...describe(failure.config), status, at: Date.now() });
        }
      } catch {
        // the original error is what the app gets
      }
      return Promise.reject(error);
    },
  );
  return () => {
    instance.interceptors.request.eject(request);
    instance.interceptors.response.eject(response);
  };
}
