// Large answers sent in pieces are the same JSON text JSON.stringify makes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jsonPieces } from "../../src/http/json-pieces.js";

async function text(value: unknown): Promise<{ text: string; pieces: number }> {
  let out = "";
  let pieces = 0;
  for await (const piece of jsonPieces(value)) {
    out += piece;
    pieces++;
  }
  return { text: out, pieces };
}

describe("jsonPieces", () => {
  it("gives JSON.stringify's text for any JSON value, in pieces of at most 5,000 array elements", async () => {
    const ids = Array.from({ length: 12_345 }, (_, i) => `0x${i.toString(16)}`);
    const values: unknown[] = [
      {
        lock: {
          briefcaseId: 2,
          lockedObjects: [
            { lockLevel: "exclusive", objectIds: ids },
            { lockLevel: "shared", objectIds: ["0x1"] },
          ],
        },
      },
      {
        a: undefined,
        b: null,
        c: [],
        d: {},
        e: 'quote " and \\u2028 \u2028 é 😀',
        f: [1, [2, { g: 3 }], "x"],
        h: true,
        i: -0.5,
      },
      [],
      "text",
      null,
      ids,
    ];
    for (const value of values) assert.equal((await text(value)).text, JSON.stringify(value));
    assert.ok((await text({ ids })).pieces >= 5, "a long array comes in several pieces");
  });
});
