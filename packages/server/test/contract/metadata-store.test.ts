import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteMetadataStore } from "../../src/adapters/sqlite/sqlite-metadata-store.js";
import { metadataStoreContract } from "./metadata-store.contract.js";

metadataStoreContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "modelhub-meta-"));
  return { store: await openSqliteMetadataStore(join(dir, "metadata.db")), cleanup: () => rm(dir, { recursive: true, force: true }) };
});
