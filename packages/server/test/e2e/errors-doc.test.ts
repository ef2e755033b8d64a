// docs/errors.md must list exactly the codes the server can send (fastify's habit: the docs stay in sync by test).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { HUB_ERROR_CODES, HUB_ERROR_DETAIL_CODES } from "@modelhub/protocol";
import { STATUS_BY_CODE } from "../../src/http/error-mapping.js";

const doc = await readFile(new URL("../../../../docs/errors.md", import.meta.url), "utf8");
const documented = (section: string) =>
  [...doc.split(section)[1]!.split("\n## ")[0]!.matchAll(/^\| `([A-Za-z]+)` \|(?: (\d{3}) \|)?/gm)].map((m) => ({ code: m[1]!, status: m[2] }));

describe("docs/errors.md", () => {
  it("lists every error code with the status the server sends, and nothing else", () => {
    const rows = documented("## Codes");
    assert.deepEqual(rows.map((r) => r.code).sort(), [...HUB_ERROR_CODES].sort());
    for (const row of rows) assert.equal(Number(row.status), STATUS_BY_CODE[row.code as keyof typeof STATUS_BY_CODE], row.code);
  });

  it("lists every detail code", () => {
    assert.deepEqual(documented("## Detail codes").map((r) => r.code).sort(), [...HUB_ERROR_DETAIL_CODES].sort());
  });
});
