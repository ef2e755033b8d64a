// AccessService over the real SQLite store: effective permissions (iTwin roles, iModel overrides, Owners, admins,
// open mode), 404 vs 403, visibility for lists, iTwins created by their first iModel, no escalation, and validation
// of roles and grants.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SqliteAccessStore } from "../../src/adapters/sqlite/sqlite-access-store.js";
import { openSqliteDatabase } from "../../src/adapters/sqlite/sqlite-database.js";
import type { SqliteDatabase } from "../../src/adapters/sqlite/sqlite-database.js";
import { AccessService } from "../../src/domain/access/access-service.js";
import type { AccessPolicy } from "../../src/domain/access/access-rules.js";
import { HubError } from "../../src/domain/errors.js";

const T = "11111111-1111-4111-8111-111111111111";
const clock = { now: () => new Date("2026-01-01T00:00:00Z") };
const set = (g: { permissions: ReadonlySet<string> }) => [...g.permissions].sort();
const ROOT = { userId: "root" };
const ALICE = { userId: "alice" };
const code = (e: unknown) => (e instanceof HubError ? e.code : String(e));

describe("AccessService", () => {
  let dir: string;
  let store: SqliteAccessStore;
  let db: SqliteDatabase;
  const service = (policy: Partial<AccessPolicy> = {}) =>
    new AccessService(store, clock, { everyoneMayDoEverything: false, admins: ["root"], claimITwins: true, ...policy });
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

  it("an iModel under an iTwin id never seen creates that iTwin, its creator its Owner; the next one is refused; off with claimITwins false", async () => {
    const nothing = async () => undefined;
    await assert.rejects(
      service({ claimITwins: false }).createIn({ userId: "alice" }, T, nothing),
      (e) => code(e) === "InsufficientPermissions",
    );
    const s = service();
    // A creation that fails (here: bad input found after the check) leaves no iTwin behind.
    const other = "44444444-4444-4444-8444-444444444444";
    await assert.rejects(
      s.createIn({ userId: "mallory" }, other, async () =>
        Promise.reject(new HubError("InvalidiModelsRequest", "bad")),
      ),
      (e) => code(e) === "InvalidiModelsRequest",
    );
    assert.equal(await store.getITwin(other), undefined);
    const [a, b] = await Promise.allSettled([
      s.createIn({ userId: "alice" }, T, nothing),
      s.createIn({ userId: "bob" }, T, nothing),
    ]);
    assert.equal(a.status, "fulfilled");
    assert.equal(b.status, "rejected");
    assert.equal(code((b as PromiseRejectedResult).reason), "InsufficientPermissions");
    assert.deepEqual(set(await s.effective({ userId: "alice" }, { iTwinId: T })), [
      "imodels_delete",
      "imodels_manage",
      "imodels_read",
      "imodels_webview",
      "imodels_write",
    ]);
    assert.deepEqual(
      (await s.listRoles(T)).map((r) => [r.displayName, r.owner]),
      [["Owner", true]],
    );
    assert.equal((await store.getITwin(T))?.displayName, T, "named after its id");
  });

  it("an administrator who starts an iTwin is its Owner (also with claimITwins false); a deleted iTwin is never taken again", async () => {
    const id = "33333333-3333-4333-8333-333333333333";
    await service({ claimITwins: false }).createIn(ROOT, id, async () => undefined);
    assert.deepEqual(await store.owners(id), ["root"]);
    assert.equal(await store.deleteITwin(id, "2026-01-02T00:00:00Z"), "done");
    await assert.rejects(
      service().createIn({ userId: "mallory" }, id, async () => undefined),
      (e) => code(e) === "iTwinNotFound",
    );
    await assert.rejects(service().checkCreate(ROOT, id), (e) => code(e) === "iTwinNotFound");
    assert.deepEqual(await store.owners(id), []);
  });

  it("roles grant on every iModel of the iTwin, with implications; non-members get 404 on iModels, 403 on the iTwin", async () => {
    const s = service();
    const reader = await s.createRole(ALICE, T, {
      displayName: "Reader",
      description: null,
      permissions: ["imodels_read"],
    });
    await s.addMembers(ALICE, T, [{ userId: "rita", roleIds: [reader.id] }]);
    assert.deepEqual(set(await s.effective({ userId: "rita" }, { iTwinId: T, iModelId: "plain" })), [
      "imodels_read",
      "imodels_webview",
    ]);
    await assert.rejects(
      s.require({ userId: "rita" }, ["imodels_write"], { iTwinId: T, iModelId: "plain" }),
      (e) => code(e) === "InsufficientPermissions",
    );
    await assert.rejects(
      s.require({ userId: "stranger" }, ["imodels_webview"], { iTwinId: T, iModelId: "plain" }),
      (e) => code(e) === "iModelNotFound",
    );
    await assert.rejects(
      s.require({ userId: "stranger" }, ["imodels_webview"], { iTwinId: T }),
      (e) => code(e) === "InsufficientPermissions",
    );
  });

  it("iModel grants replace the iTwin's for that iModel (delete stays iTwin-level; Owners keep all); lists hide what the caller cannot see", async () => {
    const s = service();
    const deleter = await s.createRole(ALICE, T, {
      displayName: "Deleter",
      description: null,
      permissions: ["imodels_delete"],
    });
    await s.addMembers(ALICE, T, [{ userId: "dan", roleIds: [deleter.id] }]);
    // Only user 'guest' (write) on 'private': rita (Reader) loses it, dan keeps delete, alice (Owner) keeps everything.
    await s.setIModelUserPermissions(ROOT, { iTwinId: T, iModelId: "private" }, "guest", ["imodels_write"]);
    assert.deepEqual(set(await s.effective({ userId: "dan" }, { iTwinId: T, iModelId: "private" })), [
      "imodels_delete",
      "imodels_read",
      "imodels_webview",
    ]);
    assert.equal((await s.effective(ALICE, { iTwinId: T, iModelId: "private" })).permissions.size, 5);
    assert.deepEqual(set(await s.effective({ userId: "guest" }, { iTwinId: T, iModelId: "private" })), [
      "imodels_read",
      "imodels_webview",
      "imodels_write",
    ]);
    await assert.rejects(
      s.require({ userId: "rita" }, ["imodels_webview"], { iTwinId: T, iModelId: "private" }),
      (e) => code(e) === "iModelNotFound",
    );
    const ritaSees = await s.visibility({ userId: "rita" }, T);
    assert.notEqual(ritaSees, "all");
    if (ritaSees !== "all") assert.deepEqual([ritaSees("plain"), ritaSees("private")], [true, false]);
    const guestSees = await s.visibility({ userId: "guest" }, T);
    if (guestSees === "all") assert.fail("guest is no member");
    assert.deepEqual([guestSees("plain"), guestSees("private")], [false, true]);
    assert.equal(await s.visibility({ userId: "root" }, T), "all");
    assert.equal(await s.visibility(ALICE, T), "all");
    // Removing the grant gives the iModel back to the iTwin's roles.
    await s.setIModelUserPermissions(ROOT, { iTwinId: T, iModelId: "private" }, "guest", []);
    assert.deepEqual(set(await s.effective({ userId: "rita" }, { iTwinId: T, iModelId: "private" })), [
      "imodels_read",
      "imodels_webview",
    ]);
  });

  it("the first grant on an iModel keeps the granting manager's own access (no lock-out); Owners and admins need none", async () => {
    const s = service();
    const manager = await s.createRole(ALICE, T, {
      displayName: "Manager",
      description: null,
      permissions: ["imodels_manage"],
    });
    await s.addMembers(ALICE, T, [{ userId: "mia", roleIds: [manager.id] }]);
    await s.setIModelUserPermissions({ userId: "mia" }, { iTwinId: T, iModelId: "plain" }, "carol", ["imodels_read"]);
    const grants = await s.iModelGrants("plain");
    assert.deepEqual(
      grants.users.map((u) => [u.userId, u.permissions]),
      [
        ["carol", ["imodels_read"]],
        ["mia", ["imodels_webview", "imodels_read", "imodels_manage"]],
      ],
    );
    await s.setIModelUserPermissions({ userId: "mia" }, { iTwinId: T, iModelId: "plain" }, "carol", []);
    await s.setIModelUserPermissions({ userId: "mia" }, { iTwinId: T, iModelId: "plain" }, "mia", []);
    assert.deepEqual(await s.iModelGrants("plain"), { roles: [], users: [] });
    await s.setIModelUserPermissions(ALICE, { iTwinId: T, iModelId: "plain" }, "carol", ["imodels_read"]);
    assert.deepEqual(
      (await s.iModelGrants("plain")).users.map((u) => u.userId),
      ["carol"],
      "the Owner kept nothing: she has everything anyway",
    );
    await s.setIModelUserPermissions(ALICE, { iTwinId: T, iModelId: "plain" }, "carol", []);
  });

  it("no escalation: nobody grants what they lack; only Owners give or take the Owner role; the Owner role is fixed; the last Owner stays", async () => {
    const s = service();
    const mia = { userId: "mia" }; // Manager (imodels_manage) since the test above
    const ownerRole = (await s.listRoles(T)).find((r) => r.owner)!;
    await assert.rejects(
      s.createRole(mia, T, { displayName: "Deleters", description: null, permissions: ["imodels_delete"] }),
      (e) => code(e) === "InsufficientPermissions",
    );
    const reviewers = await s.createRole(mia, T, {
      displayName: "Reviewers",
      description: null,
      permissions: ["imodels_read"],
    });
    await assert.rejects(
      s.updateRole(mia, T, reviewers.id, { permissions: ["imodels_write"] }),
      (e) => code(e) === "InsufficientPermissions",
    );
    await assert.rejects(
      s.addMembers(mia, T, [{ userId: "mia", roleIds: [ownerRole.id] }]),
      (e) => code(e) === "InsufficientPermissions",
    );
    const deleter = (await s.listRoles(T)).find((r) => r.displayName === "Deleter")!;
    await assert.rejects(
      s.addMembers(mia, T, [{ userId: "mia", roleIds: [deleter.id] }]),
      (e) => code(e) === "InsufficientPermissions",
    );
    await assert.rejects(s.removeMember(mia, T, "alice"), (e) => code(e) === "InsufficientPermissions");
    await assert.rejects(
      s.removeMember(mia, T, "dan"),
      (e) => code(e) === "InsufficientPermissions",
      "dan holds delete, which mia lacks",
    );
    await assert.rejects(
      s.updateRole(ALICE, T, ownerRole.id, { permissions: ["imodels_read"] }),
      (e) => code(e) === "InsufficientPermissions",
    );
    await assert.rejects(s.deleteRole(ROOT, T, ownerRole.id), (e) => code(e) === "InsufficientPermissions");
    await assert.rejects(s.removeMember(ALICE, T, "alice"), (e) => code(e) === "LastOwner");
    await assert.rejects(s.setMemberRoles(ROOT, T, "alice", [reviewers.id]), (e) => code(e) === "LastOwner");
    assert.deepEqual(await s.owners(T), ["alice"]);
    // An Owner may make another Owner, who may then step down the first.
    await s.addMembers(ALICE, T, [{ userId: "olga", roleIds: [ownerRole.id] }]);
    await s.setMemberRoles({ userId: "olga" }, T, "alice", [reviewers.id, ownerRole.id]);
    assert.deepEqual(await s.owners(T), ["alice", "olga"]);
  });

  it("no escalation on iModel grants: a grant is changed only by someone holding, on the iTwin, what its holder holds", async () => {
    const s = service();
    const scope = { iTwinId: T, iModelId: "private" };
    // A manager of this one iModel only (no iTwin role at all) and a manager of the whole iTwin with a grant here.
    await s.setIModelUserPermissions(ALICE, scope, "ivan", ["imodels_manage"]);
    await s.setIModelUserPermissions(ALICE, scope, "mia", ["imodels_manage"]);
    await assert.rejects(
      s.setIModelUserPermissions({ userId: "ivan" }, scope, "mia", []),
      (e) => code(e) === "InsufficientPermissions",
    );
    await assert.rejects(
      s.setIModelUserPermissions({ userId: "ivan" }, scope, "mia", ["imodels_webview"]),
      (e) => code(e) === "InsufficientPermissions",
    );
    await assert.rejects(
      s.setIModelUserPermissions({ userId: "ivan" }, scope, "zoe", ["imodels_write"]),
      (e) => code(e) === "InsufficientPermissions",
      "he lacks write",
    );
    await s.setIModelUserPermissions({ userId: "ivan" }, scope, "zoe", ["imodels_read"]);
    await s.setIModelUserPermissions({ userId: "ivan" }, scope, "zoe", []);
    await s.setIModelUserPermissions({ userId: "mia" }, scope, "ivan", []);
    assert.deepEqual(
      (await s.iModelGrants("private")).users.map((u) => u.userId),
      ["mia"],
    );
    await s.setIModelUserPermissions(ALICE, scope, "mia", []);
  });

  it("administrators and open mode have every permission everywhere", async () => {
    assert.equal((await service().effective({ userId: "root" }, { iTwinId: "elsewhere" })).permissions.size, 5);
    assert.equal(
      (
        await service({ everyoneMayDoEverything: true, admins: [] }).effective(
          { userId: "anyone" },
          { iTwinId: "elsewhere", iModelId: "x" },
        )
      ).permissions.size,
      5,
    );
  });

  it("validation: unknown permissions, delete on an iModel, duplicate role names, roles of another iTwin, empty member roles", async () => {
    const s = service();
    await assert.rejects(
      s.createRole(ALICE, T, { displayName: "X", description: null, permissions: ["imodels_fly"] }),
      (e) => code(e) === "InvalidiModelsRequest",
    );
    await assert.rejects(
      s.createRole(ALICE, T, { displayName: "Reader", description: null, permissions: [] }),
      (e) => code(e) === "RoleExists",
    );
    await assert.rejects(
      s.createRole(ALICE, T, { displayName: "  ", description: null, permissions: [] }),
      (e) => code(e) === "InvalidiModelsRequest",
    );
    await assert.rejects(
      s.setIModelUserPermissions(ROOT, { iTwinId: T, iModelId: "plain" }, "bob", ["imodels-delete"]),
      (e) => code(e) === "InvalidiModelsRequest",
    );
    await assert.rejects(
      s.setIModelRolePermissions(ROOT, { iTwinId: T, iModelId: "plain" }, "no-such-role", ["imodels_read"]),
      (e) => code(e) === "RoleNotFound",
    );
    await assert.rejects(
      s.addMembers(ALICE, T, [{ userId: "bob", roleIds: ["no-such-role"] }]),
      (e) => code(e) === "RoleNotFound",
    );
    await assert.rejects(
      s.addMembers(ALICE, T, [{ userId: "bob", roleIds: [] }]),
      (e) => code(e) === "InvalidiModelsRequest",
    );
    await assert.rejects(s.removeMember(ALICE, T, "bob"), (e) => code(e) === "MemberNotFound");
    const other = await s.createRole(ROOT, "22222222-2222-4222-8222-222222222222", {
      displayName: "Elsewhere",
      description: null,
      permissions: ["imodels_read"],
    });
    await assert.rejects(s.getRole(T, other.id), (e) => code(e) === "RoleNotFound");
  });
});
