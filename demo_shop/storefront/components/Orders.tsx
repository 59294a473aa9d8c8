"use client";
import Link from "next/link";
import { useEffect, useState } from "react";

import { type Order, shop } from "@/lib/api";
import { describe } from "./ProductDetail";

export function OrderList() {
  const [orders, setOrders] = useState<Order[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    shop.orders().then(
      ({ data }) => setOrders(Array.isArray(data) ? data : data.results),
      (error) => setProblem(describe(error)),
    );
  }, []);
  if (problem) return <p className="error">{problem}</p>;
  if (!orders) return <p>Loading…</p>;
  return (
    <>
      <h1>Orders</h1>
      {orders.length === 0 ? (
        <p data-testid="no-orders">No orders yet.</p>
      ) : (
        <ul data-testid="orders">
          {orders.map((order) => (
            <li key={order.id}>
              <Link href={`/orders/${order.id}`}>Order #{order.id}</Link> · {order.total}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

export function OrderDetail({ id }: { id: string }) {
  const [order, setOrder] = useState<Order | null>(null);
  const [requestId, setRequestId] = useState("");
  const [cancelled, setCancelled] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    shop.order(id).then(
      ({ data, requestId: answered }) => {
        setOrder(data);
        setRequestId(answered);
      },
      (error) => setProblem(describe(error)),
    );
  }, [id]);

  async function cancel() {
    try {
      await shop.cancelOrder(id);
      setCancelled(true);
    } catch (error) {
      setProblem(describe(error));
    }
  }

  if (problem) return <p className="error" data-testid="order-error">{problem}</p>;
  if (!order) return <p>Loading…</p>;
  return (
    <article className="panel" data-testid="order">
      <h1>
        Order #<span data-testid="order-id">{order.id}</span>
      </h1>
      <p>
        Total <strong data-testid="order-total">{order.total}</strong> · placed {new Date(order.created_at).toLocaleString("en")}
      </p>
      <ul>
        {order.items.map((item) => (
          <li key={item.product_id}>
            {item.quantity} × {item.product_name} · {item.subtotal}
          </li>
        ))}
      </ul>
      <p className="muted">
        request <span data-testid="request-id">{requestId}</span>
      </p>
      {cancelled ? (
        <p data-testid="cancelled">Order cancelled.</p>
      ) : (
        <button type="button" data-testid="cancel-order" data-track="cancel-order" onClick={cancel}>
          Cancel order
        </button>
      )}
    </article>
  );
}
