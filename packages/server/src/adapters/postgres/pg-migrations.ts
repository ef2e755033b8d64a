import { PG_CHANGE_MIGRATIONS } from "./pg-migrations-changes.js";
import { PG_GATE_MIGRATIONS, PG_WEBHOOK_BACKLOG_MIGRATIONS, PG_WEBHOOK_MIGRATIONS } from "./pg-migrations-events.js";
import { changeSummariesMigration, imodelUsersMigration, POSTGRES_DDL } from "../sql/shared-migrations.js";

/**
 * Versioned schema of the PostgreSQL metadata database. Append only: never edit a migration that shipped.
 *
 * Migration 1 is the schema SQLite reaches after its migrations 1–5 (src/adapters/sqlite/migrations.ts) with the same
 * table and column names, so the metadata store's SQL text runs on both. Types: BIGINT for every integer (sizes,
 * indexes, counters, ms-since-epoch times); TEXT for ISO timestamps and JSON, exactly as SQLite stores them.
 * A later SQLite migration needs its PostgreSQL twin here; where the two differ only in types, both are written once
 * in adapters/sql/shared-migrations.ts.
 */
export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: "hub metadata, job queue, blob deletions, identities, permissions and audit log (SQLite schema 5)",
    sql: `
      -- SQLite's mh_lower (a JavaScript toLowerCase): case-insensitive matching beyond ASCII. PostgreSQL's lower()
      -- folds non-ASCII letters too in a UTF-8 database with a UTF-8 ctype.
      CREATE FUNCTION mh_lower(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT lower($1)';

      CREATE TABLE imodels (
        id TEXT PRIMARY KEY,
        itwin_id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        extent TEXT,
        containers_enabled BIGINT NOT NULL DEFAULT 0,
        creator_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        state TEXT NOT NULL,
        creation_mode TEXT NOT NULL,
        baseline_state TEXT NOT NULL,
        baseline_size BIGINT,
        baseline_failure TEXT,
        next_briefcase_id BIGINT NOT NULL,
        creation_source TEXT
      );
      CREATE INDEX imodels_by_itwin ON imodels(itwin_id, created_at, id);
      CREATE INDEX imodels_by_name ON imodels(itwin_id, name);

      CREATE TABLE changesets (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        idx BIGINT NOT NULL,
        id TEXT NOT NULL,
        parent_id TEXT NOT NULL,
        description TEXT,
        briefcase_id BIGINT NOT NULL,
        containing_changes BIGINT NOT NULL,
        file_size BIGINT NOT NULL,
        creator_id TEXT NOT NULL,
        pushed_at TEXT NOT NULL,
        state TEXT NOT NULL,
        group_id TEXT,
        synchronization_info TEXT,
        application_id TEXT,
        application_name TEXT,
        uncompressed_size BIGINT,
        PRIMARY KEY (imodel_id, idx)
      );
      CREATE UNIQUE INDEX changesets_by_id ON changesets(imodel_id, id);
      CREATE INDEX changesets_pending ON changesets(imodel_id, state) WHERE state = 'waitingForFile';

      CREATE TABLE briefcases (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        briefcase_id BIGINT NOT NULL,
        owner_id TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        device_name TEXT,
        application_id TEXT,
        application_name TEXT,
        PRIMARY KEY (imodel_id, briefcase_id)
      );
      CREATE INDEX briefcases_by_owner ON briefcases(imodel_id, owner_id);

      CREATE TABLE named_versions (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        changeset_index BIGINT NOT NULL,
        changeset_id TEXT,
        state TEXT NOT NULL,
        creator_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        application_id TEXT,
        application_name TEXT,
        PRIMARY KEY (imodel_id, id)
      );
      CREATE UNIQUE INDEX named_versions_by_name ON named_versions(imodel_id, name);
      CREATE UNIQUE INDEX named_versions_by_changeset ON named_versions(imodel_id, changeset_index);

      CREATE TABLE changeset_groups (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        description TEXT,
        state TEXT NOT NULL,
        creator_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (imodel_id, id)
      );

      CREATE TABLE extended_data (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        changeset_index BIGINT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (imodel_id, changeset_index)
      );

      CREATE TABLE checkpoints (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        changeset_index BIGINT NOT NULL,
        changeset_id TEXT NOT NULL,
        state TEXT NOT NULL,
        blob_key TEXT,
        size BIGINT NOT NULL,
        failure_reason TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (imodel_id, changeset_index)
      );

      CREATE TABLE locks (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        object_id TEXT NOT NULL,
        exclusive_briefcase_id BIGINT,
        last_exclusive_release_index BIGINT,
        PRIMARY KEY (imodel_id, object_id)
      );
      CREATE INDEX locks_exclusive ON locks(imodel_id, exclusive_briefcase_id, object_id) WHERE exclusive_briefcase_id IS NOT NULL;

      CREATE TABLE shared_locks (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        briefcase_id BIGINT NOT NULL,
        object_id TEXT NOT NULL,
        PRIMARY KEY (imodel_id, briefcase_id, object_id)
      );
      CREATE INDEX shared_locks_by_object ON shared_locks(imodel_id, object_id);

      -- seq stands in for SQLite's rowid (enqueue order, which claim follows); inserts never name it.
      -- run_after and lease_until are ms since the epoch on the enqueuing / claiming node's clock.
      CREATE TABLE jobs (
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        max_attempts BIGINT NOT NULL,
        last_error TEXT,
        dedupe_key TEXT,
        worker_id TEXT,
        lease_until BIGINT,
        run_after BIGINT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE UNIQUE INDEX jobs_dedupe ON jobs(dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running');
      CREATE INDEX jobs_ready ON jobs(state, run_after);

      -- Blobs (exact keys, or prefixes ending in '/') to delete, written in the same transaction as the metadata
      -- change that stops referring to them.
      CREATE TABLE blob_deletions (
        key TEXT PRIMARY KEY,
        requested_at BIGINT NOT NULL
      );
      -- While a hold is live (expires_at, ms since epoch, in the future) no blob is deleted.
      CREATE TABLE blob_deletion_holds (
        holder TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL
      );

      -- Hub-issued access tokens (auth mode 'tokens'): only a hash of the secret is kept. seq stands in for SQLite's
      -- rowid (creation order among tokens made in the same millisecond); inserts never name it.
      CREATE TABLE access_tokens (
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        description TEXT,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT,
        last_used_at TEXT
      );
      CREATE INDEX access_tokens_by_user ON access_tokens(user_id);

      CREATE TABLE user_profiles (
        user_id TEXT PRIMARY KEY,
        display_name TEXT,
        given_name TEXT,
        surname TEXT,
        email TEXT,
        updated_at TEXT NOT NULL
      );

      CREATE TABLE itwin_roles (
        itwin_id TEXT NOT NULL,
        id TEXT NOT NULL,
        display_name TEXT NOT NULL,
        description TEXT,
        permissions TEXT NOT NULL,
        PRIMARY KEY (itwin_id, id)
      );
      CREATE UNIQUE INDEX itwin_roles_by_name ON itwin_roles(itwin_id, display_name);
      CREATE TABLE itwin_members (
        itwin_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        role_id TEXT NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (itwin_id, user_id, role_id)
      );
      CREATE INDEX itwin_members_by_user ON itwin_members(user_id, itwin_id);

      CREATE TABLE imodel_role_permissions (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        role_id TEXT NOT NULL,
        permissions TEXT NOT NULL,
        PRIMARY KEY (imodel_id, role_id)
      );
      CREATE TABLE imodel_user_permissions (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        permissions TEXT NOT NULL,
        PRIMARY KEY (imodel_id, user_id)
      );
      CREATE INDEX imodel_user_permissions_by_user ON imodel_user_permissions(user_id);

      -- Every write: who, what, where, from which address, and how it ended. seq plays SQLite's AUTOINCREMENT
      -- (never reused); BY DEFAULT so a restore may carry the original numbers.
      CREATE TABLE audit_log (
        seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at TEXT NOT NULL,
        user_id TEXT,
        action TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        itwin_id TEXT,
        imodel_id TEXT,
        target TEXT,
        address TEXT,
        status BIGINT NOT NULL,
        outcome TEXT NOT NULL,
        request_id TEXT,
        details TEXT
      );
      CREATE INDEX audit_log_by_imodel ON audit_log(imodel_id, seq);
      CREATE INDEX audit_log_by_itwin ON audit_log(itwin_id, seq);
      CREATE INDEX audit_log_by_user ON audit_log(user_id, seq);
    `,
  },
  {
    version: 2,
    name: "change feed shared by the nodes (PostgreSQL only)",
    sql: `
      -- The feed's epoch, one for the database: a client that reconnects to another node resumes where it was.
      CREATE TABLE event_feed (
        id BIGINT PRIMARY KEY CHECK (id = 1),
        epoch TEXT NOT NULL
      );
      -- Each iModel's latest event seq; its row lock orders the events of one iModel by commit.
      CREATE TABLE event_seqs (
        imodel_id TEXT PRIMARY KEY,
        seq BIGINT NOT NULL
      );
      -- The latest events of each iModel (the publisher trims older ones): read when a NOTIFY payload was too large
      -- to carry the event, or when a node's listening connection missed some.
      CREATE TABLE hub_events (
        imodel_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        event TEXT NOT NULL,
        published_at TEXT NOT NULL,
        PRIMARY KEY (imodel_id, seq)
      );
    `,
  },
  {
    version: 3,
    name: "users who ever connected to an iModel (SQLite migration 6)",
    sql: imodelUsersMigration(POSTGRES_DDL),
  },
  {
    version: 4,
    name: "iTwins people create and own; every iTwin has an Owner role (SQLite migration 7)",
    sql: `
      CREATE TABLE itwins (
        id TEXT PRIMARY KEY,
        class TEXT NOT NULL,
        sub_class TEXT NOT NULL,
        type TEXT,
        number TEXT NOT NULL,
        number_key TEXT NOT NULL,
        display_name TEXT NOT NULL,
        display_name_key TEXT NOT NULL,
        status TEXT NOT NULL,
        geographic_location TEXT,
        iana_time_zone TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        modified_at TEXT NOT NULL,
        modified_by TEXT NOT NULL,
        deleted_at TEXT
      );
      CREATE UNIQUE INDEX itwins_by_name ON itwins(display_name_key) WHERE deleted_at IS NULL;
      CREATE UNIQUE INDEX itwins_by_number ON itwins(number_key) WHERE deleted_at IS NULL;

      ALTER TABLE itwin_roles ADD COLUMN owner BIGINT NOT NULL DEFAULT 0;
      CREATE UNIQUE INDEX itwin_roles_owner ON itwin_roles(itwin_id) WHERE owner = 1;

      INSERT INTO itwins (id, class, sub_class, type, number, number_key, display_name, display_name_key, status,
                          geographic_location, iana_time_zone, created_at, created_by, modified_at, modified_by, deleted_at)
        SELECT t.id, 'Endeavor', 'Project', NULL, t.id, t.id, t.id, t.id, 'Active', NULL, NULL,
               COALESCE(f.created_at, m.added_at, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
               COALESCE(f.creator_id, m.user_id, ''),
               COALESCE(f.created_at, m.added_at, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
               COALESCE(f.creator_id, m.user_id, ''),
               NULL
          FROM (SELECT itwin_id AS id FROM imodels UNION SELECT itwin_id FROM itwin_roles UNION SELECT itwin_id FROM itwin_members) t
          LEFT JOIN imodels f ON f.itwin_id = t.id AND NOT EXISTS (
            SELECT 1 FROM imodels e WHERE e.itwin_id = f.itwin_id AND (e.created_at < f.created_at OR (e.created_at = f.created_at AND e.id < f.id)))
          LEFT JOIN itwin_members m ON f.id IS NULL AND m.itwin_id = t.id AND NOT EXISTS (
            SELECT 1 FROM itwin_members e WHERE e.itwin_id = m.itwin_id
              AND (e.added_at < m.added_at OR (e.added_at = m.added_at AND (e.user_id < m.user_id OR (e.user_id = m.user_id AND e.role_id < m.role_id)))));

      UPDATE itwin_roles SET owner = 1
        WHERE display_name = 'Owner' AND permissions = '["imodels_webview","imodels_read","imodels_write","imodels_manage","imodels_delete"]';
      UPDATE itwin_roles SET display_name = 'Owner (' || id || ')' WHERE display_name = 'Owner' AND owner = 0;
      INSERT INTO itwin_roles (itwin_id, id, display_name, description, permissions, owner)
        SELECT t.id, gen_random_uuid()::text, 'Owner', 'Every permission on the iTwin and all its iModels; only Owners give or take it.',
               '["imodels_webview","imodels_read","imodels_write","imodels_manage","imodels_delete"]', 1
          FROM itwins t WHERE NOT EXISTS (SELECT 1 FROM itwin_roles r WHERE r.itwin_id = t.id AND r.owner = 1);

      INSERT INTO itwin_members (itwin_id, user_id, role_id, added_at)
        SELECT f.itwin_id, f.creator_id, r.id, f.created_at
          FROM imodels f JOIN itwin_roles r ON r.itwin_id = f.itwin_id AND r.owner = 1
          WHERE NOT EXISTS (
            SELECT 1 FROM imodels e WHERE e.itwin_id = f.itwin_id AND (e.created_at < f.created_at OR (e.created_at = f.created_at AND e.id < f.id)))
        ON CONFLICT DO NOTHING;
    `,
  },
  {
    version: 7,
    name: "element-level change summaries of changesets (SQLite migration 10)",
    sql: changeSummariesMigration(POSTGRES_DDL),
  },
  // Events out (issue 21), kept in files of their own.
  ...PG_GATE_MIGRATIONS,
  ...PG_WEBHOOK_MIGRATIONS,
  // Change summaries after their first migration (issue 20).
  ...PG_CHANGE_MIGRATIONS,
  ...PG_WEBHOOK_BACKLOG_MIGRATIONS,
];
