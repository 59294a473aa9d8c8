"use client";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { RequestError } from "@workflow-exporter/browser";

import { type Cart, shop } from "@/lib/api";
import { describe } from "./ProductDetail";

export function Checkout() {
  const router = useRouter();
  const [cart, setCart] = useState<Cart | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    shop.cart().then(
      ({ data }) => setCart(data),
      (error) => setProblem(describe(error)),
    );
  }, []);

  async function placeOrder() {
    setBusy(true);
    setProblem(null);
    try {
      const { data: order } = await shop.checkout();
      router.push(`/orders/${order.id}`);
    } catch (error) {
      const id = error instanceof RequestError ? error.requestId : "unknown";
      setProblem(`Checkout failed · request ${id}`);
      setBusy(false);
      // Not swallowed: the monitoring reports it to /client-logs with the failed call's ID.
      reportError(error);
    }
  }

  if (!cart) return problem ? <p className="error">{problem}</p> : <p>Loading…</p>;
  return (
    <>
      <h1>Checkout</h1>
      <p>
        {cart.item_count} items · total <strong data-testid="checkout-total">{cart.total}</strong>
      </p>
      <button type="button" data-testid="place-order" data-track="place-order" onClick={placeOrder} disabled={busy || cart.items.length === 0}>
        Place order
      </button>
      {problem && <p className="error" data-testid="checkout-error">{problem}</p>}
    </>
  );
}
