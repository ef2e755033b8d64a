import { CHANGE_MIGRATIONS } from "./migrations-changes.js";
import { GATE_MIGRATIONS, WEBHOOK_BACKLOG_MIGRATIONS, WEBHOOK_MIGRATIONS } from "./migrations-events.js";
import { changeSummariesMigration, imodelUsersMigration, SQLITE_DDL } from "../sql/shared-migrations.js";

/** Versioned schema of the embedded metadata database. Append only: never edit a migration that shipped. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "hub metadata and job queue",
    sql: `
      CREATE TABLE imodels (
        id TEXT PRIMARY KEY,
        itwin_id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        extent TEXT,
        containers_enabled INTEGER NOT NULL DEFAULT 0,
        creator_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        state TEXT NOT NULL,
        creation_mode TEXT NOT NULL,
        baseline_state TEXT NOT NULL,
        baseline_size INTEGER,
        baseline_failure TEXT,
        next_briefcase_id INTEGER NOT NULL
      );
      CREATE INDEX imodels_by_itwin ON imodels(itwin_id, created_at, id);
      CREATE INDEX imodels_by_name ON imodels(itwin_id, name);

      CREATE TABLE changesets (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        id TEXT NOT NULL,
        parent_id TEXT NOT NULL,
        description TEXT,
        briefcase_id INTEGER NOT NULL,
        containing_changes INTEGER NOT NULL,
        file_size INTEGER NOT NULL,
        creator_id TEXT NOT NULL,
        pushed_at TEXT NOT NULL,
        state TEXT NOT NULL,
        group_id TEXT,
        synchronization_info TEXT,
        PRIMARY KEY (imodel_id, idx)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX changesets_by_id ON changesets(imodel_id, id);
      CREATE INDEX changesets_pending ON changesets(imodel_id, state) WHERE state = 'waitingForFile';

      CREATE TABLE briefcases (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        briefcase_id INTEGER NOT NULL,
        owner_id TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        device_name TEXT,
        PRIMARY KEY (imodel_id, briefcase_id)
      ) WITHOUT ROWID;
      CREATE INDEX briefcases_by_owner ON briefcases(imodel_id, owner_id);

      CREATE TABLE named_versions (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        changeset_index INTEGER NOT NULL,
        changeset_id TEXT,
        state TEXT NOT NULL,
        creator_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (imodel_id, id)
      ) WITHOUT ROWID;
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
      ) WITHOUT ROWID;

      CREATE TABLE extended_data (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        changeset_index INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (imodel_id, changeset_index)
      ) WITHOUT ROWID;

      CREATE TABLE checkpoints (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        changeset_index INTEGER NOT NULL,
        changeset_id TEXT NOT NULL,
        state TEXT NOT NULL,
        blob_key TEXT,
        size INTEGER NOT NULL,
        failure_reason TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (imodel_id, changeset_index)
      ) WITHOUT ROWID;

      CREATE TABLE locks (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        object_id TEXT NOT NULL,
        exclusive_briefcase_id INTEGER,
        last_exclusive_release_index INTEGER,
        PRIMARY KEY (imodel_id, object_id)
      ) WITHOUT ROWID;
      CREATE INDEX locks_exclusive ON locks(imodel_id, exclusive_briefcase_id, object_id) WHERE exclusive_briefcase_id IS NOT NULL;

      CREATE TABLE shared_locks (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        briefcase_id INTEGER NOT NULL,
        object_id TEXT NOT NULL,
        PRIMARY KEY (imodel_id, briefcase_id, object_id)
      ) WITHOUT ROWID;
      CREATE INDEX shared_locks_by_object ON shared_locks(imodel_id, object_id);

      CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        last_error TEXT,
        dedupe_key TEXT,
        worker_id TEXT,
        lease_until INTEGER,
        run_after INTEGER NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE UNIQUE INDEX jobs_dedupe ON jobs(dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running');
      CREATE INDEX jobs_ready ON jobs(state, run_after);
    `,
  },
  {
    version: 2,
    name: "blob deletion outbox and backup holds",
    sql: `
      -- Blobs (exact keys, or prefixes ending in '/') to delete, written in the same transaction as the metadata
      -- change that stops referring to them: a crash between the two can no longer leave files nothing deletes.
      CREATE TABLE blob_deletions (
        key TEXT PRIMARY KEY,
        requested_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      -- While a hold is live (expires_at, ms since epoch, in the future) no blob is deleted: a backup that copied
      -- the metadata first can then never refer to a file deleted before it was copied.
      CREATE TABLE blob_deletion_holds (
        holder TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: "identities, permissions and audit log",
    sql: `
      -- Hub-issued access tokens (auth mode 'tokens'): only a hash of the secret is kept.
      CREATE TABLE access_tokens (
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

      -- What verified tokens say about their users (names, email), for the users endpoints.
      CREATE TABLE user_profiles (
        user_id TEXT PRIMARY KEY,
        display_name TEXT,
        given_name TEXT,
        surname TEXT,
        email TEXT,
        updated_at TEXT NOT NULL
      ) WITHOUT ROWID;

      -- Roles (named sets of permissions) defined on an iTwin, and the iTwin's members with their roles.
      CREATE TABLE itwin_roles (
        itwin_id TEXT NOT NULL,
        id TEXT NOT NULL,
        display_name TEXT NOT NULL,
        description TEXT,
        permissions TEXT NOT NULL,
        PRIMARY KEY (itwin_id, id)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX itwin_roles_by_name ON itwin_roles(itwin_id, display_name);
      CREATE TABLE itwin_members (
        itwin_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        role_id TEXT NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (itwin_id, user_id, role_id)
      ) WITHOUT ROWID;
      CREATE INDEX itwin_members_by_user ON itwin_members(user_id, itwin_id);

      -- iModel-level permissions; when an iModel has any, they take precedence over the iTwin's.
      CREATE TABLE imodel_role_permissions (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        role_id TEXT NOT NULL,
        permissions TEXT NOT NULL,
        PRIMARY KEY (imodel_id, role_id)
      ) WITHOUT ROWID;
      CREATE TABLE imodel_user_permissions (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        permissions TEXT NOT NULL,
        PRIMARY KEY (imodel_id, user_id)
      ) WITHOUT ROWID;
      CREATE INDEX imodel_user_permissions_by_user ON imodel_user_permissions(user_id);

      -- Every write: who, what, where, from which address, and how it ended.
      CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        user_id TEXT,
        action TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        itwin_id TEXT,
        imodel_id TEXT,
        target TEXT,
        address TEXT,
        status INTEGER NOT NULL,
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
    version: 4,
    name: "calling application of briefcases, changesets and named versions; changesets' uncompressed size",
    sql: `
      -- The application (token client id, or the x-modelhub-application-* headers) that made each record.
      ALTER TABLE briefcases ADD COLUMN application_id TEXT;
      ALTER TABLE briefcases ADD COLUMN application_name TEXT;
      ALTER TABLE changesets ADD COLUMN application_id TEXT;
      ALTER TABLE changesets ADD COLUMN application_name TEXT;
      ALTER TABLE named_versions ADD COLUMN application_id TEXT;
      ALTER TABLE named_versions ADD COLUMN application_name TEXT;
      -- iTwin.js's ChangesetProps.uncompressedSize, as the pushing client declared it (NULL: not declared).
      ALTER TABLE changesets ADD COLUMN uncompressed_size INTEGER;
    `,
  },
  {
    version: 5,
    name: "where a cloned or forked iModel comes from",
    sql: `
      -- JSON {kind, iModelId, changesetId, changesetIndex, preserveHistory}; NULL for iModels created empty or from a file.
      ALTER TABLE imodels ADD COLUMN creation_source TEXT;
    `,
  },
  { version: 6, name: "users who ever connected to an iModel", sql: imodelUsersMigration(SQLITE_DDL) },
  {
    version: 7,
    name: "iTwins people create and own; every iTwin has an Owner role",
    sql: `
      -- iTwins as things people create, name and own (the iTwins API). A row is never deleted: a deleted iTwin keeps
      -- its id (deleted_at), so that creating an iModel under that id can never claim it again. The *_key columns
      -- are the case-folded name and number (written by the access store), unique among live iTwins.
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
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX itwins_by_name ON itwins(display_name_key) WHERE deleted_at IS NULL;
      CREATE UNIQUE INDEX itwins_by_number ON itwins(number_key) WHERE deleted_at IS NULL;

      -- The built-in Owner role of each iTwin (every permission; only Owners give or take it).
      ALTER TABLE itwin_roles ADD COLUMN owner INTEGER NOT NULL DEFAULT 0;
      CREATE UNIQUE INDEX itwin_roles_owner ON itwin_roles(itwin_id) WHERE owner = 1;

      -- Existing data: every iTwin that holds iModels, roles or members gets a row, named after its id (renameable);
      -- its creator is its first iModel's creator (else its first member).
      INSERT INTO itwins (id, class, sub_class, type, number, number_key, display_name, display_name_key, status,
                          geographic_location, iana_time_zone, created_at, created_by, modified_at, modified_by, deleted_at)
        SELECT t.id, 'Endeavor', 'Project', NULL, t.id, t.id, t.id, t.id, 'Active', NULL, NULL,
               COALESCE(f.created_at, m.added_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
               COALESCE(f.creator_id, m.user_id, ''),
               COALESCE(f.created_at, m.added_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
               COALESCE(f.creator_id, m.user_id, ''),
               NULL
          FROM (SELECT itwin_id AS id FROM imodels UNION SELECT itwin_id FROM itwin_roles UNION SELECT itwin_id FROM itwin_members) t
          LEFT JOIN imodels f ON f.itwin_id = t.id AND NOT EXISTS (
            SELECT 1 FROM imodels e WHERE e.itwin_id = f.itwin_id AND (e.created_at < f.created_at OR (e.created_at = f.created_at AND e.id < f.id)))
          LEFT JOIN itwin_members m ON f.id IS NULL AND m.itwin_id = t.id AND NOT EXISTS (
            SELECT 1 FROM itwin_members e WHERE e.itwin_id = m.itwin_id
              AND (e.added_at < m.added_at OR (e.added_at = m.added_at AND (e.user_id < m.user_id OR (e.user_id = m.user_id AND e.role_id < m.role_id)))));

      -- The "Owner" roles made by claims (every permission) become the built-in role; another role of that name is
      -- renamed out of the way. iTwins without one get one.
      UPDATE itwin_roles SET owner = 1
        WHERE display_name = 'Owner' AND permissions = '["imodels_webview","imodels_read","imodels_write","imodels_manage","imodels_delete"]';
      UPDATE itwin_roles SET display_name = 'Owner (' || id || ')' WHERE display_name = 'Owner' AND owner = 0;
      INSERT INTO itwin_roles (itwin_id, id, display_name, description, permissions, owner)
        SELECT t.id,
               lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' ||
                 substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),
               'Owner', 'Every permission on the iTwin and all its iModels; only Owners give or take it.',
               '["imodels_webview","imodels_read","imodels_write","imodels_manage","imodels_delete"]', 1
          FROM itwins t WHERE NOT EXISTS (SELECT 1 FROM itwin_roles r WHERE r.itwin_id = t.id AND r.owner = 1);

      -- The creator of an iTwin's first iModel is one of its Owners (also when the iTwin was made by an
      -- administrator, or in open mode, which made no members).
      INSERT INTO itwin_members (itwin_id, user_id, role_id, added_at)
        SELECT f.itwin_id, f.creator_id, r.id, f.created_at
          FROM imodels f JOIN itwin_roles r ON r.itwin_id = f.itwin_id AND r.owner = 1
          WHERE NOT EXISTS (
            SELECT 1 FROM imodels e WHERE e.itwin_id = f.itwin_id AND (e.created_at < f.created_at OR (e.created_at = f.created_at AND e.id < f.id)))
        ON CONFLICT DO NOTHING;
    `,
  },
  {
    version: 10,
    name: "element-level change summaries of changesets (issue 20)",
    sql: changeSummariesMigration(SQLITE_DDL),
  },
  // Events out (issue 21), kept in files of their own.
  ...GATE_MIGRATIONS,
  ...WEBHOOK_MIGRATIONS,
  // Change summaries after their first migration (issue 20).
  ...CHANGE_MIGRATIONS,
  ...WEBHOOK_BACKLOG_MIGRATIONS,
];
