// Compiled (never run) by `npm run typecheck`: the published types, used as an application uses them.
import {
  type LogEvent,
  type Monitoring,
  LogClient,
  RequestError,
  correlatedFetch,
  correlationHeaders,
  ensureOk,
  requestIdOf,
  startMonitoring,
  templateFromParams,
} from "@workflow-exporter/browser";
import { type AxiosLike, attachCorrelation } from "@workflow-exporter/browser/axios";
import { RouteTemplate, useRouteTemplate } from "@workflow-exporter/browser/next";
import { forwardedHeaders, serverFetch, withRequestId } from "@workflow-exporter/browser/next/server";

const api: typeof fetch = correlatedFetch({ origins: ["https://api.shop.example"] });
const monitoring: Monitoring = startMonitoring({ endpoint: "https://api.shop.example/client-logs", interactions: true });
const event: LogEvent = { level: "error", message: "x", kind: "vital", vital: { name: "LCP", value: 1200 } };
monitoring.client.log(event);
new LogClient({ endpoint: "/client-logs", maxQueue: 10 }).flush(true);

async function load(): Promise<unknown> {
  try {
    return await ensureOk(await api("/api/products/")).json();
  } catch (error) {
    const id: string | null = requestIdOf(error);
    if (error instanceof RequestError) return { id: error.requestId, status: error.status };
    return id;
  }
}

declare const axiosInstance: AxiosLike;
const detach: () => void = attachCorrelation(axiosInstance);
const headers: Record<string, string> = { ...correlationHeaders(), ...forwardedHeaders(new Headers()) };
const { requestHeaders, requestId }: { requestHeaders: Headers; requestId: string } = withRequestId(new Headers());
const response: Promise<Response> = serverFetch("http://api/api/products/", { requestId, headers });
const template: string = templateFromParams("/products/1", { id: "1" });
const component: () => null = RouteTemplate;
const hook: () => string | undefined = useRouteTemplate;

export { component, detach, hook, load, requestHeaders, response, template };
