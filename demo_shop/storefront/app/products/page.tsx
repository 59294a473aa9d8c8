import Link from "next/link";
import { serverFetch } from "@workflow-exporter/browser/next/server";

import { Recommendations } from "@/components/Recommendations";
import { faults, shopUrl, slowMilliseconds } from "@/lib/server";

export const metadata = { title: "Products · Demo shop" };

interface Page {
  count: number;
  results: { id: number; sku: string; name: string; price: string }[];
}

// A server component: the shop is asked with the ID of the browser's request (the proxy gave it one), so this
// render's API call and its SQL statements are logged under the ID the page's document answered with.
export default async function ProductsPage() {
  const response = await serverFetch(`${shopUrl()}/api/products/`, { cache: "no-store" });
  const requestId = response.headers.get("X-Request-ID") ?? "";
  if (!response.ok) {
    throw new Error(`the shop answered ${response.status} for the product list (request ${requestId})`);
  }
  const page = (await response.json()) as Page;
  return (
    <>
      <h1>Products</h1>
      <p className="muted" data-testid="product-count">
        {page.count} products · request <span data-testid="request-id">{requestId}</span>
      </p>
      <ul className="products" data-testid="product-list">
        {page.results.map((product) => (
          <li key={product.id}>
            <Link href={`/products/${product.id}`} data-testid={`product-${product.id}`} data-track="product">
              {product.name}
            </Link>
            <div className="muted">
              {product.sku} · {product.price}
            </div>
          </li>
        ))}
      </ul>
      <Recommendations slowMs={faults().slow_bundle ? slowMilliseconds() : 0} />
    </>
  );
}
