// Existing data migrates to iTwins with Owners (SQLite migration 7, PostgreSQL migration 4): every iTwin holding
// iModels, roles or members gets a row named after its id; the creator of its first iModel becomes an Owner — also
// where an administrator made it (no members) and where open mode made it (no members); a claim's "Owner" role
// becomes the built-in Owner role, a hand-made role of that name is renamed out of the way and keeps its members.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { PgAccessStore } from "../../src/adapters/postgres/pg-access-store.js";
import { migratePg, openPgPool } from "../../src/adapters/postgres/pg-database.js";
import { PG_MIGRATIONS } from "../../src/adapters/postgres/pg-migrations.js";
import { numbered } from "../../src/adapters/postgres/pg-session.js";
import { SqliteAccessStore } from "../../src/adapters/sqlite/sqlite-access-store.js";
import { openSqliteDatabase } from "../../src/adapters/sqlite/sqlite-database.js";
import { MIGRATIONS } from "../../src/adapters/sqlite/migrations.js";
import type { AccessStore } from "../../src/ports/access-store.js";
import { privateSchema } from "@modelhub/test-support/postgres.js";

const ADMIN_MADE = "a1a1a1a1-0000-4000-8000-000000000001";
const CLAIMED = "b2b2b2b2-0000-4000-8000-000000000002";
const MEMBERS_ONLY = "c3c3c3c3-0000-4000-8000-000000000003";
const OWNER_NAME_TAKEN = "d4d4d4d4-0000-4000-8000-000000000004";
const OPEN_MODE = "e5e5e5e5-0000-4000-8000-000000000005";
const ALL = '["imodels_webview","imodels_read","imodels_write","imodels_manage","imodels_delete"]';

/** The rows a hub before migration 7 could have written, as `?`-placeholder statements. */
const OLD_DATA: [string, unknown[]][] = [
  ...(
    [
      ["a-1", ADMIN_MADE, "root", "2026-01-01T00:00:01.000Z"],
      ["a-2", ADMIN_MADE, "zed", "2026-01-01T00:00:02.000Z"],
      ["b-1", CLAIMED, "alice", "2026-01-02T00:00:01.000Z"],
      ["b-2", CLAIMED, "bob", "2026-01-02T00:00:02.000Z"],
      ["d-1", OWNER_NAME_TAKEN, "erin", "2026-01-04T00:00:01.000Z"],
      ["e-2", OPEN_MODE, "frank", "2026-01-05T00:00:01.000Z"],
      ["e-1", OPEN_MODE, "frank", "2026-01-05T00:00:01.000Z"],
    ] as const
  ).map(([id, iTwin, creator, at]): [string, unknown[]] => [
    `INSERT INTO imodels (id, itwin_id, name, creator_id, created_at, state, creation_mode, baseline_state, next_briefcase_id)
      VALUES (?, ?, ?, ?, ?, 'initialized', 'empty', 'initialized', 2)`,
    [id, iTwin, id, creator, at],
  ]),
  [
    "INSERT INTO itwin_roles (itwin_id, id, display_name, description, permissions) VALUES (?, ?, 'Owner', 'claimed', ?)",
    [CLAIMED, "role-b-owner", ALL],
  ],
  [
    "INSERT INTO itwin_roles (itwin_id, id, display_name, description, permissions) VALUES (?, ?, 'Reader', NULL, ?)",
    [CLAIMED, "role-b-reader", '["imodels_webview","imodels_read"]'],
  ],
  [
    "INSERT INTO itwin_members (itwin_id, user_id, role_id, added_at) VALUES (?, 'alice', 'role-b-owner', '2026-01-02T00:00:01.000Z')",
    [CLAIMED],
  ],
  [
    "INSERT INTO itwin_members (itwin_id, user_id, role_id, added_at) VALUES (?, 'bob', 'role-b-reader', '2026-01-02T00:00:05.000Z')",
    [CLAIMED],
  ],
  [
    "INSERT INTO itwin_roles (itwin_id, id, display_name, description, permissions) VALUES (?, 'role-c-viewer', 'Viewer', NULL, '[\"imodels_webview\"]')",
    [MEMBERS_ONLY],
  ],
  [
    "INSERT INTO itwin_members (itwin_id, user_id, role_id, added_at) VALUES (?, 'carol', 'role-c-viewer', '2026-01-03T00:00:00.000Z')",
    [MEMBERS_ONLY],
  ],
  [
    "INSERT INTO itwin_roles (itwin_id, id, display_name, description, permissions) VALUES (?, 'role-d-fake', 'Owner', 'hand-made', '[\"imodels_read\"]')",
    [OWNER_NAME_TAKEN],
  ],
  [
    "INSERT INTO itwin_members (itwin_id, user_id, role_id, added_at) VALUES (?, 'dan', 'role-d-fake', '2026-01-04T00:00:05.000Z')",
    [OWNER_NAME_TAKEN],
  ],
];

async function checkMigrated(store: AccessStore): Promise<void> {
  const iTwins = await store.listITwins({ offset: 0, limit: 10 });
  assert.deepEqual(
    iTwins.map((t) => [
      t.id,
      t.displayName,
      t.number,
      t.class,
      t.subClass,
      t.status,
      t.createdBy,
      t.createdAt,
      t.deletedAt,
    ]),
    [
      [ADMIN_MADE, ADMIN_MADE, ADMIN_MADE, "Endeavor", "Project", "Active", "root", "2026-01-01T00:00:01.000Z", null],
      [CLAIMED, CLAIMED, CLAIMED, "Endeavor", "Project", "Active", "alice", "2026-01-02T00:00:01.000Z", null],
      [
        MEMBERS_ONLY,
        MEMBERS_ONLY,
        MEMBERS_ONLY,
        "Endeavor",
        "Project",
        "Active",
        "carol",
        "2026-01-03T00:00:00.000Z",
        null,
      ],
      [
        OWNER_NAME_TAKEN,
        OWNER_NAME_TAKEN,
        OWNER_NAME_TAKEN,
        "Endeavor",
        "Project",
        "Active",
        "erin",
        "2026-01-04T00:00:01.000Z",
        null,
      ],
      [OPEN_MODE, OPEN_MODE, OPEN_MODE, "Endeavor", "Project", "Active", "frank", "2026-01-05T00:00:01.000Z", null],
    ],
  );
  // The creator of each iTwin's first iModel is an Owner: the administrator, the claimer, open mode's first user.
  assert.deepEqual(await store.owners(ADMIN_MADE), ["root"]);
  assert.deepEqual(await store.owners(CLAIMED), ["alice"]);
  assert.deepEqual(await store.owners(OWNER_NAME_TAKEN), ["erin"]);
  assert.deepEqual(await store.owners(OPEN_MODE), ["frank"]);
  assert.deepEqual(await store.owners(MEMBERS_ONLY), [], "no iModel, no creator: its members stay as they were");
  // Every iTwin has exactly one built-in Owner role with every permission; the claim's own role became it.
  for (const t of iTwins) {
    const owners = (await store.listRoles(t.id)).filter((r) => r.owner);
    assert.deepEqual(
      owners.map((r) => [r.displayName, r.permissions.length]),
      [["Owner", 5]],
      t.id,
    );
  }
  assert.equal((await store.listRoles(CLAIMED)).find((r) => r.owner)?.id, "role-b-owner");
  assert.deepEqual(
    (await store.rolesOf(CLAIMED, "bob")).map((r) => r.displayName),
    ["Reader"],
  );
  // The hand-made "Owner" (read only) was renamed and kept its member and permissions.
  const renamed = await store.getRole(OWNER_NAME_TAKEN, "role-d-fake");
  assert.deepEqual(
    [renamed?.displayName, renamed?.permissions, renamed?.owner],
    ["Owner (role-d-fake)", ["imodels_read"], false],
  );
  assert.deepEqual(
    (await store.rolesOf(OWNER_NAME_TAKEN, "dan")).map((r) => r.id),
    ["role-d-fake"],
  );
  // Creating an iModel's iTwin again is "exists" for every migrated id.
  for (const t of iTwins)
    assert.equal(
      await store.createITwin(
        { ...t, createdBy: "mallory" },
        { iTwinId: t.id, id: `x-${t.id}`, displayName: "Owner", description: null, permissions: [], owner: true },
      ),
      "exists",
    );
}

describe("migrating existing data to iTwins with Owners", () => {
  it("SQLite: migration 7", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelhub-itwins-migration-"));
    const path = join(dir, "metadata.db");
    try {
      const old = openSqliteDatabase(path, { migrations: MIGRATIONS.filter((m) => m.version < 7) });
      for (const [sql, params] of OLD_DATA) old.prepare(sql).run(...params);
      old.close();
      openSqliteDatabase(path).close();
      const store = SqliteAccessStore.open(path);
      try {
        await checkMigrated(store);
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const schemas: { drop(): Promise<void> }[] = [];
  after(async () => {
    for (const s of schemas) await s.drop();
  });

  it("PostgreSQL: migration 4", async () => {
    const schema = await privateSchema("itwins_migration");
    schemas.push(schema);
    const pool = openPgPool(schema.url, { max: 2 });
    try {
      await migratePg(
        pool,
        PG_MIGRATIONS.filter((m) => m.version < 4),
      );
      for (const [sql, params] of OLD_DATA) await pool.query(numbered(sql), params);
      await migratePg(pool);
      const store = PgAccessStore.open(pool);
      try {
        await checkMigrated(store);
      } finally {
        await store.close();
      }
    } finally {
      await pool.end();
    }
  });
});
