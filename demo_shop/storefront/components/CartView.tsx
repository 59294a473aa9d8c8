"use client";
import Link from "next/link";
import { useCallback, useEffect, useState } from "react";

import { type Cart, shop } from "@/lib/api";
import { describe } from "./ProductDetail";

export function CartView() {
  const [cart, setCart] = useState<Cart | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  const load = useCallback(() => {
    shop.cart().then(
      ({ data }) => setCart(data),
      (error) => setProblem(describe(error)),
    );
  }, []);
  useEffect(load, [load]);

  async function remove(itemId: number) {
    try {
      setCart((await shop.removeFromCart(itemId)).data);
    } catch (error) {
      setProblem(describe(error));
    }
  }

  if (problem) return <p className="error" data-testid="cart-error">{problem}</p>;
  if (!cart) return <p>Loading…</p>;
  return (
    <>
      <h1>Cart</h1>
      {cart.items.length === 0 ? (
        <p data-testid="cart-empty">Your cart is empty.</p>
      ) : (
        <>
          <ul data-testid="cart-items">
            {cart.items.map((item) => (
              <li key={item.id}>
                {item.quantity} × {item.product.name} · {item.subtotal}{" "}
                <button type="button" data-testid={`remove-${item.product.id}`} data-track="remove" onClick={() => remove(item.id)}>
                  Remove
                </button>
              </li>
            ))}
          </ul>
          <p>
            Total <strong data-testid="cart-total">{cart.total}</strong>
          </p>
          <Link href="/checkout" data-testid="to-checkout" data-track="to-checkout">
            Proceed to checkout
          </Link>
        </>
      )}
    </>
  );
}
