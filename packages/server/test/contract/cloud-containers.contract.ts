import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import type { CloudContainers } from "../../src/ports/cloud-containers.js";

/**
 * The CloudContainers port's contract. `putBlob` writes one blob with a token the way a client (CloudSqlite) does,
 * and answers its HTTP status; `getBlob` reads one: the tokens are judged by the store itself, not by the adapter.
 */
export interface CloudContainersHarness {
  containers: CloudContainers;
  putBlob(containerName: string, blob: string, token: string): Promise<number>;
  getBlob(containerName: string, blob: string, token: string): Promise<number>;
  listBlobs(containerName: string, token: string): Promise<number>;
}

const fresh = (tag: string) => `contract-${tag}-${randomUUID().slice(0, 8)}`;
const inAnHour = () => new Date(Date.now() + 3600_000);

export function cloudContainersContract(name: string, harness: () => CloudContainersHarness): void {
  describe(`CloudContainers contract: ${name}`, () => {
    it("create answers created once and exists after; two creates at once: exactly one created", async () => {
      const { containers } = harness();
      const a = fresh("a");
      assert.equal(await containers.exists(a), false);
      assert.equal(await containers.create(a), "created");
      assert.equal(await containers.create(a), "exists");
      assert.equal(await containers.exists(a), true);
      const b = fresh("b");
      const results = await Promise.all([containers.create(b), containers.create(b), containers.create(b)]);
      assert.deepEqual(results.filter((r) => r === "created").length, 1, results.join());
    });

    it("a write token writes and reads that container only; a read token reads and lists, never writes", async () => {
      const h = harness();
      const a = fresh("tok-a");
      const b = fresh("tok-b");
      await h.containers.create(a);
      await h.containers.create(b);
      const write = h.containers.token(a, "write", inAnHour());
      const read = h.containers.token(a, "read", inAnHour());
      assert.equal(await h.putBlob(a, "block", write), 201);
      assert.equal(await h.getBlob(a, "block", write), 200);
      assert.equal(await h.getBlob(a, "block", read), 200);
      assert.equal(await h.listBlobs(a, read), 200);
      assert.equal(await h.putBlob(a, "other", read), 403);
      assert.equal(await h.putBlob(b, "block", write), 403);
      assert.equal(await h.getBlob(b, "block", read), 403);
      const expired = h.containers.token(a, "read", new Date(Date.now() - 60_000));
      assert.equal(await h.getBlob(a, "block", expired), 403);
    });

    it("isEmpty until a blob is written (a missing container is empty); delete removes it with its blobs, twice is fine", async () => {
      const h = harness();
      const a = fresh("del");
      assert.equal(await h.containers.isEmpty(a), true);
      await h.containers.create(a);
      assert.equal(await h.containers.isEmpty(a), true);
      assert.equal(await h.putBlob(a, "block", h.containers.token(a, "write", inAnHour())), 201);
      assert.equal(await h.containers.isEmpty(a), false);
      await h.containers.delete(a);
      assert.equal(await h.containers.exists(a), false);
      await h.containers.delete(a);
    });

    it("list yields exactly the containers with the prefix", async () => {
      const { containers } = harness();
      const prefix = fresh("list");
      const names = [`${prefix}-1`, `${prefix}-2`];
      for (const n of names) await containers.create(n);
      await containers.create(fresh("other"));
      const listed: string[] = [];
      for await (const n of containers.list(prefix)) listed.push(n);
      assert.deepEqual(listed.sort(), names);
    });
  });
}
