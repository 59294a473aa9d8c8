// The package as an application sees it: its exports resolve, and importing one function does not pull the rest.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { build } from "esbuild";

test("every export path resolves by the package's own name", async () => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  for (const path of Object.keys(pkg.exports)) {
    if (path.endsWith(".json") || path === "./next") continue; // ./next imports react and next: checked below
    const module = await import(path === "." ? pkg.name : `${pkg.name}/${path.slice(2)}`);
    assert.ok(Object.keys(module).length > 0, path);
  }
  assert.equal(pkg.sideEffects, false);
  assert.equal(pkg.type, "module");
  assert.deepEqual(Object.keys(pkg.dependencies), ["web-vitals"]);
});

test("the Next.js client module is marked as a client module", () => {
  const source = readFileSync(new URL("../dist/next/client.js", import.meta.url), "utf8");
  assert.ok(source.startsWith('"use client";'));
});

async function bundle(code) {
  const result = await build({
    stdin: { contents: code, resolveDir: new URL("..", import.meta.url).pathname, loader: "js" },
    bundle: true, minify: true, write: false, format: "esm", platform: "browser",
    external: ["next/*", "react"],
  });
  return result.outputFiles[0].text;
}

test("tree-shaking: the fetch wrapper alone brings neither web-vitals nor the log client", async () => {
  const small = await bundle('import { correlatedFetch } from "@workflow-exporter/browser"; window.f = correlatedFetch();');
  const full = await bundle('import { startMonitoring } from "@workflow-exporter/browser"; startMonitoring({ endpoint: "/client-logs" });');
  assert.ok(!small.includes("largest-contentful-paint"), "web-vitals was bundled");
  assert.ok(!small.includes("sendBeacon"), "the log client was bundled");
  assert.ok(full.includes("largest-contentful-paint") && full.includes("sendBeacon"));
  assert.ok(small.length * 3 < full.length, `${small.length} vs ${full.length}`);
});
