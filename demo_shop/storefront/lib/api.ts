"use client";
// The browser's side of the shop's API: every call through the package's correlated fetch, so each carries its
// own X-Request-ID and traceparent, and a failed one becomes a RequestError with the ID the server logged.
import { correlatedFetch, ensureOk } from "@workflow-exporter/browser";

const TOKEN = "shop-access";

/** The shop's origin, from the <meta name="shop-api"> the root layout renders (read at request time). */
export function apiBase(): string {
  const meta = document.querySelector('meta[name="shop-api"]');
  return (meta?.getAttribute("content") ?? "http://127.0.0.1:8000").replace(/\/+$/, "");
}

let fetcher: typeof fetch | null = null;

function api(): typeof fetch {
  fetcher ??= correlatedFetch({ origins: [new URL(apiBase()).origin] });
  return fetcher;
}

export function signedIn(): boolean {
  return Boolean(sessionStorage.getItem(TOKEN));
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN);
}

export interface Call<T> {
  data: T;
  /** The X-Request-ID the shop answered with: the same ID is in its log line and its SQL comments. */
  requestId: string;
}

async function call<T>(path: string, init: RequestInit = {}): Promise<Call<T>> {
  const headers = new Headers(init.headers);
  const token = sessionStorage.getItem(TOKEN);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  if (init.body) headers.set("Content-Type", "application/json");
  const response = ensureOk(await api()(`${apiBase()}${path}`, { ...init, headers }));
  const requestId = response.headers.get("X-Request-ID") ?? "";
  const data = response.status === 204 ? (undefined as T) : ((await response.json()) as T);
  return { data, requestId };
}

export interface Product {
  id: number;
  sku: string;
  name: string;
  description?: string;
  price: string;
  stock?: number;
}
export interface CartItem {
  id: number;
  product: Product;
  quantity: number;
  subtotal: string;
}
export interface Cart {
  id: number;
  items: CartItem[];
  item_count: number;
  total: string;
}
export interface Order {
  id: number;
  total: string;
  created_at: string;
  items: { product_id: number; product_name: string; quantity: number; unit_price: string; subtotal: string }[];
}

export async function signIn(username: string, password: string): Promise<void> {
  const { data } = await call<{ access: string }>("/api/auth/token/", {
    method: "POST",
    body: JSON.stringify({ username, password }),
  });
  sessionStorage.setItem(TOKEN, data.access);
}

export const shop = {
  product: (id: string) => call<Product>(`/api/products/${encodeURIComponent(id)}/`),
  cart: () => call<Cart>("/api/cart/"),
  addToCart: (productId: number, quantity: number) =>
    call<Cart>("/api/cart/items/", { method: "POST", body: JSON.stringify({ product_id: productId, quantity }) }),
  removeFromCart: (itemId: number) => call<Cart>(`/api/cart/items/${itemId}/`, { method: "DELETE" }),
  checkout: () => call<Order>("/api/checkout/", { method: "POST" }),
  orders: () => call<Order[] | { results: Order[] }>("/api/orders/"),
  order: (id: string) => call<Order>(`/api/orders/${encodeURIComponent(id)}/`),
  cancelOrder: (id: string) => call<undefined>(`/api/orders/${encodeURIComponent(id)}/`, { method: "DELETE" }),
};
