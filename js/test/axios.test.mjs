import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { attachCorrelation } from "../dist/axios.js";
import { clearFailedCall, recentFailedCall, requestIdOf, traceIdOf } from "../dist/index.js";

/** An interceptor manager as axios has it, and a client that runs requests through it. */
class Manager {
  handlers = [];
  use(fulfilled, rejected) {
    this.handlers.push({ fulfilled, rejected });
    return this.handlers.length - 1;
  }
  eject(id) {
    this.handlers[id] = null;
  }
}

/** axios 1.x headers: an object with set/get (AxiosHeaders). */
class AxiosHeaders {
  constructor(values = {}) {
    Object.assign(this, values);
  }
  set(name, value) {
    this[name] = value;
    return this;
  }
  get(name) {
    const key = Object.keys(this).find((k) => k.toLowerCase() === name.toLowerCase());
    return key === undefined ? undefined : this[key];
  }
}

function fakeAxios(answer) {
  const instance = { interceptors: { request: new Manager(), response: new Manager() } };
  instance.request = async (config) => {
    for (const handler of instance.interceptors.request.handlers) if (handler) config = await handler.fulfilled(config);
    let result;
    try {
      result = { ok: await answer(config) };
    } catch (error) {
      result = { error };
    }
    for (const handler of instance.interceptors.response.handlers) {
      if (!handler) continue;
      if ("ok" in result) result = { ok: await handler.fulfilled(result.ok) };
      else {
        try {
          result = { ok: await handler.rejected(result.error) };
        } catch (error) {
          result = { error };
        }
      }
    }
    if ("error" in result) throw result.error;
    return result.ok;
  };
  return instance;
}

beforeEach(() => clearFailedCall());

for (const [what, makeHeaders] of [
  ["AxiosHeaders", () => new AxiosHeaders({ Authorization: "Bearer t" })],
  ["plain object headers", () => ({ Authorization: "Bearer t" })],
  ["no headers", () => undefined],
]) {
  test(`axios request with ${what} gets X-Request-ID and traceparent`, async () => {
    const seen = [];
    const api = fakeAxios((config) => {
      seen.push(config.headers);
      return { status: 200, headers: new AxiosHeaders({ "x-request-id": config.headers["X-Request-ID"] }), config };
    });
    attachCorrelation(api);
    await api.request({ url: "/api/cart/", method: "get", headers: makeHeaders() });
    await api.request({ url: "/api/cart/", method: "get", headers: makeHeaders() });
    const [first, second] = seen;
    assert.match(first["X-Request-ID"], /^[0-9a-f]{32}$/);
    assert.equal(traceIdOf(first.traceparent), first["X-Request-ID"]);
    assert.notEqual(first["X-Request-ID"], second["X-Request-ID"]);
    if (what !== "no headers") assert.equal(first.Authorization, "Bearer t");
  });
}

test("an axios error carries the server's X-Request-ID", async () => {
  const api = fakeAxios((config) => {
    const error = new Error("Request failed with status code 500");
    error.config = config;
    error.response = { status: 500, headers: new AxiosHeaders({ "x-request-id": "answered-by-server-1" }), config };
    throw error;
  });
  attachCorrelation(api);
  const error = await api.request({ url: "/api/checkout/", method: "post", baseURL: "https://shop.example" }).catch((e) => e);
  assert.equal(requestIdOf(error), "answered-by-server-1");
  assert.equal(recentFailedCall().requestId, "answered-by-server-1");
  assert.equal(recentFailedCall().url, "https://shop.example/api/checkout/");
});

test("an axios network error carries the ID that was sent", async () => {
  let sent;
  const api = fakeAxios((config) => {
    sent = config.headers["X-Request-ID"];
    const error = new Error("Network Error");
    error.config = config;
    throw error;
  });
  attachCorrelation(api);
  const error = await api.request({ url: "/api/products/" }).catch((e) => e);
  assert.equal(requestIdOf(error), sent);
});

test("the returned function removes both interceptors", async () => {
  const seen = [];
  const api = fakeAxios((config) => {
    seen.push(config.headers ?? {});
    return { status: 200, headers: {}, config };
  });
  const detach = attachCorrelation(api);
  detach();
  await api.request({ url: "/api/", headers: {} });
  assert.equal(seen[0]["X-Request-ID"], undefined);
});
