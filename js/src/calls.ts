/**
 * What the wrappers remember of API calls, so a later error can name the call that failed: the last failed
 * call (an HTTP status of 400 or more, or no answer) and its request ID. Bounded: one slot.
 */

export interface CallRecord {
  /** The ID the server answered with (`X-Request-ID`), else the one sent. */
  requestId: string;
  method: string;
  /** The URL without its query string and fragment. */
  url: string;
  /** The HTTP status, or 0 when no answer came. */
  status: number;
  /** `Date.now()` when the call ended. */
  at: number;
}

/** How long after a failed call an error without an ID of its own is taken to be about that call. */
export const FAILED_CALL_WINDOW_MS = 5000;

let lastFailed: CallRecord | null = null;
const listeners = new Set<(call: CallRecord) => void>();

/** Record the end of a call (the wrappers do this). */
export function recordCall(call: CallRecord): void {
  if (call.status === 0 || call.status >= 400) lastFailed = call;
  for (const listener of listeners) {
    try {
      listener(call);
    } catch {
      // a listener's failure is not the app's
    }
  }
}

/** Be told of every call the wrappers see; returns the function that stops it. */
export function onCall(listener: (call: CallRecord) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The last failed call, when it ended at most `windowMs` ago. */
export function recentFailedCall(now: number = Date.now(), windowMs: number = FAILED_CALL_WINDOW_MS): CallRecord | null {
  return lastFailed && now - lastFailed.at <= windowMs ? lastFailed : null;
}

/** Forget the last failed call (tests, or an app that handled it). */
export function clearFailedCall(): void {
  lastFailed = null;
}

/** `url` without query and fragment, for records and logs (they may carry tokens). */
export function safeUrl(url: string): string {
  const cut = url.search(/[?#]/);
  return (cut === -1 ? url : url.slice(0, cut)).slice(0, 500);
}
