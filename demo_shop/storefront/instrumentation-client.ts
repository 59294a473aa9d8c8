// Runs in the browser before the app hydrates (Next.js 15.3+): errors, Web Vitals, navigation timing and clicks on
// elements marked data-track go to the shop's /client-logs, labelled with the route template <RouteTemplate />
// keeps current.
import { startMonitoring } from "@workflow-exporter/browser";

const api = document.querySelector('meta[name="shop-api"]')?.getAttribute("content");
if (api) {
  startMonitoring({ endpoint: `${api.replace(/\/+$/, "")}/client-logs`, interactions: true, flushIntervalMs: 2000 });
}
