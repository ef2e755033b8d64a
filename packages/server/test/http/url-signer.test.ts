// Storage link signatures (issue 18, finding 10): the MAC input is length-prefixed, so no other key, size, nonce or
// user verifies with a link's signature; links signed the old way keep working until they expire.
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { UrlSigner } from "../../src/http/storage/url-signer.js";

const secret = randomBytes(32);
const signer = new UrlSigner(secret);

function queryOf(text: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(text));
}

function without(query: Record<string, string>, ...names: string[]): Record<string, string> {
  const copy = { ...query };
  for (const name of names) delete copy[name];
  return copy;
}

/** A link as hubs signed them before signature version 2: fields joined by line breaks. */
function legacyLink(
  key: string,
  permission: "r" | "w",
  ttlSeconds: number,
  size?: number,
  nonce = "AAAAAAAAAAAA",
): Record<string, string> {
  const se = String(Math.floor(Date.now() / 1000 + ttlSeconds));
  const input = `${permission}\n${se}\n${key}${size === undefined ? "" : `\nsz=${size}`}\nsn=${nonce}`;
  const sig = createHmac("sha256", secret).update(input).digest("base64url");
  return { se, sp: permission, ...(size === undefined ? {} : { sz: String(size) }), sn: nonce, sig };
}

describe("storage link signatures", () => {
  it("a link for key K with nonce N does not validate key `K\\nsn=N` (nor with its version dropped)", () => {
    const query = queryOf(signer.sign("files/m/a.cs", "r", 600, undefined, "alice"));
    assert.deepEqual(signer.verify("files/m/a.cs", query, "r"), { ok: true, user: "alice" });
    const shifted = `files/m/a.cs\nsn=${query.sn}`;
    assert.equal(signer.verify(shifted, without(query, "sn"), "r").ok, false);
    assert.equal(signer.verify(shifted, without(query, "sn", "sgv"), "r").ok, false);
    assert.equal(signer.verify(shifted, without(query, "sn", "sgv", "su"), "r").ok, false);
  });

  it("a size limit cannot move into the key, and no signed field can be dropped or changed", () => {
    const query = queryOf(signer.sign("files/m/up.cs", "w", 600, 10, "alice"));
    assert.deepEqual(signer.verify("files/m/up.cs", query, "w"), { ok: true, maxBytes: 10, user: "alice" });
    assert.equal(signer.verify(`files/m/up.cs\nsz=10`, without(query, "sz"), "w").ok, false);
    for (const name of ["sz", "su", "sn", "sgv"])
      assert.equal(signer.verify("files/m/up.cs", without(query, name), "w").ok, false, `${name} dropped`);
    assert.equal(signer.verify("files/m/up.cs", { ...query, su: "mallory" }, "w").ok, false, "another user");
    assert.equal(signer.verify("files/m/up.cs", { ...query, sz: "11" }, "w").ok, false, "another size");
    // Length prefixes: characters moved from one field into the next change the input.
    assert.equal(signer.verify("files/m/up.c", { ...query, sz: `s${query.sz}` }, "w").ok, false);
  });

  it("links signed the old way still work until they expire, unless a key or nonce holds a control character", () => {
    assert.deepEqual(signer.verify("files/m/a.cs", legacyLink("files/m/a.cs", "r", 600), "r"), { ok: true });
    assert.deepEqual(signer.verify("files/m/up.cs", legacyLink("files/m/up.cs", "w", 600, 42), "w"), {
      ok: true,
      maxBytes: 42,
    });
    assert.deepEqual(signer.verify("files/m/a.cs", legacyLink("files/m/a.cs", "r", -5), "r"), {
      ok: false,
      reason: "The URL has expired.",
    });
    // The old form's ambiguity: key `K\nsz=42` with no size is the same input as key K with size 42.
    const sized = legacyLink("files/m/up.cs", "w", 600, 42);
    assert.equal(signer.verify("files/m/up.cs\nsz=42", without(sized, "sz"), "w").ok, false);
    const weird = legacyLink("files/m/a\u0007.cs", "r", 600);
    assert.equal(signer.verify("files/m/a\u0007.cs", weird, "r").ok, false);
  });
});
