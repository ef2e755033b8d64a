import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { after } from "node:test";
import { openPgPool } from "../../src/adapters/postgres/pg-database.js";
import { PgMetadataStore } from "../../src/adapters/postgres/pg-metadata-store.js";
import { openSqliteMetadataStore } from "../../src/adapters/sqlite/sqlite-metadata-store.js";
import { reusablePgSchema } from "../support/pg-schema.js";
import { metadataStoreContract } from "./metadata-store.contract.js";

type JobRow = { kind: string; dedupeKey: string | null };
const JOBS = 'SELECT kind, dedupe_key AS "dedupeKey" FROM jobs ORDER BY kind, dedupe_key';

metadataStoreContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "modelhub-meta-"));
  const path = join(dir, "metadata.db");
  return {
    store: await openSqliteMetadataStore(path),
    openAnother: () => openSqliteMetadataStore(path),
    queuedJobs: async () => {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare(JOBS).all() as JobRow[];
      } finally {
        db.close();
      }
    },
    serializesAllWriters: true,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

// One migrated schema for the file, emptied for each test (migrating for every test took two minutes in CI).
const pgSchema = reusablePgSchema("meta");
after(() => pgSchema.drop());

metadataStoreContract("postgres", async () => {
  const pool = await pgSchema.fresh();
  const others: ReturnType<typeof openPgPool>[] = [];
  return {
    store: new PgMetadataStore(pool),
    openAnother: async () => {
      const another = openPgPool(pgSchema.url());
      others.push(another);
      return new PgMetadataStore(another);
    },
    queuedJobs: async () => (await pool.query<JobRow>(JOBS)).rows,
    cleanup: async () => {
      await Promise.all([pool, ...others].map((p) => p.end().catch(() => undefined)));
    },
  };
});
