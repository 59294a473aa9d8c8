/**
 * The log client for the Django integration's `/client-logs`: events queue up (bounded), go out in batches the
 * server accepts (at most `maxBatch` events and `maxBatchBytes` bytes), every `flushIntervalMs`, when a batch is
 * full, and with `navigator.sendBeacon` when the page is hidden or left (`visibilitychange`, `pagehide`).
 * Offline it sends nothing and keeps the queue (bounded) until the browser is online again; a batch that fails
 * is dropped, never retried. No method throws into the app.
 */

export type Level = "debug" | "info" | "warn" | "error";
export type Kind = "log" | "error" | "vital" | "navigation" | "interaction";
export type VitalName = "LCP" | "INP" | "CLS" | "TTFB" | "FCP";

/** One event, as `/client-logs` accepts it. */
export interface LogEvent {
  level: Level;
  message: string;
  kind?: Kind;
  /** The route template the page is on (`/products/[id]`), never the path. */
  route?: string;
  /** The `X-Request-ID` of the API call the event is about. */
  correlation_id?: string;
  timestamp?: string;
  /** Navigation timing, milliseconds by phase. */
  timing?: Record<string, number>;
  error_class?: string;
  stack?: string;
  /** The `data-track` name of the element an interaction was on. */
  element?: string;
  vital?: { name: VitalName; value: number; rating?: "good" | "needs-improvement" | "poor" };
}

/** The server's bounds (`CLIENT_LOGS_MAX_EVENTS`, `CLIENT_LOGS_MAX_BYTES`) and the schema's field lengths. */
export const SERVER_MAX_EVENTS = 50;
export const SERVER_MAX_BYTES = 65536;
const FIELD_LIMITS = { message: 2000, route: 200, stack: 4000, error_class: 100, element: 100 } as const;
const TIMING_NAME = /^[a-z][a-z0-9_]{0,39}$/;
const TIMING_MAX = 3_600_000;

type Beacon = (url: string, data: string) => boolean;
type Fetcher = (url: string, init: RequestInit) => Promise<unknown>;

export interface LogClientOptions {
  /** Where to post, e.g. `https://api.shop.example/client-logs`. */
  endpoint: string;
  /** Events kept while waiting to be sent; beyond it new events are dropped (and counted). Default 200. */
  maxQueue?: number;
  /** Events per batch, at most the server's 50. Default 50. */
  maxBatch?: number;
  /** Bytes per batch, under the server's 65536. Default 60000. */
  maxBatchBytes?: number;
  /** Time a non-full batch waits. Default 5000 ms. */
  flushIntervalMs?: number;
  /** Events accepted per minute; beyond it dropped (an error loop must not flood the server). Default 300. */
  maxEventsPerMinute?: number;
  /** Injected for tests and other runtimes: the beacon, fetch, the event target for `pagehide`/`online`, clock. */
  sendBeacon?: Beacon | null;
  fetch?: Fetcher | null;
  target?: EventTarget | null;
  document?: ({ visibilityState?: string } & Partial<Pick<EventTarget, "addEventListener" | "removeEventListener">>) | null;
  isOnline?: () => boolean;
  now?: () => number;
  setTimer?: (callback: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

function cut(value: string, limit: number): string {
  return value.length <= limit ? value : `${value.slice(0, limit - 1)}…`;
}

/** The event trimmed to what the server accepts (long fields cut, bad timings dropped); null if unusable. */
export function sanitize(event: LogEvent): LogEvent | null {
  if (!event || typeof event.message !== "string") return null;
  const clean: LogEvent = { ...event, message: cut(event.message, FIELD_LIMITS.message) };
  for (const key of ["route", "stack", "error_class", "element"] as const) {
    const value = clean[key];
    if (value === undefined) continue;
    if (typeof value !== "string") delete clean[key];
    else clean[key] = cut(value, FIELD_LIMITS[key]);
  }
  if (clean.correlation_id !== undefined && !/^[A-Za-z0-9\-_.:]{8,128}$/.test(clean.correlation_id)) {
    delete clean.correlation_id;
  }
  if (clean.timing) {
    const timing: Record<string, number> = {};
    let count = 0;
    for (const [name, value] of Object.entries(clean.timing)) {
      if (count >= 20) break;
      if (TIMING_NAME.test(name) && Number.isFinite(value) && value >= 0) {
        timing[name] = Math.min(value, TIMING_MAX);
        count += 1;
      }
    }
    clean.timing = timing;
  }
  if (clean.vital && !(Number.isFinite(clean.vital.value) && clean.vital.value >= 0)) return null;
  if (clean.vital) clean.vital = { ...clean.vital, value: Math.min(clean.vital.value, TIMING_MAX) };
  return clean;
}

function globalBeacon(): Beacon | null {
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  if (nav && typeof nav.sendBeacon === "function") return (url, data) => nav.sendBeacon(url, data);
  return null;
}

function globalFetch(): Fetcher | null {
  return typeof globalThis.fetch === "function" ? (url, init) => globalThis.fetch(url, init) : null;
}

export class LogClient {
  /** Events dropped because the queue was full, the rate exceeded, or a batch failed to go out. */
  dropped = 0;
  /** Batches handed to the beacon or fetch. */
  sent = 0;
  private queue: string[] = [];
  private timer: unknown = null;
  private windowStart = 0;
  private windowCount = 0;
  private readonly options: Required<Pick<LogClientOptions, "maxQueue" | "maxBatch" | "maxBatchBytes" |
    "flushIntervalMs" | "maxEventsPerMinute">> & LogClientOptions;
  private readonly cleanups: Array<() => void> = [];

  constructor(options: LogClientOptions) {
    this.options = {
      maxQueue: 200,
      maxBatch: SERVER_MAX_EVENTS,
      maxBatchBytes: 60000,
      flushIntervalMs: 5000,
      maxEventsPerMinute: 300,
      ...options,
    };
    this.options.maxBatch = Math.max(1, Math.min(this.options.maxBatch, SERVER_MAX_EVENTS));
    this.options.maxBatchBytes = Math.max(1024, Math.min(this.options.maxBatchBytes, SERVER_MAX_BYTES - 100));
    try {
      this.listen();
    } catch {
      // without page events the timer still flushes
    }
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private online(): boolean {
    try {
      if (this.options.isOnline) return this.options.isOnline();
      const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
      return nav?.onLine !== false;
    } catch {
      return true;
    }
  }

  private listen(): void {
    const target = this.options.target === undefined ? (globalThis as { window?: EventTarget }).window : this.options.target;
    const doc = this.options.document === undefined ? (globalThis as { document?: LogClientOptions["document"] }).document : this.options.document;
    const onHide = (): void => this.flush(true);
    const onVisibility = (): void => {
      if (doc?.visibilityState === "hidden") this.flush(true);
    };
    const onOnline = (): void => this.flush(false);
    if (target && typeof target.addEventListener === "function") {
      target.addEventListener("pagehide", onHide);
      target.addEventListener("online", onOnline);
      this.cleanups.push(() => {
        target.removeEventListener("pagehide", onHide);
        target.removeEventListener("online", onOnline);
      });
    }
    if (doc && typeof doc.addEventListener === "function") {
      doc.addEventListener("visibilitychange", onVisibility);
      this.cleanups.push(() => doc.removeEventListener?.("visibilitychange", onVisibility));
    }
  }

  /** Queue one event (trimmed to the server's limits); never throws. */
  log(event: LogEvent): void {
    try {
      const clean = sanitize({ timestamp: new Date(this.now()).toISOString(), ...event });
      if (!clean) return;
      const now = this.now();
      if (now - this.windowStart >= 60_000) {
        this.windowStart = now;
        this.windowCount = 0;
      }
      if (this.windowCount >= this.options.maxEventsPerMinute || this.queue.length >= this.options.maxQueue) {
        this.dropped += 1;
        return;
      }
      const text = JSON.stringify(clean);
      if (text.length + 20 > this.options.maxBatchBytes) {
        this.dropped += 1;
        return;
      }
      this.windowCount += 1;
      this.queue.push(text);
      if (this.queue.length >= this.options.maxBatch) this.flush(false);
      else this.schedule();
    } catch {
      this.dropped += 1;
    }
  }

  /** Events waiting to be sent. */
  get pending(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.timer !== null) return;
    const set = this.options.setTimer ?? ((callback: () => void, ms: number) => setTimeout(callback, ms));
    this.timer = set(() => {
      this.timer = null;
      this.flush(false);
    }, this.options.flushIntervalMs);
  }

  private takeBatch(): { body: string; count: number } | null {
    if (this.queue.length === 0) return null;
    const parts: string[] = [];
    let size = '{"events":[]}'.length;
    while (this.queue.length > 0 && parts.length < this.options.maxBatch) {
      const next = this.queue[0] as string;
      const grown = size + next.length + (parts.length > 0 ? 1 : 0);
      if (grown > this.options.maxBatchBytes) break;
      parts.push(next);
      size = grown;
      this.queue.shift();
    }
    if (parts.length === 0) {
      this.queue.shift(); // cannot happen (log() refuses events that big); never loop on it
      this.dropped += 1;
      return this.takeBatch();
    }
    return { body: `{"events":[${parts.join(",")}]}`, count: parts.length };
  }

  /**
   * Send what is queued, in as many batches as it takes. `leaving`: the page is being hidden or unloaded, so
   * only the beacon (or a keepalive fetch) can still deliver. Offline, nothing is sent. Never throws.
   */
  flush(leaving = false): void {
    try {
      if (this.timer !== null) {
        (this.options.clearTimer ?? ((handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>)))(
          this.timer,
        );
        this.timer = null;
      }
      if (!this.online()) return;
      for (let batch = this.takeBatch(); batch !== null; batch = this.takeBatch()) {
        this.send(batch.body, batch.count, leaving);
      }
    } catch {
      // the app never sees our failures
    }
  }

  private send(body: string, count: number, leaving: boolean): void {
    const beacon = this.options.sendBeacon === undefined ? globalBeacon() : this.options.sendBeacon;
    // A string beacon is text/plain: a "simple" cross-origin request, no preflight, even while unloading.
    if (beacon) {
      try {
        if (beacon(this.options.endpoint, body)) {
          this.sent += 1;
          return;
        }
      } catch {
        // fall through to fetch
      }
    }
    const fetcher = this.options.fetch === undefined ? globalFetch() : this.options.fetch;
    if (!fetcher) {
      this.dropped += count;
      return;
    }
    try {
      this.sent += 1;
      const result = fetcher(this.options.endpoint, {
        method: "POST",
        body,
        keepalive: true,
        credentials: "omit",
        headers: { "Content-Type": leaving ? "text/plain;charset=UTF-8" : "application/json" },
      });
      Promise.resolve(result).catch(() => {
        this.dropped += count; // no retry: an offline or refused batch is gone
      });
    } catch {
      this.dropped += count;
    }
  }

  /** Stop listening to page events and the timer; what is queued is sent first. */
  close(): void {
    try {
      this.flush(true);
      for (const cleanup of this.cleanups.splice(0)) cleanup();
    } catch {
      // nothing to do
    }
  }
}
