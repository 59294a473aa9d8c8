"use client";
/**
 * Next.js app router, client side: `<RouteTemplate />` in the root layout keeps the package's route template in
 * step with the router (`/products/[id]` from `usePathname()` and `useParams()`), so vitals, errors and
 * interactions are labelled by template. Start the monitoring itself in `instrumentation-client.ts`:
 *
 * ```ts
 * // instrumentation-client.ts
 * import { startMonitoring } from "@workflow-exporter/browser";
 * startMonitoring({ endpoint: "https://api.shop.example/client-logs", interactions: true });
 * ```
 */

import { useParams, usePathname } from "next/navigation";
import { useEffect } from "react";

import { setRouteTemplate, templateFromParams } from "../route.js";

/** The current route template, reported to the package on every route change. */
export function useRouteTemplate(): string | undefined {
  const pathname = usePathname();
  const params = useParams();
  const template = pathname ? templateFromParams(pathname, params) : undefined;
  useEffect(() => {
    if (template) setRouteTemplate(template);
  }, [template]);
  return template;
}

/** Renders nothing; keeps the route template current. Put it once in the root layout. */
export function RouteTemplate(): null {
  useRouteTemplate();
  return null;
}

export { setRouteTemplate, templateFromParams };
