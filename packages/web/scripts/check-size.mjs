// Prints the gzipped weight of the built UI's JavaScript and fails the build above the budget (a slow link must
// still load the page quickly). Run after `vite build`; `--json` prints the figures as JSON.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const BUDGET_BYTES = 400 * 1024;
const assets = fileURLToPath(new URL("../dist/assets/", import.meta.url));
const files = readdirSync(assets).filter((f) => f.endsWith(".js") || f.endsWith(".css"));
const sizes = files.map((file) => {
  const bytes = readFileSync(join(assets, file));
  return {
    file,
    kind: file.endsWith(".js") ? "js" : "css",
    bytes: bytes.length,
    gzipped: gzipSync(bytes, { level: 9 }).length,
  };
});
const js = sizes.filter((s) => s.kind === "js").reduce((n, s) => n + s.gzipped, 0);
const css = sizes.filter((s) => s.kind === "css").reduce((n, s) => n + s.gzipped, 0);
if (process.argv.includes("--json")) {
  process.stdout.write(`${JSON.stringify({ jsGzipped: js, cssGzipped: css, budget: BUDGET_BYTES, files: sizes })}\n`);
} else {
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  process.stdout.write(`web UI: JavaScript ${kb(js)} gzipped (budget ${kb(BUDGET_BYTES)}), CSS ${kb(css)} gzipped\n`);
}
if (js === 0 || js > BUDGET_BYTES) {
  process.stderr.write(
    js === 0
      ? "web UI: no JavaScript was built\n"
      : `web UI: JavaScript is over its budget of ${BUDGET_BYTES} bytes gzipped\n`,
  );
  process.exit(1);
}
