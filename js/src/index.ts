/**
 * `@workflow-exporter/browser`: one correlation ID from the browser through the API into the database.
 *
 * - `correlatedFetch()`, `correlationHeaders()`, `ensureOk()`: `X-Request-ID` and `traceparent` on API calls.
 * - `startMonitoring({ endpoint })`: errors, Web Vitals, navigation timing, interactions to `/client-logs`.
 * - `LogClient`: the bounded, batched log client on its own.
 * - `@workflow-exporter/browser/axios`, `/next`, `/next/server`: axios and Next.js integration.
 */

export {
  REQUEST_ID_HEADER,
  TRACEPARENT_HEADER,
  correlationHeaders,
  isTraceId,
  isValidRequestId,
  newRequestId,
  newSpanId,
  traceIdOf,
  traceparentFor,
} from "./ids.js";
export { RequestError, correlatedFetch, ensureOk, requestIdOf, sameOriginOr, tagError } from "./fetch.js";
export type { CorrelatedFetchOptions } from "./fetch.js";
export { FAILED_CALL_WINDOW_MS, clearFailedCall, onCall, recentFailedCall } from "./calls.js";
export type { CallRecord } from "./calls.js";
export { LogClient, SERVER_MAX_BYTES, SERVER_MAX_EVENTS, sanitize } from "./logger.js";
export type { Kind, Level, LogClientOptions, LogEvent, VitalName } from "./logger.js";
export { currentRoute, initialRoute, resetRoute, setRouteTemplate, templateFromParams } from "./route.js";
export { TRACK_ATTRIBUTE, captureErrors, captureInteractions, captureNavigation, errorEvent, navigationTiming } from "./capture.js";
export { captureVitals, vitalEvent } from "./vitals.js";
export { startMonitoring } from "./start.js";
export type { Monitoring, MonitoringOptions } from "./start.js";
