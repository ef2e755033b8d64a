import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteIdentityStore } from "../../src/adapters/sqlite/sqlite-identity-store.js";
import { identityStoreContract } from "./identity-store.contract.js";

identityStoreContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "modelhub-identity-"));
  const path = join(dir, "metadata.db");
  const store = SqliteIdentityStore.open(path);
  return {
    store,
    reopen: async () => SqliteIdentityStore.open(path),
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
