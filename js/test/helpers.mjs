// Fakes of the browser pieces the package touches, for Node's test runner.

/** A fetch that records each call and answers with `answer(url, init)` (default 200 with an X-Request-ID). */
export function recordingFetch(answer) {
  const calls = [];
  const fetch = async (input, init = {}) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    calls.push({ url, init, headers: new Headers(init.headers) });
    if (answer) return answer(url, init);
    return new Response("{}", { status: 200, headers: { "X-Request-ID": new Headers(init.headers).get("X-Request-ID") ?? "" } });
  };
  return { fetch, calls };
}

/** The page's location, for same-origin checks; returns the function that removes it. */
export function atLocation(href) {
  const url = new URL(href);
  const previous = Object.getOwnPropertyDescriptor(globalThis, "location");
  Object.defineProperty(globalThis, "location", { value: { href: url.href, origin: url.origin }, configurable: true });
  return () => {
    if (previous) Object.defineProperty(globalThis, "location", previous);
    else delete globalThis.location;
  };
}

/** A beacon that records what it sent and answers `result` (or throws it, when it is an Error). */
export function recordingBeacon(result = true) {
  const sent = [];
  const beacon = (url, data) => {
    if (result instanceof Error) throw result;
    if (result) sent.push({ url, batch: JSON.parse(data), bytes: new TextEncoder().encode(data).length });
    return result;
  };
  return { beacon, sent };
}

/** A timer the test fires by hand. */
export function manualTimers() {
  const pending = new Map();
  let next = 1;
  return {
    setTimer: (callback) => {
      const handle = next++;
      pending.set(handle, callback);
      return handle;
    },
    clearTimer: (handle) => pending.delete(handle),
    fire() {
      const callbacks = [...pending.values()];
      pending.clear();
      for (const callback of callbacks) callback();
    },
    get count() {
      return pending.size;
    },
  };
}

/** A document with a visibility state the test sets. */
export class FakeDocument extends EventTarget {
  visibilityState = "visible";
  hide() {
    this.visibilityState = "hidden";
    this.dispatchEvent(new Event("visibilitychange"));
  }
}
