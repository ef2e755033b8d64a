// Every route file has a test of its own here (fast, through inject: see ../support/inject-hub.ts).
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { describe, it } from "node:test";

/** Route files whose routes need what an in-process hub has not (Azurite, the iTwin.js worker): tested there. */
const ELSEWHERE: Record<string, string> = {
  "blob-containers.ts": "test/e2e/blob-containers.test.ts (Azurite)",
  "element-labels.ts": "test/e2e/permission-matrix.test.ts (the iTwin.js worker reads the labels)",
};

describe("route files", () => {
  it("each packages/server/src/http/routes/*.ts (but context.ts) has test/http/routes/<same name>.test.ts", () => {
    const sources = readdirSync(new URL("../../../src/http/routes/", import.meta.url)).filter(
      (f) => f.endsWith(".ts") && f !== "context.ts",
    );
    const tests = new Set(readdirSync(new URL(".", import.meta.url)));
    assert.ok(sources.length >= 13, `only ${sources.length} route files found`);
    assert.deepEqual(
      sources.filter((f) => !tests.has(f.replace(/\.ts$/, ".test.ts")) && !ELSEWHERE[f]),
      [],
    );
  });
});
