// Server-only settings and the storefront's own faults. Read at request time, so one build runs anywhere.

/** Where the server reaches the shop's API (SHOP_URL, default http://127.0.0.1:8000). */
export function shopUrl(): string {
  return (process.env.SHOP_URL ?? "http://127.0.0.1:8000").replace(/\/+$/, "");
}

/** Where the browser reaches it (SHOP_PUBLIC_URL, default SHOP_URL). */
export function publicShopUrl(): string {
  return (process.env.SHOP_PUBLIC_URL ?? shopUrl()).replace(/\/+$/, "");
}

/** The storefront's switchable faults (PUT /api/faults, when STOREFRONT_FAULTS_ENABLED=1). */
export const FAULTS = {
  render_error: "the product page throws while it renders in the browser",
  slow_bundle: "the product list's client bundle blocks the main thread for STOREFRONT_SLOW_MS (default 1500 ms)",
} as const;
export type FaultName = keyof typeof FAULTS;

type FaultState = Record<FaultName, boolean>;
const holder = globalThis as typeof globalThis & { __storefrontFaults?: FaultState };

export function faultsEnabled(): boolean {
  return process.env.STOREFRONT_FAULTS_ENABLED === "1";
}

/** The faults' state; one per server process (route handlers and pages share it through globalThis). */
export function faults(): FaultState {
  if (!holder.__storefrontFaults) {
    const initial = new Set((process.env.STOREFRONT_FAULTS ?? "").split(",").map((name) => name.trim()));
    holder.__storefrontFaults = { render_error: initial.has("render_error"), slow_bundle: initial.has("slow_bundle") };
  }
  if (!faultsEnabled()) return { render_error: false, slow_bundle: false };
  return holder.__storefrontFaults;
}

export function slowMilliseconds(): number {
  const value = Number(process.env.STOREFRONT_SLOW_MS ?? 1500);
  return Number.isFinite(value) && value >= 0 && value <= 60_000 ? value : 1500;
}
