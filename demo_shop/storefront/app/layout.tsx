import type { ReactNode } from "react";
import { RouteTemplate } from "@workflow-exporter/browser/next";

import { publicShopUrl } from "@/lib/server";
import "./globals.css";

// Read the shop's URL and the faults at request time: one build serves any shop.
export const dynamic = "force-dynamic";

export const metadata = { title: "Demo shop" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <head>
        <meta name="shop-api" content={publicShopUrl()} />
      </head>
      <body>
        <RouteTemplate />
        <header>
          <a href="/products">Products</a>
          <a href="/cart" data-track="nav-cart">Cart</a>
          <a href="/orders">Orders</a>
          <a href="/login">Sign in</a>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
