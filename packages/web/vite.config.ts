import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// @modelhub/client also downloads files to disk for the CLI; the page never calls those methods, so Node's fs is
// replaced by a module that says so instead of being bundled.
const nodeOnly = fileURLToPath(new URL("./src/node-only.ts", import.meta.url));

export default defineConfig({
  plugins: [react()],
  // Relative asset URLs: index.html works at / and behind a proxy's path prefix.
  base: "./",
  resolve: { alias: { "node:fs/promises": nodeOnly, "node:fs": nodeOnly } },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, target: "es2022", chunkSizeWarningLimit: 1500 },
});
