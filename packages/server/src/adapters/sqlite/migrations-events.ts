// Migrations of the events-out tables (issue 21): gates, webhooks.
/** One migration (the shape of `Migration` in migrations.ts, not imported: that file imports this one). */

export const GATE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 12,
    name: "gates of iTwins (issue 21)",
    sql: `
      -- URLs called before a changeset is accepted or a named version created; in registration order (created_at,
      -- then rowid). No foreign key: iTwins are deleted softly, and a gate of a deleted iTwin is never called.
      CREATE TABLE itwin_gates (
        id TEXT PRIMARY KEY,
        itwin_id TEXT NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        timeout_ms INTEGER NOT NULL,
        failure TEXT NOT NULL,
        secret TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
      );
      CREATE INDEX itwin_gates_by_itwin ON itwin_gates(itwin_id);
    `,
  },
];

/** Webhooks and their outbox of deliveries (issue 21); PostgreSQL migration 10. */
export const WEBHOOK_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 13,
    name: "webhooks and their deliveries (issue 21)",
    sql: `
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
        expires_ms INTEGER NOT NULL,
        active INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
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
        attempts INTEGER NOT NULL,
        next_attempt_ms INTEGER NOT NULL,
        enqueued_ms INTEGER NOT NULL,
        last_status INTEGER,
        last_answer TEXT,
        duration_ms INTEGER,
        last_attempt_at TEXT,
        lease_owner TEXT,
        lease_until_ms INTEGER
      );
      CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(state, next_attempt_ms);
      CREATE INDEX webhook_deliveries_stream ON webhook_deliveries(webhook_id, stream, state);
    `,
  },
];
