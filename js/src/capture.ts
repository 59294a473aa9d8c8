/**
 * What the page reports by itself: uncaught errors and unhandled rejections (with the ID of the failed call),
 * navigation timing, and opt-in interactions with elements marked `data-track`. Web Vitals are in `vitals.ts`.
 * Every handler swallows its own failures.
 */

import { recentFailedCall } from "./calls.js";
import { requestIdOf } from "./fetch.js";
import type { LogClient, LogEvent } from "./logger.js";
import { currentRoute, initialRoute, whenRouteKnown } from "./route.js";

function withRoute(event: LogEvent): LogEvent {
  const route = currentRoute();
  return route === undefined ? event : { ...event, route };
}

function describeError(reason: unknown): { message: string; errorClass?: string; stack?: string } {
  if (reason instanceof Error) {
    return { message: `${reason.name}: ${reason.message}`, errorClass: reason.name, stack: reason.stack };
  }
  if (typeof reason === "string") return { message: reason };
  try {
    return { message: JSON.stringify(reason) ?? String(reason) };
  } catch {
    return { message: String(reason) };
  }
}

/** The event for an error: its own request ID, else the call that failed within the last seconds. */
export function errorEvent(reason: unknown, prefix = ""): LogEvent {
  const { message, errorClass, stack } = describeError(reason);
  const id = requestIdOf(reason) ?? recentFailedCall()?.requestId;
  const event: LogEvent = { level: "error", kind: "error", message: `${prefix}${message}` };
  if (errorClass) event.error_class = errorClass;
  if (stack) event.stack = stack;
  if (id) event.correlation_id = id;
  return withRoute(event);
}

/** Report uncaught errors and unhandled rejections of `target` (default `window`); returns the undo. */
export function captureErrors(client: LogClient, target: EventTarget | undefined = globalWindow()): () => void {
  if (!target) return () => undefined;
  const onError = (event: Event): void => {
    try {
      const error = (event as ErrorEvent).error ?? (event as ErrorEvent).message ?? "error";
      client.log(errorEvent(error));
    } catch {
      // never into the app
    }
  };
  const onRejection = (event: Event): void => {
    try {
      client.log(errorEvent((event as PromiseRejectionEvent).reason, "unhandled rejection: "));
    } catch {
      // never into the app
    }
  };
  target.addEventListener("error", onError);
  target.addEventListener("unhandledrejection", onRejection);
  return () => {
    target.removeEventListener("error", onError);
    target.removeEventListener("unhandledrejection", onRejection);
  };
}

/** Navigation timing of `entry` in whole milliseconds by phase (the names `/client-logs` accepts). */
export function navigationTiming(entry: PerformanceNavigationTiming): Record<string, number> {
  const span = (from: number, to: number): number | undefined => (to > 0 && to >= from ? Math.round(to - from) : undefined);
  const phases: Record<string, number | undefined> = {
    dns: span(entry.domainLookupStart, entry.domainLookupEnd),
    connect: span(entry.connectStart, entry.connectEnd),
    ttfb: span(entry.startTime, entry.responseStart),
    response: span(entry.responseStart, entry.responseEnd),
    dom_interactive: span(entry.startTime, entry.domInteractive),
    dom_content_loaded: span(entry.startTime, entry.domContentLoadedEventEnd),
    load: span(entry.startTime, entry.loadEventEnd),
    transfer_kb: entry.transferSize > 0 ? Math.round(entry.transferSize / 1024) : undefined,
  };
  const timing: Record<string, number> = {};
  for (const [name, value] of Object.entries(phases)) if (value !== undefined) timing[name] = value;
  return timing;
}

/** Report the page's navigation timing once it has loaded and its route is known. */
export function captureNavigation(client: LogClient, target: EventTarget | undefined = globalWindow()): void {
  const report = (): void => {
    try {
      const entry = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined;
      if (!entry) return;
      // loadEventEnd is set only after the load handlers have run.
      setTimeout(() => {
        try {
          whenRouteKnown(() => {
            const event: LogEvent = {
              level: "info",
              kind: "navigation",
              message: `navigation ${entry.type}`,
              timing: navigationTiming(entry),
            };
            const route = initialRoute();
            client.log(route === undefined ? event : { ...event, route });
          });
        } catch {
          // never into the app
        }
      }, 0);
    } catch {
      // no performance timeline here
    }
  };
  const doc = (globalThis as { document?: Document }).document;
  if (doc?.readyState === "complete" || !target) report();
  else target.addEventListener("load", report, { once: true });
}

/** The attribute that opts an element into interaction reports: `<button data-track="add-to-cart">`. */
export const TRACK_ATTRIBUTE = "data-track";

/** Report clicks on elements (or their descendants) marked `data-track`; returns the undo. */
export function captureInteractions(
  client: LogClient,
  root: EventTarget | undefined = (globalThis as { document?: Document }).document,
  attribute: string = TRACK_ATTRIBUTE,
): () => void {
  if (!root) return () => undefined;
  const onClick = (event: Event): void => {
    try {
      const start = event.target as Element | null;
      const marked = start && typeof start.closest === "function" ? start.closest(`[${attribute}]`) : null;
      const name = marked?.getAttribute(attribute);
      if (!name) return;
      client.log(withRoute({ level: "info", kind: "interaction", message: `click ${name}`, element: name }));
    } catch {
      // never into the app
    }
  };
  root.addEventListener("click", onClick, { capture: true, passive: true });
  return () => root.removeEventListener("click", onClick, { capture: true });
}

function globalWindow(): EventTarget | undefined {
  return (globalThis as { window?: EventTarget }).window;
}
