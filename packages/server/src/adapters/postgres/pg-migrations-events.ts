// Migrations of the events-out tables (issue 21): gates, webhooks; their SQL is SQLite's, with PostgreSQL's types
// and `seq` (adapters/sql/shared-migrations.ts).
import {
  gatesMigration,
  POSTGRES_DDL,
  webhookBacklogMigration,
  webhookEventsMigration,
  webhooksMigration,
} from "../sql/shared-migrations.js";

/**
 * Gates of iTwins (issue 21; SQLite migration 12). Entries have the shape of `PgMigration`, not imported:
 * pg-migrations.ts imports this file.
 */
export const PG_GATE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  { version: 9, name: "gates of iTwins (issue 21; SQLite migration 12)", sql: gatesMigration(POSTGRES_DDL) },
];

/** Webhooks and their outbox of deliveries (issue 21; SQLite migration 13). */
export const PG_WEBHOOK_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 10,
    name: "webhooks and their deliveries (issue 21; SQLite migration 13)",
    sql: webhooksMigration(POSTGRES_DDL),
  },
];

/**
 * Listed after PG_CHANGE_MIGRATIONS (11): indexes that pass over a failing callback's backlog (SQLite 15); one outbox
 * row per event (SQLite 16).
 */
export const PG_WEBHOOK_BACKLOG_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 12,
    name: "webhook deliveries: indexes to pass over a failing callback's backlog (issue 21; SQLite migration 15)",
    sql: webhookBacklogMigration(),
  },
  {
    version: 13,
    name: "webhook events: one outbox row per event, fanned out into deliveries after commit (issue 21; SQLite migration 16)",
    sql: webhookEventsMigration(POSTGRES_DDL),
  },
];
