// docs/errors.md must list exactly the codes the server can send (fastify's habit: the docs stay in sync by test).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { HUB_ERROR_CODES, HUB_ERROR_DETAIL_CODES } from "@modelhub/protocol";
import { STATUS_BY_CODE } from "../../src/http/error-mapping.js";
import type { BlobStoreErrorCode } from "../../src/ports/blob-store.js";

const doc = await readFile(new URL("../../../../docs/errors.md", import.meta.url), "utf8");
const documented = (section: string) =>
  [
    ...doc
      .split(section)[1]!
      .split("\n## ")[0]!
      .matchAll(/^\| `([A-Za-z]+)` \|(?: (\d{3}) \|)?/gm),
  ].map((m) => ({ code: m[1]!, status: m[2] }));

describe("docs/errors.md", () => {
  it("lists every error code with the status the server sends, and nothing else", () => {
    const rows = documented("## Codes");
    assert.deepEqual(rows.map((r) => r.code).sort(), [...HUB_ERROR_CODES].sort());
    for (const row of rows)
      assert.equal(Number(row.status), STATUS_BY_CODE[row.code as keyof typeof STATUS_BY_CODE], row.code);
  });

  it("lists every detail code", () => {
    assert.deepEqual(
      documented("## Detail codes")
        .map((r) => r.code)
        .sort(),
      [...HUB_ERROR_DETAIL_CODES].sort(),
    );
  });

  it("lists every Azure error code the storage routes send, with its status", async () => {
    // The routes and what they share (refusals of a write live in storage-http.ts).
    const source = (
      await Promise.all(
        ["storage-routes.ts", "storage-http.ts"].map((name) =>
          readFile(new URL(`../../src/http/storage/${name}`, import.meta.url), "utf8"),
        ),
      )
    ).join("\n");
    const sent = new Map(
      [...source.matchAll(/sendXmlError\(\s*reply,\s*(\d{3}|status),\s*"([A-Za-z]+)"/g)].map((m) => [m[2]!, m[1]!]),
    );
    // Blob store errors are passed through with their own code (sendXmlError(reply, 400, err.code, …)).
    for (const code of ["InvalidBlockList", "InvalidBlockId"] satisfies BlobStoreErrorCode[]) sent.set(code, "400");
    const rows = documented("## Storage errors");
    assert.deepEqual(rows.map((r) => r.code).sort(), [...sent.keys()].sort());
    for (const row of rows) if (sent.get(row.code) !== "status") assert.equal(row.status, sent.get(row.code), row.code);
  });
});
