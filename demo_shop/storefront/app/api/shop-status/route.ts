// A route handler that asks the shop whether it is ready, forwarding the incoming request's ID (the proxy gave
// every request one), so the shop's log line for /readyz carries the ID this answer's X-Request-ID shows.
import { forwardedHeaders } from "@workflow-exporter/browser/next/server";

import { shopUrl } from "@/lib/server";

export const dynamic = "force-dynamic";

export async function GET(request: Request): Promise<Response> {
  const headers = forwardedHeaders(request.headers);
  try {
    const answer = await fetch(`${shopUrl()}/readyz`, { headers, cache: "no-store" });
    return Response.json({ shop: answer.ok ? "ready" : "not ready", request_id: headers["X-Request-ID"] }, { status: answer.ok ? 200 : 503 });
  } catch {
    return Response.json({ shop: "unreachable", request_id: headers["X-Request-ID"] }, { status: 502 });
  }
}
