// Migrations whose tables are the same on both databases but for the spelling of a few types, written once over a
// DdlDialect (issue 19: no SQL statement written twice). Each backend's list names them with its own version
// number and name (sqlite/migrations-*.ts, postgres/pg-migrations-*.ts). Append only, like every migration: these
// texts ran on existing databases, so a change here must leave what they create byte for byte the same (SQLite
// keeps each CREATE statement's text in sqlite_master; PostgreSQL its catalog: types, column order, identities).

/** How SQLite and PostgreSQL spell the types (and table options) of a table that is otherwise the same. */
export interface DdlDialect {
  /** A 64-bit integer column: SQLite's INTEGER, PostgreSQL's BIGINT. */
  integer: string;
  /** Bytes: SQLite's BLOB, PostgreSQL's BYTEA. */
  bytes: string;
  /** After a table's closing parenthesis: SQLite's ` WITHOUT ROWID` (clustered on its key); nothing on PostgreSQL. */
  withoutRowid: string;
  /**
   * Appended after a table's last column (at the migrations' 8-space indentation) where rows are read in insertion
   * order: nothing on SQLite (its rowid), PostgreSQL's `seq` identity column, which stands in for the rowid and which
   * inserts never name (`SqlDialect.insertionOrder`).
   */
  insertionOrderColumn: string;
}

export const SQLITE_DDL: DdlDialect = {
  integer: "INTEGER",
  bytes: "BLOB",
  withoutRowid: " WITHOUT ROWID",
  insertionOrderColumn: "",
};

export const POSTGRES_DDL: DdlDialect = {
  integer: "BIGINT",
  bytes: "BYTEA",
  withoutRowid: "",
  insertionOrderColumn: ",\n        seq BIGINT GENERATED ALWAYS AS IDENTITY",
};

/** Users who ever connected to an iModel: SQLite migration 6, PostgreSQL migration 3. */
export function imodelUsersMigration(d: DdlDialect): string {
  return `
      -- Everyone who acquired a briefcase, kept after the briefcase is released: the users endpoints list "users who
      -- have ever been connected to the iModel", as the cloud does.
      CREATE TABLE imodel_users (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        first_seen_at TEXT NOT NULL,
        PRIMARY KEY (imodel_id, user_id)
      )${d.withoutRowid};
      INSERT INTO imodel_users (imodel_id, user_id, first_seen_at)
        SELECT imodel_id, owner_id, MIN(acquired_at) FROM briefcases GROUP BY imodel_id, owner_id;
    `;
}

/**
 * Element-level change summaries of changesets (issue 20): SQLite migration 10, PostgreSQL migration 7 (their tables
 * were replaced by {@link changeSummaryBlobMigration}).
 */
export function changeSummariesMigration(d: DdlDialect): string {
  return `
      CREATE TABLE change_summaries (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        changeset_index ${d.integer} NOT NULL,
        changeset_id TEXT NOT NULL,
        inserted ${d.integer} NOT NULL,
        updated ${d.integer} NOT NULL,
        deleted ${d.integer} NOT NULL,
        schema_changed ${d.integer} NOT NULL,
        schemas TEXT NOT NULL,
        counts TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (imodel_id, changeset_index)
      )${d.withoutRowid};
      CREATE TABLE changed_elements (
        imodel_id TEXT NOT NULL,
        changeset_index ${d.integer} NOT NULL,
        element_id TEXT NOT NULL,
        op TEXT NOT NULL,
        class_name TEXT NOT NULL,
        model_id TEXT NOT NULL,
        previous_model_id TEXT,
        parent_id TEXT,
        label TEXT,
        properties TEXT,
        PRIMARY KEY (imodel_id, changeset_index, element_id),
        FOREIGN KEY (imodel_id, changeset_index) REFERENCES change_summaries(imodel_id, changeset_index) ON DELETE CASCADE
      )${d.withoutRowid};
      -- No second index: a compare reads a range of the primary key (its changesets) and sorts it by element, which
      -- costs less than an index repeating every row would on disk.
    `;
}

/** Gates of iTwins (issue 21): SQLite migration 12, PostgreSQL migration 9. */
export function gatesMigration(d: DdlDialect): string {
  return `
      -- URLs called before a changeset is accepted or a named version created; in registration order (created_at,
      -- then rowid). No foreign key: iTwins are deleted softly, and a gate of a deleted iTwin is never called.
      CREATE TABLE itwin_gates (
        id TEXT PRIMARY KEY,
        itwin_id TEXT NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        timeout_ms ${d.integer} NOT NULL,
        failure TEXT NOT NULL,
        secret TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL${d.insertionOrderColumn}
      );
      CREATE INDEX itwin_gates_by_itwin ON itwin_gates(itwin_id);
    `;
}

/** Webhooks and their outbox of deliveries (issue 21): SQLite migration 13, PostgreSQL migration 10. */
export function webhooksMigration(d: DdlDialect): string {
  return `
      -- Webhooks API v2: scope 'iTwin' (scope_id the iTwin) or 'Account' (the whole hub, scope_id null); event_types a
      -- JSON array; expires_ms mirrors expires_at for the outbox's filter.
      CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        scope TEXT NOT NULL,
        scope_id TEXT,
        callback_url TEXT NOT NULL,
        event_types TEXT NOT NULL,
        secret TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        expires_ms ${d.integer} NOT NULL,
        active ${d.integer} NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL${d.insertionOrderColumn}
      );
      CREATE INDEX webhooks_by_scope ON webhooks(scope_id);
      -- The outbox: one row per event and webhook, written in the transaction of the change it describes. stream is
      -- the order key (the iModel, else the iTwin): a webhook's deliveries of one stream go out in insertion order.
      CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        stream TEXT NOT NULL,
        event_type TEXT NOT NULL,
        envelope TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts ${d.integer} NOT NULL,
        next_attempt_ms ${d.integer} NOT NULL,
        enqueued_ms ${d.integer} NOT NULL,
        last_status ${d.integer},
        last_answer TEXT,
        duration_ms ${d.integer},
        last_attempt_at TEXT,
        lease_owner TEXT,
        lease_until_ms ${d.integer}${d.insertionOrderColumn}
      );
      CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(state, next_attempt_ms);
      CREATE INDEX webhook_deliveries_stream ON webhook_deliveries(webhook_id, stream, state);
    `;
}

/**
 * Indexes that let the deliverer pass over the deliveries waiting behind a failing one (issue 21): SQLite migration
 * 15, PostgreSQL migration 12.
 */
export function webhookBacklogMigration(): string {
  return `
      -- A stream's pending deliveries by next attempt: the outbox gives a delivery queued behind a retrying one that
      -- one's next attempt (they wait for it anyway), and a retry moves them along, so the claim's walk of the due
      -- deliveries no longer meets the backlog behind a dead callback. Its minimum is one index lookup.
      CREATE INDEX webhook_deliveries_stream_due ON webhook_deliveries(webhook_id, stream, next_attempt_ms)
        WHERE state = 'pending';
      -- The deliveries in flight (a claim sets a lease, its outcome clears it): few, read for the next due time.
      CREATE INDEX webhook_deliveries_leased ON webhook_deliveries(lease_until_ms) WHERE lease_until_ms IS NOT NULL;
    `;
}

/**
 * The outbox as one row per event, fanned out into deliveries after the change commits (issue 21: 100 webhooks cost
 * a push 100 inserts): SQLite migration 16, PostgreSQL migration 13.
 */
export function webhookEventsMigration(d: DdlDialect): string {
  return `
      -- One row per event, written in the transaction of the change it describes when at least one webhook matched it
      -- then; webhook_ids (a JSON array) are those webhooks. Any node's deliverer fans the rows out into
      -- webhook_deliveries, oldest first, and deletes them in that transaction. stream is the deliveries' order key.
      CREATE TABLE webhook_events (
        stream TEXT NOT NULL,
        itwin_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        content TEXT NOT NULL,
        webhook_ids TEXT NOT NULL,
        enqueued_ms ${d.integer} NOT NULL${d.insertionOrderColumn}
      );
    `;
}

/**
 * Change summaries as one compressed blob of elements per changeset, with a failure reason (issue 20): SQLite
 * migration 14, PostgreSQL migration 11.
 */
export function changeSummaryBlobMigration(d: DdlDialect): string {
  return `
      -- The elements of a changeset become one brotli-compressed blob in its summary row (changed-elements-codec.ts):
      -- a row per element cost 5× the changesets' own bytes. Existing summaries are dropped, not converted (SQL
      -- cannot compress): the backfill summarizes history lacking them again at the hub's next start.
      DROP TABLE changed_elements;
      DROP TABLE change_summaries;
      CREATE TABLE change_summaries (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        changeset_index ${d.integer} NOT NULL,
        changeset_id TEXT NOT NULL,
        inserted ${d.integer} NOT NULL,
        updated ${d.integer} NOT NULL,
        deleted ${d.integer} NOT NULL,
        schema_changed ${d.integer} NOT NULL,
        schemas TEXT NOT NULL,
        counts TEXT NOT NULL,
        created_at TEXT NOT NULL,
        elements ${d.bytes} NOT NULL,
        -- Null: summarized. Otherwise why the changeset could not be read (no elements; the backfill skips it).
        failure TEXT,
        PRIMARY KEY (imodel_id, changeset_index)
      );
    `;
}
