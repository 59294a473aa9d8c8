import assert from "node:assert/strict";
import { test } from "node:test";

import { templateFromParams } from "../dist/index.js";

const CASES = [
  ["/", {}, "/"],
  ["/products", {}, "/products"],
  ["/products/42", { id: "42" }, "/products/[id]"],
  ["/products/42/", { id: "42" }, "/products/[id]"],
  ["/orders/7/items/3", { orderId: "7", itemId: "3" }, "/orders/[orderId]/items/[itemId]"],
  ["/docs/a/b/c", { slug: ["a", "b", "c"] }, "/docs/[...slug]"],
  ["/shop/caf%C3%A9", { name: "café" }, "/shop/[name]"],
  ["/products/products", { id: "products" }, "/products/[id]"],
  ["/u/7/friends/7", { user: "7", friend: "7" }, "/u/[user]/friends/[friend]"],
  ["/shop", { filters: undefined }, "/shop"],
  ["/shop", null, "/shop"],
  ["/x/y", { slug: [] }, "/x/y"],
];

for (const [pathname, params, template] of CASES) {
  test(`${pathname} with ${JSON.stringify(params)} is ${template}`, () => {
    assert.equal(templateFromParams(pathname, params), template);
  });
}
