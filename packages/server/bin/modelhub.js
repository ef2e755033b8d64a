#!/usr/bin/env node
// The `modelhub` command. A file that exists before the build, so that npm links the command at install time (npm
// links no bin whose target is missing then, and dist/ is made later by the build).
try {
  await import("../dist/cli.js");
} catch (err) {
  if (err?.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes("dist/cli.js")) {
    process.stderr.write(
      "modelhub: the command is not built yet: run `npm run build` in the repository (npm ci does it).\n",
    );
    process.exit(1);
  }
  throw err;
}
