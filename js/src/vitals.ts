/**
 * Web Vitals (LCP, INP, CLS, TTFB, FCP) through Google's `web-vitals`, each reported once final with the route
 * template: load metrics (LCP, FCP, TTFB) under the route the page was loaded on, INP and CLS (judged over the
 * page's life) under the route it is on when they are reported.
 */

import { onCLS, onFCP, onINP, onLCP, onTTFB } from "web-vitals";
import type { Metric } from "web-vitals";

import type { LogClient } from "./logger.js";
import { currentRoute, initialRoute, whenRouteKnown } from "./route.js";

const LOAD_METRICS = new Set(["LCP", "FCP", "TTFB"]);

/** The event for one metric (value in ms, CLS as its score). */
export function vitalEvent(metric: Pick<Metric, "name" | "value" | "rating">, route: string | undefined) {
  const value = metric.name === "CLS" ? Math.round(metric.value * 10000) / 10000 : Math.round(metric.value);
  return {
    level: "info" as const,
    kind: "vital" as const,
    message: `${metric.name} ${value}`,
    vital: { name: metric.name, value, rating: metric.rating },
    ...(route === undefined ? {} : { route }),
  };
}

/** Report the five vitals to `client`; `reportAllChanges` only for debugging (one event per change). */
export function captureVitals(client: LogClient, reportAllChanges = false): void {
  const report = (metric: Metric): void => {
    try {
      whenRouteKnown(() => {
        const route = LOAD_METRICS.has(metric.name) ? initialRoute() : currentRoute();
        client.log(vitalEvent(metric, route));
      });
    } catch {
      // never into the app
    }
  };
  for (const subscribe of [onLCP, onINP, onCLS, onTTFB, onFCP]) {
    try {
      subscribe(report, { reportAllChanges });
    } catch {
      // an unsupported browser reports the vitals it has
    }
  }
}
