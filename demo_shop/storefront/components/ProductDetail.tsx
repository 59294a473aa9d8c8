"use client";
import Link from "next/link";
import { useEffect, useState } from "react";
import { RequestError } from "@workflow-exporter/browser";

import { type Product, shop } from "@/lib/api";

function Broken(): never {
  // The storefront's render_error fault: a component that throws while it renders in the browser.
  throw new TypeError("Cannot read the product's price: the component is broken (storefront fault render_error)");
}

export function ProductDetail({ id, broken }: { id: string; broken: boolean }) {
  const [product, setProduct] = useState<Product | null>(null);
  const [quantity, setQuantity] = useState("1");
  const [status, setStatus] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [mounted, setMounted] = useState(false);

  useEffect(() => {
    setMounted(true);
    shop.product(id).then(
      ({ data }) => setProduct(data),
      (error) => setProblem(describe(error)),
    );
  }, [id]);

  async function add() {
    if (!product) return;
    setStatus(null);
    setProblem(null);
    try {
      const { data, requestId } = await shop.addToCart(product.id, Number(quantity));
      setStatus(`Added to cart (${data.item_count} items) · request ${requestId}`);
    } catch (error) {
      setProblem(describe(error));
    }
  }

  if (broken && mounted) return <Broken />;
  if (problem) return <p className="error" data-testid="product-error">{problem}</p>;
  if (!product) return <p>Loading…</p>;
  return (
    <article className="panel" data-testid="product">
      <h1 data-testid="product-name">{product.name}</h1>
      <p>{product.description}</p>
      <p>
        Price <strong data-testid="price">{product.price}</strong> · {product.stock} in stock
      </p>
      <label>
        Quantity{" "}
        <select id="quantity" value={quantity} onChange={(event) => setQuantity(event.target.value)}>
          {[1, 2, 3].map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </label>
      <button type="button" data-testid="add-to-cart" data-track="add-to-cart" onClick={add}>
        Add to cart
      </button>
      {status && (
        <p data-testid="added">
          {status} · <Link href="/cart">Go to cart</Link>
        </p>
      )}
    </article>
  );
}

export function describe(error: unknown): string {
  if (error instanceof RequestError) {
    return error.status === 401 ? `Please sign in first (request ${error.requestId})` : `${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}
