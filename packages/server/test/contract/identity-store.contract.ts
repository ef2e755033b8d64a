import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { IdentityStore } from "../../src/ports/identity-store.js";

/** A fresh, empty store; `cleanup` closes it and removes what it left behind. `reopen` gives a second handle on the same data. */
export type IdentityStoreFactory = () => Promise<{
  store: IdentityStore;
  reopen(): Promise<IdentityStore>;
  cleanup(): Promise<void>;
}>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const hash = () => createHash("sha256").update(randomBytes(32)).digest("hex");

/** The IdentityStore contract: every adapter must pass it unchanged. */
export function identityStoreContract(name: string, factory: IdentityStoreFactory): void {
  describe(`IdentityStore contract: ${name}`, () => {
    let store: IdentityStore;
    let reopen: () => Promise<IdentityStore>;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, reopen, cleanup } = await factory());
    });
    afterEach(() => cleanup());

    it("createToken stores a token under a fresh UUID and returns it without its hash", async () => {
      const h = hash();
      const created = await store.createToken({
        userId: "alice",
        description: "laptop",
        tokenHash: h,
        createdAt: new Date("2030-01-01T00:00:00Z"),
        expiresAt: new Date("2030-04-01T00:00:00Z"),
      });
      assert.match(created.id, UUID);
      assert.deepEqual(created, {
        id: created.id,
        userId: "alice",
        description: "laptop",
        createdAt: "2030-01-01T00:00:00.000Z",
        expiresAt: "2030-04-01T00:00:00.000Z",
        revokedAt: null,
        lastUsedAt: null,
      });
      assert.ok(!JSON.stringify(created).includes(h), "the hash is not part of the record");
      assert.deepEqual(await store.getToken(created.id), created);
      assert.deepEqual(await store.findTokenByHash(h), created);
      assert.equal(await store.findTokenByHash(hash()), undefined);
      assert.equal(await store.getToken("00000000-0000-0000-0000-000000000000"), undefined);
      const other = await store.createToken({ userId: "alice", tokenHash: hash() });
      assert.notEqual(other.id, created.id);
      assert.equal(other.description, null);
      assert.equal(other.expiresAt, null, "no expiry when none is given");
      assert.ok(Math.abs(Date.parse(other.createdAt) - Date.now()) < 5000, "createdAt defaults to now");
    });

    it("refuses a second token with the same hash", async () => {
      const h = hash();
      await store.createToken({ userId: "alice", tokenHash: h });
      await assert.rejects(store.createToken({ userId: "bob", tokenHash: h }));
      assert.deepEqual(
        (await store.listTokens()).map((t) => t.userId),
        ["alice"],
      );
    });

    it("listTokens lists oldest first, and only one user's when asked", async () => {
      assert.deepEqual(await store.listTokens(), []);
      const a1 = await store.createToken({
        userId: "alice",
        tokenHash: hash(),
        createdAt: new Date("2030-01-01T00:00:00Z"),
      });
      const b1 = await store.createToken({
        userId: "bob",
        tokenHash: hash(),
        createdAt: new Date("2030-01-02T00:00:00Z"),
      });
      const a2 = await store.createToken({
        userId: "alice",
        tokenHash: hash(),
        createdAt: new Date("2030-01-03T00:00:00Z"),
      });
      assert.deepEqual(
        (await store.listTokens()).map((t) => t.id),
        [a1.id, b1.id, a2.id],
      );
      assert.deepEqual(
        (await store.listTokens({ userId: "alice" })).map((t) => t.id),
        [a1.id, a2.id],
      );
      assert.deepEqual(await store.listTokens({ userId: "carol" }), []);
    });

    it("revokeToken marks the token revoked once (the first time is kept) and leaves the others alone", async () => {
      const h = hash();
      const token = await store.createToken({ userId: "alice", tokenHash: h });
      const other = await store.createToken({ userId: "alice", tokenHash: hash() });
      const revoked = await store.revokeToken(token.id, new Date("2031-01-01T00:00:00Z"));
      assert.equal(revoked?.revokedAt, "2031-01-01T00:00:00.000Z");
      const again = await store.revokeToken(token.id, new Date("2032-01-01T00:00:00Z"));
      assert.equal(again?.revokedAt, "2031-01-01T00:00:00.000Z");
      assert.equal(
        (await store.findTokenByHash(h))?.revokedAt,
        "2031-01-01T00:00:00.000Z",
        "a revoked token is still found (the caller refuses it)",
      );
      assert.equal((await store.getToken(other.id))?.revokedAt, null);
      assert.equal(await store.revokeToken("00000000-0000-0000-0000-000000000000"), undefined);
    });

    it("a revocation through another handle is seen by the next lookup", async () => {
      const h = hash();
      const token = await store.createToken({ userId: "alice", tokenHash: h });
      assert.equal((await store.findTokenByHash(h))?.revokedAt, null);
      const second = await reopen();
      try {
        await second.revokeToken(token.id);
      } finally {
        await second.close();
      }
      assert.notEqual((await store.findTokenByHash(h))?.revokedAt, null);
    });

    it("touchToken records the last use and never moves it backwards", async () => {
      const token = await store.createToken({ userId: "alice", tokenHash: hash() });
      await store.touchToken(token.id, new Date("2030-05-01T00:00:00Z"));
      assert.equal((await store.getToken(token.id))?.lastUsedAt, "2030-05-01T00:00:00.000Z");
      await store.touchToken(token.id, new Date("2030-04-01T00:00:00Z"));
      assert.equal((await store.getToken(token.id))?.lastUsedAt, "2030-05-01T00:00:00.000Z");
      await store.touchToken(token.id, new Date("2030-06-01T00:00:00Z"));
      assert.equal((await store.getToken(token.id))?.lastUsedAt, "2030-06-01T00:00:00.000Z");
      await store.touchToken("00000000-0000-0000-0000-000000000000", new Date()); // no such token: nothing happens
    });

    it("upsertProfile creates and replaces a profile; getProfile and listProfiles read it back", async () => {
      assert.equal(await store.getProfile("alice"), undefined);
      const first = await store.upsertProfile(
        {
          userId: "alice",
          displayName: "Alice Liddell",
          givenName: "Alice",
          surname: "Liddell",
          email: "alice@example.com",
        },
        new Date("2030-01-01T00:00:00Z"),
      );
      assert.deepEqual(first, {
        userId: "alice",
        displayName: "Alice Liddell",
        givenName: "Alice",
        surname: "Liddell",
        email: "alice@example.com",
        updatedAt: "2030-01-01T00:00:00.000Z",
      });
      assert.deepEqual(await store.getProfile("alice"), first);
      const second = await store.upsertProfile(
        { userId: "alice", displayName: "Alice L." },
        new Date("2030-02-01T00:00:00Z"),
      );
      assert.deepEqual(
        second,
        { userId: "alice", displayName: "Alice L.", updatedAt: "2030-02-01T00:00:00.000Z" },
        "fields not given are cleared",
      );
      await store.upsertProfile({ userId: "bob", email: "bob@example.com" });
      const listed = await store.listProfiles(["bob", "alice", "carol"]);
      assert.deepEqual(listed.map((p) => p.userId).sort(), ["alice", "bob"]);
      assert.deepEqual(await store.listProfiles([]), []);
      assert.deepEqual(await store.getProfile("ALICE"), undefined, "user ids are compared exactly");
    });
  });
}
