// Migrations of the events-out tables (issue 21): gates, webhooks; their SQL is shared with PostgreSQL
// (adapters/sql/shared-migrations.ts).
import {
  gatesMigration,
  SQLITE_DDL,
  webhookBacklogMigration,
  webhookEventsMigration,
  webhooksMigration,
} from "../sql/shared-migrations.js";

/**
 * Gates of iTwins (issue 21); PostgreSQL migration 9. Entries have the shape of `Migration`, not imported:
 * migrations.ts imports this file.
 */
export const GATE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  { version: 12, name: "gates of iTwins (issue 21)", sql: gatesMigration(SQLITE_DDL) },
];

/** Webhooks and their outbox of deliveries (issue 21); PostgreSQL migration 10. */
export const WEBHOOK_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  { version: 13, name: "webhooks and their deliveries (issue 21)", sql: webhooksMigration(SQLITE_DDL) },
];

/**
 * Listed after CHANGE_MIGRATIONS (14): indexes that pass over a failing callback's backlog (PostgreSQL 12); one
 * outbox row per event (PostgreSQL 13).
 */
export const WEBHOOK_BACKLOG_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 15,
    name: "webhook deliveries: indexes to pass over a failing callback's backlog (issue 21)",
    sql: webhookBacklogMigration(),
  },
  {
    version: 16,
    name: "webhook events: one outbox row per event, fanned out into deliveries after commit (issue 21)",
    sql: webhookEventsMigration(SQLITE_DDL),
  },
];
