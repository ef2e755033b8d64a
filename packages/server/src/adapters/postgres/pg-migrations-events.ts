// Migrations of the events-out tables (issue 21): gates, webhooks.
/** One migration (the shape of `PgMigration`, not imported: pg-migrations.ts imports this file). */

export const PG_GATE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 9,
    name: "gates of iTwins (issue 21; SQLite migration 12)",
    sql: `
      -- seq stands in for SQLite's rowid (registration order after created_at); inserts never name it.
      CREATE TABLE itwin_gates (
        id TEXT PRIMARY KEY,
        itwin_id TEXT NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        timeout_ms BIGINT NOT NULL,
        failure TEXT NOT NULL,
        secret TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        seq BIGINT GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX itwin_gates_by_itwin ON itwin_gates(itwin_id);
    `,
  },
];

/** Webhooks and their outbox of deliveries (issue 21; SQLite migration 13). */
export const PG_WEBHOOK_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 10,
    name: "webhooks and their deliveries (issue 21; SQLite migration 13)",
    sql: `
      -- seq stands in for SQLite's rowid (creation order, a stream's delivery order); inserts never name it.
      CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        scope TEXT NOT NULL,
        scope_id TEXT,
        callback_url TEXT NOT NULL,
        event_types TEXT NOT NULL,
        secret TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        expires_ms BIGINT NOT NULL,
        active BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        seq BIGINT GENERATED ALWAYS AS IDENTITY
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
        attempts BIGINT NOT NULL,
        next_attempt_ms BIGINT NOT NULL,
        enqueued_ms BIGINT NOT NULL,
        last_status BIGINT,
        last_answer TEXT,
        duration_ms BIGINT,
        last_attempt_at TEXT,
        lease_owner TEXT,
        lease_until_ms BIGINT,
        seq BIGINT GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(state, next_attempt_ms);
      CREATE INDEX webhook_deliveries_stream ON webhook_deliveries(webhook_id, stream, state);
    `,
  },
];
