// GET the storefront's faults, PUT {"render_error": true} to switch them; 404 unless STOREFRONT_FAULTS_ENABLED=1.
import { FAULTS, type FaultName, faults, faultsEnabled } from "@/lib/server";

export const dynamic = "force-dynamic";

function disabled(): Response {
  return Response.json({ detail: "faults are disabled; start the storefront with STOREFRONT_FAULTS_ENABLED=1" }, { status: 404 });
}

export async function GET(): Promise<Response> {
  return faultsEnabled() ? Response.json(faults()) : disabled();
}

export async function PUT(request: Request): Promise<Response> {
  if (!faultsEnabled()) return disabled();
  let payload: unknown;
  try {
    payload = await request.json();
  } catch {
    return Response.json({ detail: "expected a JSON object such as {\"render_error\": true}" }, { status: 400 });
  }
  if (!payload || typeof payload !== "object" || Array.isArray(payload)) {
    return Response.json({ detail: "expected a JSON object such as {\"render_error\": true}" }, { status: 400 });
  }
  const problems: string[] = [];
  const state = faults();
  const changes: [FaultName, boolean][] = [];
  for (const [name, value] of Object.entries(payload)) {
    if (!(name in FAULTS)) problems.push(`unknown fault '${name}'; known: ${Object.keys(FAULTS).join(", ")}`);
    else if (typeof value !== "boolean") problems.push(`fault '${name}' must be true or false`);
    else changes.push([name as FaultName, value]);
  }
  if (problems.length) return Response.json({ detail: problems.join("; ") }, { status: 400 });
  for (const [name, value] of changes) state[name] = value;
  return Response.json(state);
}
