// Every page and route handler request gets a correlation ID (the incoming one when valid), answered as
// X-Request-ID; server components and route handlers forward it to the shop with serverFetch/forwardedHeaders.
import { NextResponse, type NextRequest } from "next/server";
import { withRequestId } from "@workflow-exporter/browser/next/server";

export function proxy(request: NextRequest) {
  const { requestHeaders, requestId } = withRequestId(request.headers);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  response.headers.set("X-Request-ID", requestId);
  return response;
}

export const config = {
  matcher: ["/((?!_next/static|_next/image|favicon.ico).*)"],
};
