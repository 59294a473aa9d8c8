// A route handler that asks the shop for its catalogue size, forwarding the incoming request's ID (the proxy gave
// every request one), so the shop's log line for the call carries the ID this answer's X-Request-ID shows.
import { forwardedHeaders } from "@workflow-exporter/browser/next/server";

import { shopUrl } from "@/lib/server";

export const dynamic = "force-dynamic";

export async function GET(request: Request): Promise<Response> {
  const headers = forwardedHeaders(request.headers);
  const requestId = headers["X-Request-ID"];
  try {
    const answer = await fetch(`${shopUrl()}/api/products/?page_size=1`, { headers, cache: "no-store" });
    if (!answer.ok) return Response.json({ shop: "failing", status: answer.status, request_id: requestId }, { status: 502 });
    const { count } = (await answer.json()) as { count: number };
    return Response.json({ shop: "ready", products: count, request_id: requestId });
  } catch {
    return Response.json({ shop: "unreachable", request_id: requestId }, { status: 502 });
  }
}
