// AccessService over the real SQLite store: effective permissions (iTwin roles, iModel overrides, admins, open
// mode), 404 vs 403, visibility for lists, the claim rule, and validation of roles and grants.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SqliteAccessStore } from "../../src/adapters/sqlite/sqlite-access-store.js";
import { openSqliteDatabase } from "../../src/adapters/sqlite/sqlite-database.js";
import type { SqliteDatabase } from "../../src/adapters/sqlite/sqlite-database.js";
import { AccessService } from "../../src/domain/access/access-service.js";
import type { AccessPolicy } from "../../src/domain/access/access-service.js";
import { HubError } from "../../src/domain/errors.js";

const T = "11111111-1111-4111-8111-111111111111";
const clock = { now: () => new Date("2026-01-01T00:00:00Z") };
const set = (g: { permissions: ReadonlySet<string> }) => [...g.permissions].sort();
const ROOT = { userId: "root" };
const code = (e: unknown) => (e instanceof HubError ? e.code : String(e));

describe("AccessService", () => {
  let dir: string;
  let store: SqliteAccessStore;
  let db: SqliteDatabase;
  const service = (policy: Partial<AccessPolicy> = {}) => new AccessService(store, clock, { everyoneMayDoEverything: false, admins: ["root"], claimITwins: true, ...policy });
  const addIModel = (id: string) =>
    db
      .prepare(
        `INSERT INTO imodels (id, itwin_id, name, creator_id, created_at, state, creation_mode, baseline_state, next_briefcase_id)
          VALUES (?, ?, ?, 'x', '2026-01-01T00:00:00Z', 'initialized', 'empty', 'initialized', 2)`,
      )
      .run(id, T, id);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "modelhub-access-svc-"));
    store = SqliteAccessStore.open(join(dir, "metadata.db"));
    db = openSqliteDatabase(join(dir, "metadata.db"));
    addIModel("plain");
    addIModel("private");
  });
  after(async () => {
    await store.close();
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("claiming: the first creator becomes Owner with every permission; the next one is refused; off with claimITwins false", async () => {
    await assert.rejects(service({ claimITwins: false }).requireCreate({ userId: "alice" }, T), (e) => code(e) === "InsufficientPermissions");
    const s = service();
    const [a, b] = await Promise.allSettled([s.requireCreate({ userId: "alice" }, T), s.requireCreate({ userId: "bob" }, T)]);
    assert.equal(a.status, "fulfilled");
    assert.equal(b.status, "rejected");
    assert.equal(code((b as PromiseRejectedResult).reason), "InsufficientPermissions");
    assert.deepEqual(set(await s.effective({ userId: "alice" }, { iTwinId: T })), ["imodels_delete", "imodels_manage", "imodels_read", "imodels_webview", "imodels_write"]);
    assert.deepEqual((await s.listRoles(T)).map((r) => r.displayName), ["Owner"]);
  });

  it("roles grant on every iModel of the iTwin, with implications; non-members get 404 on iModels, 403 on the iTwin", async () => {
    const s = service();
    const reader = await s.createRole(T, { displayName: "Reader", description: null, permissions: ["imodels_read"] });
    await s.addMembers(T, [{ userId: "rita", roleIds: [reader.id] }]);
    assert.deepEqual(set(await s.effective({ userId: "rita" }, { iTwinId: T, iModelId: "plain" })), ["imodels_read", "imodels_webview"]);
    await assert.rejects(s.require({ userId: "rita" }, ["imodels_write"], { iTwinId: T, iModelId: "plain" }), (e) => code(e) === "InsufficientPermissions");
    await assert.rejects(s.require({ userId: "stranger" }, ["imodels_webview"], { iTwinId: T, iModelId: "plain" }), (e) => code(e) === "iModelNotFound");
    await assert.rejects(s.require({ userId: "stranger" }, ["imodels_webview"], { iTwinId: T }), (e) => code(e) === "InsufficientPermissions");
  });

  it("iModel grants replace the iTwin's for that iModel (delete stays iTwin-level); lists hide what the caller cannot see", async () => {
    const s = service();
    const roles = await s.listRoles(T);
    const owner = roles.find((r) => r.displayName === "Owner")!;
    // Only the Owner role (webview) and user 'guest' (write) on 'private': rita (Reader) loses it, alice keeps delete.
    await s.setIModelRolePermissions(ROOT, { iTwinId: T, iModelId: "private" }, owner.id, ["imodels_webview"]);
    await s.setIModelUserPermissions(ROOT, { iTwinId: T, iModelId: "private" }, "guest", ["imodels_write"]);
    assert.deepEqual(set(await s.effective({ userId: "alice" }, { iTwinId: T, iModelId: "private" })), ["imodels_delete", "imodels_read", "imodels_webview"]);
    assert.deepEqual(set(await s.effective({ userId: "guest" }, { iTwinId: T, iModelId: "private" })), ["imodels_read", "imodels_webview", "imodels_write"]);
    await assert.rejects(s.require({ userId: "rita" }, ["imodels_webview"], { iTwinId: T, iModelId: "private" }), (e) => code(e) === "iModelNotFound");
    const ritaSees = await s.visibility({ userId: "rita" }, T);
    assert.notEqual(ritaSees, "all");
    if (ritaSees !== "all") assert.deepEqual([ritaSees("plain"), ritaSees("private")], [true, false]);
    const guestSees = await s.visibility({ userId: "guest" }, T);
    if (guestSees === "all") assert.fail("guest is no member");
    assert.deepEqual([guestSees("plain"), guestSees("private")], [false, true]);
    assert.equal(await s.visibility({ userId: "root" }, T), "all");
    // Removing the grants gives the iModel back to the iTwin's roles.
    await s.setIModelRolePermissions(ROOT, { iTwinId: T, iModelId: "private" }, owner.id, []);
    await s.setIModelUserPermissions(ROOT, { iTwinId: T, iModelId: "private" }, "guest", []);
    assert.deepEqual(set(await s.effective({ userId: "rita" }, { iTwinId: T, iModelId: "private" })), ["imodels_read", "imodels_webview"]);
  });

  it("the first grant on an iModel keeps the granting manager's own access (no lock-out); admins need none", async () => {
    const s = service();
    await s.setIModelUserPermissions({ userId: "alice" }, { iTwinId: T, iModelId: "plain" }, "carol", ["imodels_read"]);
    const grants = await s.iModelGrants("plain");
    assert.deepEqual(grants.users.map((u) => [u.userId, u.permissions]), [
      ["alice", ["imodels_webview", "imodels_read", "imodels_write", "imodels_manage"]],
      ["carol", ["imodels_read"]],
    ]);
    assert.deepEqual(set(await s.effective({ userId: "alice" }, { iTwinId: T, iModelId: "plain" })).length, 5);
    await s.setIModelUserPermissions({ userId: "alice" }, { iTwinId: T, iModelId: "plain" }, "carol", []);
    await s.setIModelUserPermissions({ userId: "alice" }, { iTwinId: T, iModelId: "plain" }, "alice", []);
    assert.deepEqual(await s.iModelGrants("plain"), { roles: [], users: [] });
  });

  it("administrators and open mode have every permission everywhere", async () => {
    assert.equal((await service().effective({ userId: "root" }, { iTwinId: "elsewhere" })).permissions.size, 5);
    assert.equal((await service({ everyoneMayDoEverything: true, admins: [] }).effective({ userId: "anyone" }, { iTwinId: "elsewhere", iModelId: "x" })).permissions.size, 5);
  });

  it("validation: unknown permissions, delete on an iModel, duplicate role names, roles of another iTwin, empty member roles", async () => {
    const s = service();
    await assert.rejects(s.createRole(T, { displayName: "X", description: null, permissions: ["imodels_fly"] }), (e) => code(e) === "InvalidiModelsRequest");
    await assert.rejects(s.createRole(T, { displayName: "Reader", description: null, permissions: [] }), (e) => code(e) === "RoleExists");
    await assert.rejects(s.createRole(T, { displayName: "  ", description: null, permissions: [] }), (e) => code(e) === "InvalidiModelsRequest");
    await assert.rejects(s.setIModelUserPermissions(ROOT, { iTwinId: T, iModelId: "plain" }, "bob", ["imodels-delete"]), (e) => code(e) === "InvalidiModelsRequest");
    await assert.rejects(s.setIModelRolePermissions(ROOT, { iTwinId: T, iModelId: "plain" }, "no-such-role", ["imodels_read"]), (e) => code(e) === "RoleNotFound");
    await assert.rejects(s.addMembers(T, [{ userId: "bob", roleIds: ["no-such-role"] }]), (e) => code(e) === "RoleNotFound");
    await assert.rejects(s.addMembers(T, [{ userId: "bob", roleIds: [] }]), (e) => code(e) === "InvalidiModelsRequest");
    await assert.rejects(s.removeMember(T, "bob"), (e) => code(e) === "MemberNotFound");
    const other = await s.createRole("22222222-2222-4222-8222-222222222222", { displayName: "Elsewhere", description: null, permissions: ["imodels_read"] });
    await assert.rejects(s.getRole(T, other.id), (e) => code(e) === "RoleNotFound");
  });
});
