/**
 * One call to watch a page: the log client, errors, Web Vitals, navigation timing, and (opt-in) interactions.
 * In Next.js put it in `instrumentation-client.ts`; anywhere else run it as early as the page allows.
 */

import { captureErrors, captureInteractions, captureNavigation, TRACK_ATTRIBUTE } from "./capture.js";
import { LogClient, type LogClientOptions } from "./logger.js";
import { setRouteTemplate } from "./route.js";
import { captureVitals } from "./vitals.js";

export interface MonitoringOptions extends LogClientOptions {
  /** Report Web Vitals (default true). */
  vitals?: boolean;
  /** Report navigation timing once per page load (default true). */
  navigation?: boolean;
  /** Report uncaught errors and unhandled rejections (default true). */
  errors?: boolean;
  /** Report clicks on elements marked `data-track` (or this attribute); off by default. */
  interactions?: boolean | string;
  /** The route template at start, when the app knows it before any router does. */
  route?: string;
}

export interface Monitoring {
  client: LogClient;
  /** Remove every listener; what is queued is sent. */
  stop(): void;
}

/** Start watching the page (see `MonitoringOptions`). Never throws: a failure leaves the page unwatched. */
export function startMonitoring(options: MonitoringOptions): Monitoring {
  const client = new LogClient(options);
  const undo: Array<() => void> = [];
  try {
    if (options.route) setRouteTemplate(options.route);
    if (options.errors !== false) undo.push(captureErrors(client));
    if (options.vitals !== false) captureVitals(client);
    if (options.navigation !== false) captureNavigation(client);
    if (options.interactions) {
      const attribute = typeof options.interactions === "string" ? options.interactions : TRACK_ATTRIBUTE;
      undo.push(captureInteractions(client, undefined, attribute));
    }
  } catch {
    // the page works without us
  }
  return {
    client,
    stop() {
      for (const step of undo.splice(0)) {
        try {
          step();
        } catch {
          // ignore
        }
      }
      client.close();
    },
  };
}
