// An open change feed follows access: it ends within a few seconds (the hub checks every 2 s) of its user losing
// read access, or of the token being revoked (--auth tokens) or expiring (--auth oidc: the token's own exp, not the
// 30 s clock tolerance). A stream that keeps its access stays open meanwhile.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SignJWT, importJWK } from "jose";
import type { CryptoKey } from "jose";
import { SqliteIdentityStore } from "../../src/adapters/sqlite/sqlite-identity-store.js";
import type { SecuredHub } from "../support/access.js";
import { accessControl, startSecuredHub } from "../support/access.js";
import type { TestHub } from "../support/hub.js";
import { startTestHub } from "../support/hub.js";
import type { LocalIdentityProvider } from "@modelhub/test-support/identity-provider.js";
import { startIdentityProvider } from "@modelhub/test-support/identity-provider.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** An open stream: resolves `ended` (ms after it opened) when the hub ends it. */
interface OpenStream {
  ended: Promise<number>;
  isOpen(): boolean;
  close(): void;
}

async function openStream(url: string, token: string): Promise<OpenStream> {
  const abort = new AbortController();
  const response = await fetch(url, {
    headers: { accept: "text/event-stream", authorization: `Bearer ${token}` },
    signal: abort.signal,
  });
  assert.equal(response.status, 200, await (response.status === 200 ? Promise.resolve("") : response.text()));
  const reader = response.body!.getReader();
  const first = await reader.read();
  assert.match(new TextDecoder().decode(first.value), /^retry: \d+/, "the stream started");
  const opened = Date.now();
  let open = true;
  const ended = (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // aborted or reset: ended as well
    }
    open = false;
    return Date.now() - opened;
  })();
  return { ended, isOpen: () => open, close: () => abort.abort() };
}

const within = async (stream: OpenStream, ms: number, what: string) =>
  Promise.race([
    stream.ended,
    new Promise<number>((_, reject) =>
      setTimeout(() => reject(new Error(`the stream was still open ${ms} ms after ${what}`)), ms),
    ),
  ]);

describe("open change feeds follow access (--auth tokens)", () => {
  let s: SecuredHub;
  let iModelId: string;
  const T = "e0e0e0e0-1111-4222-8333-444455556666";
  const events = () => `${s.hub.baseUrl}/${iModelId}/events`;

  before(async () => {
    s = await startSecuredHub(["alice", "bob", "carol", "dave"]);
    const made = await s.as("alice").api<Json>("POST", "", { body: { iTwinId: T, name: "Watched" } });
    assert.equal(made.status, 201, made.text);
    iModelId = made.body.iModel.id;
    const reader = await accessControl(s.as("alice"))("POST", `/itwins/${T}/roles`, {
      displayName: "Reader",
      permissions: ["imodels_read"],
    });
    await accessControl(s.as("alice"))("POST", `/itwins/${T}/members/users`, {
      members: ["bob", "carol", "dave"].map((userId) => ({ userId, roleIds: [reader.body.role.id] })),
    });
  });
  after(() => s?.close());

  it("ends within a few seconds of the user losing read access; a stream that keeps it stays open; reconnecting is refused", async () => {
    const bob = await openStream(events(), s.token("bob"));
    const dave = await openStream(events(), s.token("dave"));
    try {
      const removed = Date.now();
      assert.equal((await accessControl(s.as("alice"))("DELETE", `/itwins/${T}/members/users/bob`)).status, 204);
      await within(bob, 6000, "bob was removed");
      assert.ok(Date.now() - removed < 6000);
      assert.equal(dave.isOpen(), true, "dave keeps his access and his stream");
      const again = await fetch(events(), {
        headers: { accept: "text/event-stream", authorization: `Bearer ${s.token("bob")}` },
      });
      assert.equal(again.status, 404);
    } finally {
      bob.close();
      dave.close();
    }
  });

  it("ends within a few seconds of the token being revoked", async () => {
    const carol = await openStream(events(), s.token("carol"));
    try {
      const identities = SqliteIdentityStore.open(join(s.hub.dataDir, "metadata.db"));
      try {
        const [token] = await identities.listTokens({ userId: "carol" });
        await identities.revokeToken(token!.id);
      } finally {
        await identities.close();
      }
      await within(carol, 6000, "carol's token was revoked");
    } finally {
      carol.close();
    }
  });
});

describe("open change feeds follow access (--auth oidc)", () => {
  let idp: LocalIdentityProvider;
  let hub: TestHub;
  let key: CryptoKey;
  const T = "f0f0f0f0-1111-4222-8333-444455556666";
  const token = (expiresInSeconds: number) =>
    new SignJWT({ sub: "alice" })
      .setProtectedHeader({ alg: "RS256", kid: idp.privateJwk.kid, typ: "at+jwt" })
      .setIssuer(idp.issuer)
      .setAudience(idp.audience)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
      .sign(key);

  before(async () => {
    idp = await startIdentityProvider([{ clientId: "alice", secret: "alice-secret-0123456789-abcdefghij" }]);
    key = (await importJWK(idp.privateJwk, "RS256")) as CryptoKey;
    hub = await startTestHub({ auth: { mode: "oidc", issuer: idp.issuer, audience: idp.audience } });
  });
  after(async () => {
    await hub?.close();
    await idp?.close();
  });

  it("ends within a few seconds of the token's exp (not 30 s later), and not before it", async () => {
    const made = await hub.api<Json>("POST", "", {
      user: null,
      headers: { authorization: `Bearer ${await idp.token("alice")}` },
      body: { iTwinId: T, name: "Watched" },
    });
    assert.equal(made.status, 201, made.text);
    const stream = await openStream(`${hub.baseUrl}/${made.body.iModel.id}/events`, await token(5));
    try {
      const lasted = await within(stream, 12_000, "the token was issued (exp in 5 s)");
      assert.ok(lasted >= 2500, `the stream ended ${lasted} ms after it opened, before its token expired`);
    } finally {
      stream.close();
    }
  });
});
