// The package's size as an application ships it: each entry point (and typical imports) bundled, minified and
// gzipped with its dependencies (web-vitals), react and next left out. `npm run size`; `--json` for machines.
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const CASES = {
  "correlatedFetch only": 'import { correlatedFetch } from "@workflow-exporter/browser"; window.f = correlatedFetch();',
  "axios interceptor only": 'import { attachCorrelation } from "@workflow-exporter/browser/axios"; window.a = attachCorrelation;',
  "LogClient only": 'import { LogClient } from "@workflow-exporter/browser"; window.l = LogClient;',
  "startMonitoring (errors, vitals, navigation, interactions)":
    'import { startMonitoring } from "@workflow-exporter/browser"; startMonitoring({ endpoint: "/client-logs" });',
  "everything (index)": 'import * as all from "@workflow-exporter/browser"; window.all = all;',
  "next client (RouteTemplate)": 'import { RouteTemplate } from "@workflow-exporter/browser/next"; window.r = RouteTemplate;',
};

const rows = [];
for (const [name, contents] of Object.entries(CASES)) {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: "js" },
    bundle: true, minify: true, write: false, format: "esm", platform: "browser", external: ["react", "next/*"],
  });
  const code = result.outputFiles[0].contents;
  rows.push({ name, minified: code.length, gzipped: gzipSync(code, { level: 9 }).length });
}
if (process.argv.includes("--json")) console.log(JSON.stringify(rows, null, 2));
else for (const row of rows) console.log(`${row.name.padEnd(60)} ${String(row.minified).padStart(7)} B min ${String(row.gzipped).padStart(6)} B gzip`);
