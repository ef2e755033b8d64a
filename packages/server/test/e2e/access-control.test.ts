// Ownership of briefcases, locks and pushes (403 for everyone but the owner; managers may release), the lost-laptop
// case over the API, lists that show only what the caller can see (paged), the access-control API's errors, and
// `modelhub access …` against a running hub — in `tokens` mode with real hub-issued tokens. Open mode at the end.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { SecuredHub } from "../support/access.js";
import { accessControl, startSecuredHub } from "../support/access.js";
import type { Fixture } from "@modelhub/test-support/fixtures.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import type { ApiResponse } from "../support/hub.js";
import { startTestHub } from "../support/hub.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const T = "3c6f0a1e-2b4d-4e8f-9a1b-5c7d9e0f1a2b";
const OTHER = "9e8d7c6b-5a49-4382-8170-6f5e4d3c2b1a";
const FORBIDDEN = {
  error: {
    code: "InsufficientPermissions",
    message: "The user has insufficient permissions for the requested operation.",
  },
};
const BRIEFCASE_GONE = { error: { code: "BriefcaseNotFound", message: "Requested Briefcase is not available." } };

function modelhub(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...MODELHUB, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

function expectBody(r: ApiResponse<Json>, status: number, body?: unknown): void {
  assert.equal(r.status, status, r.text);
  if (body !== undefined) assert.deepEqual(r.body, body);
}

describe("access control and ownership (tokens mode)", () => {
  let s: SecuredHub;
  let fixture: Fixture;
  let iModelId: string;
  const api = (user: string) => (method: string, path: string, options?: { body?: unknown }) =>
    s.as(user).api<Json>(method, path, options);
  const ac = (user: string) => accessControl(s.as(user));
  const role = async (name: string, permissions: string[]) =>
    (await ac("alice")("POST", `/itwins/${T}/roles`, { displayName: name, permissions })).body.role.id as string;
  const tipId = () => fixture.changesets[0]!.id;
  const lock = (user: string, briefcaseId: number, level: string, ids = ["0x1"]) =>
    api(user)("PATCH", `/${iModelId}/locks`, {
      body: { briefcaseId, changesetId: tipId(), lockedObjects: [{ lockLevel: level, objectIds: ids }] },
    });
  const createPush = (user: string, briefcaseId: number) => {
    const cs = fixture.changesets[1]!;
    return api(user)("POST", `/${iModelId}/changesets`, {
      body: { id: cs.id, parentId: cs.parentId, briefcaseId, fileSize: cs.size, containingChanges: 0 },
    });
  };

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 2);
    s = await startSecuredHub(["alice", "bob", "carol", "dave", "guest", "eve"], {
      admins: [],
      pendingPushTimeoutMs: 1,
    });
    iModelId = (
      await createIModelFromFile(s.as("alice"), fixture.version0Path, { iTwinId: T, user: "alice", name: "owned" })
    ).id;
    const aliceBriefcase = await acquireBriefcase(s.as("alice"), iModelId, "alice");
    await pushChangeset(s.as("alice"), iModelId, aliceBriefcase, fixture.changesets[0]!, "alice");
    const writer = await role("Writer", ["imodels_write"]);
    const reader = await role("Reader", ["imodels_read"]);
    const manager = await role("Manager", ["imodels_manage"]);
    const added = await ac("alice")("POST", `/itwins/${T}/members/users`, {
      members: [
        { userId: "bob", roleIds: [writer] },
        { userId: "carol", roleIds: [reader] },
        { userId: "dave", roleIds: [manager] },
      ],
    });
    assert.equal(added.status, 201, added.text);
  });
  after(() => s?.close());

  it("only a briefcase's owner locks or pushes with it, a manager (even the iTwin's Owner) included", async () => {
    const bobs = await acquireBriefcase(s.as("bob"), iModelId, "bob");
    expectBody(await lock("bob", bobs, "exclusive"), 200);
    // alice is the iTwin's Owner (every permission), still not bob.
    expectBody(await lock("alice", bobs, "shared", ["0x2"]), 403, FORBIDDEN);
    expectBody(await createPush("alice", bobs), 403, FORBIDDEN);
    // A release mixed into an acquiring request does not make it a release.
    expectBody(
      await api("dave")("PATCH", `/${iModelId}/locks`, {
        body: {
          briefcaseId: bobs,
          changesetId: tipId(),
          lockedObjects: [
            { lockLevel: "none", objectIds: ["0x1"] },
            { lockLevel: "shared", objectIds: ["0x3"] },
          ],
        },
      }),
      403,
      FORBIDDEN,
    );
    // Nothing was changed by the refusals.
    const locks = await api("bob")("GET", `/${iModelId}/locks?briefcaseId=${bobs}`);
    assert.deepEqual(locks.body.locks[0].lockedObjects, [{ lockLevel: "exclusive", objectIds: ["0x1"] }]);
  });

  it("a read-only user acquires and releases their own briefcase but cannot lock or push, nor release someone else's", async () => {
    const carols = await acquireBriefcase(s.as("carol"), iModelId, "carol");
    expectBody(await lock("carol", carols, "shared"), 403, FORBIDDEN);
    expectBody(await createPush("carol", carols), 403, FORBIDDEN);
    expectBody(
      await api("carol")("POST", `/${iModelId}/locks/release-chunk`, {
        body: { briefcaseId: carols, changesetId: tipId() },
      }),
      403,
      FORBIDDEN,
    );
    const bobs = await acquireBriefcase(s.as("bob"), iModelId, "bob");
    expectBody(await api("carol")("DELETE", `/${iModelId}/briefcases/${bobs}`), 403, FORBIDDEN);
    expectBody(await api("carol")("DELETE", `/${iModelId}/briefcases/${carols}`), 204);
    // Downloads are hers: the changeset's file link is there.
    const cs = await api("carol")("GET", `/${iModelId}/changesets/1`);
    assert.match(cs.body.changeset._links.download.href, /\/storage\//);
  });

  it("the lost laptop: a manager releases another user's locks and briefcase; the owner's next lock and push are refused", async () => {
    const lost = await acquireBriefcase(s.as("bob"), iModelId, "bob");
    expectBody(await lock("bob", lost, "exclusive", ["0x10", "0x11"]), 200);
    // One lock released, then the rest by chunks, then the briefcase itself.
    expectBody(await lock("dave", lost, "none", ["0x10"]), 200);
    const chunk = await api("dave")("POST", `/${iModelId}/locks/release-chunk`, {
      body: { briefcaseId: lost, changesetId: tipId() },
    });
    expectBody(chunk, 200, { isLastChunk: true });
    expectBody(await api("dave")("DELETE", `/${iModelId}/briefcases/${lost}`), 204);
    expectBody(await lock("bob", lost, "exclusive", ["0x10"]), 404, BRIEFCASE_GONE);
    expectBody(await createPush("bob", lost), 404, BRIEFCASE_GONE);
    // Another user may now take the objects the lost briefcase held.
    const alices = await acquireBriefcase(s.as("alice"), iModelId, "alice");
    expectBody(await lock("alice", alices, "exclusive", ["0x10", "0x11"]), 200);
  });

  it("a push in flight ends when its briefcase is released by a manager", async () => {
    const b = await acquireBriefcase(s.as("bob"), iModelId, "bob");
    const created = await createPush("bob", b);
    assert.equal(created.status, 201, created.text);
    expectBody(await api("dave")("DELETE", `/${iModelId}/briefcases/${b}`), 204);
    const complete = await api("bob")("PATCH", `/${iModelId}/changesets/${fixture.changesets[1]!.id}`, {
      body: { state: "fileUploaded", briefcaseId: b },
    });
    expectBody(complete, 404, BRIEFCASE_GONE);
  });

  it("lists show only what the caller can see, page by page; other iTwins show nothing", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await api("alice")("POST", "", {
        body: { iTwinId: T, name: `listed-${i}`, baselineFile: { size: 1000 } },
      });
      assert.equal(r.status, 201, r.text);
      ids.push(r.body.iModel.id);
    }
    for (const id of [ids[0], ids[2], ids[4]])
      expectBody(
        await api("alice")("PATCH", `/${id}/permissions/users/guest`, { body: { permissions: ["imodels_webview"] } }),
        200,
      );
    const seen: string[] = [];
    let next: string | undefined = `?iTwinId=${T}&$top=2`;
    let pages = 0;
    while (next) {
      const page: ApiResponse<Json> = await api("guest")("GET", next);
      assert.equal(page.status, 200, page.text);
      assert.ok(page.body.iModels.length <= 2);
      seen.push(...page.body.iModels.map((m: Json) => m.id));
      next = page.body._links.next?.href;
      pages++;
    }
    assert.deepEqual(seen.sort(), [ids[0], ids[2], ids[4]].sort());
    assert.equal(pages, 2);
    // Bob (an iTwin member) sees every iModel of the iTwin but the ones with grants that leave him out.
    const bobSees = (await api("bob")("GET", `?iTwinId=${T}&$top=100`)).body.iModels.map((m: Json) => m.id);
    assert.ok(
      bobSees.includes(iModelId) && bobSees.includes(ids[1]) && !bobSees.includes(ids[0]),
      JSON.stringify(bobSees),
    );
    expectBody(await api("guest")("GET", `/${ids[1]}`), 404, {
      error: { code: "iModelNotFound", message: "Requested iModel is not available." },
    });
    expectBody(await api("guest")("GET", `?iTwinId=${OTHER}`), 200);
    assert.deepEqual((await api("bob")("GET", `?iTwinId=${OTHER}`)).body.iModels, []);
    // The grant shows in the caller's effective permissions, in the cloud's shape.
    expectBody(await api("guest")("GET", `/${ids[0]}/permissions`), 200, { permissions: ["imodels_webview"] });
  });

  it("a claimed iTwin cannot be claimed again; a non-member creates nothing in it", async () => {
    const r = await api("eve")("POST", "", { body: { iTwinId: T, name: "intruder" } });
    expectBody(r, 403, FORBIDDEN);
    // ...but her own new iTwin is hers.
    const mine = await api("eve")("POST", "", { body: { iTwinId: OTHER, name: "mine", baselineFile: { size: 1000 } } });
    assert.equal(mine.status, 201, mine.text);
    const members = await ac("eve")("GET", `/itwins/${OTHER}/members/users`);
    assert.deepEqual(
      members.body.members.map((m: Json) => [m.id, m.roles.map((x: Json) => x.displayName)]),
      [["eve", ["Owner"]]],
    );
  });

  it("access-control API errors: unknown role 404, duplicate name 409, bad permission 422, unknown member 404", async () => {
    const a = ac("alice");
    const missingRole = await a("GET", `/itwins/${T}/roles/00000000-0000-4000-8000-000000000000`);
    expectBody(missingRole, 404, { error: { code: "RoleNotFound", message: "Requested Role is not available." } });
    expectBody(await a("POST", `/itwins/${T}/roles`, { displayName: "Writer", permissions: [] }), 409, {
      error: { code: "RoleExists", message: "A Role named 'Writer' already exists on this iTwin." },
    });
    const bad = await a("POST", `/itwins/${T}/roles`, { displayName: "Odd", permissions: ["imodels_fly"] });
    assert.equal(bad.status, 422, bad.text);
    assert.equal(bad.body.error.details[0].target, "permissions[0]");
    expectBody(await a("DELETE", `/itwins/${T}/members/users/nobody-here`), 404, {
      error: { code: "MemberNotFound", message: "Requested Member is not available." },
    });
    const deleteOnIModel = await api("alice")("PATCH", `/${iModelId}/permissions/users/bob`, {
      body: { permissions: ["imodels-delete"] },
    });
    assert.equal(deleteOnIModel.status, 422, deleteOnIModel.text);
    expectBody(await ac("eve")("GET", `/itwins/${T}/roles`), 403, FORBIDDEN);
    expectBody(await api("eve")("GET", `${s.hub.url}/accesscontrol/itwins/${T}/nothing`), 404);
    expectBody(await ac("eve")("GET", `/itwins/${T}/permissions`), 200, { permissions: [] });
  });

  it("modelhub access: roles, members, iModel grants, show; exit 1 on refusals, 2 on usage errors", async () => {
    const env = (user: string) => ({ MODELHUB_URL: s.hub.url, MODELHUB_TOKEN: s.token(user) });
    const created = await modelhub(
      ["access", "roles", "create", "--itwin", T, "--name", "Viewer", "--permissions", "webview", "--json"],
      env("alice"),
    );
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual(JSON.parse(created.stdout).permissions, ["imodels_webview"]);
    const added = await modelhub(
      ["access", "members", "add", "--itwin", T, "--user", "frank", "--role", "Viewer"],
      env("alice"),
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^member frank {2}Viewer/);
    const listed = await modelhub(["access", "members", "list", "--itwin", T, "--json"], env("alice"));
    assert.ok(
      listed.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Json)
        .some((m) => m.id === "frank" && m.roles[0].displayName === "Viewer"),
    );
    const granted = await modelhub(
      ["access", "imodel", "grant", iModelId, "--user", "carol", "--permissions", "read,write", "--json"],
      env("alice"),
    );
    assert.equal(granted.code, 0, granted.stderr);
    assert.deepEqual(JSON.parse(granted.stdout).userPermission.permissions, ["imodels_read", "imodels_write"]);
    // From now on this iModel's grants replace the iTwin's: carol has read+write here, bob (Writer) nothing.
    const carolShow = await modelhub(["access", "show", iModelId, "--json"], env("carol"));
    assert.deepEqual(JSON.parse(carolShow.stdout).permissions, ["imodels_webview", "imodels_read", "imodels_write"]);
    const bobShow = await modelhub(["access", "show", iModelId], env("bob"));
    assert.equal(bobShow.code, 1);
    assert.equal(
      bobShow.stderr,
      "modelhub access show: the hub answered 404: iModelNotFound: Requested iModel is not available.\n",
    );
    // alice kept her own access when she made the iModel's first grant (else she would have locked herself out).
    assert.equal(
      (await modelhub(["access", "show", iModelId], env("alice"))).stdout,
      "imodels_webview\nimodels_read\nimodels_write\nimodels_manage\nimodels-delete\n",
    );
    const revoked = await modelhub(["access", "imodel", "revoke", iModelId, "--user", "carol"], env("alice"));
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((await modelhub(["access", "imodel", "revoke", iModelId, "--user", "alice"], env("alice"))).code, 0);
    assert.equal(
      (await modelhub(["access", "show", iModelId], env("bob"))).stdout,
      "imodels_webview\nimodels_read\nimodels_write\n",
    );
    const refused = await modelhub(
      ["access", "roles", "create", "--itwin", T, "--name", "Mine", "--permissions", "manage"],
      env("bob"),
    );
    assert.deepEqual(
      [refused.code, refused.stderr],
      [
        1,
        "modelhub access roles create: the hub answered 403: InsufficientPermissions: The user has insufficient permissions for the requested operation.\n",
      ],
    );
    const usage = await modelhub(
      ["access", "roles", "create", "--itwin", T, "--name", "X", "--permissions", "fly"],
      env("alice"),
    );
    assert.equal(usage.code, 2, usage.stderr);
    const both = await modelhub(["access", "imodel", "grant", iModelId, "--permissions", "read"], env("alice"));
    assert.equal(both.code, 2, both.stderr);
    const removed = await modelhub(["access", "members", "remove", "--itwin", T, "--user", "frank"], env("alice"));
    assert.equal(removed.code, 0, removed.stderr);
    const deleted = await modelhub(["access", "roles", "delete", "--itwin", T, "--role", "viewer"], env("alice"));
    assert.equal(deleted.code, 0, deleted.stderr);
    const roles = await modelhub(["access", "roles", "list", "--itwin", T, "--json"], env("alice"));
    assert.ok(!roles.stdout.includes('"Viewer"'), roles.stdout);
  });
});

describe("open mode: everyone may do everything, but briefcases are still their owners'", () => {
  it("GET /permissions answers all five; pushing or locking with another's briefcase is refused", async () => {
    const fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 2);
    const hub = await startTestHub();
    try {
      const model = await createIModelFromFile(hub, fixture.version0Path, { user: "alice" });
      assert.deepEqual((await hub.api<Json>("GET", `/${model.id}/permissions`, { user: "anyone" })).body, {
        permissions: ["imodels_webview", "imodels_read", "imodels_write", "imodels_manage", "imodels-delete"],
      });
      const alices = await acquireBriefcase(hub, model.id, "alice");
      const r = await hub.api("PATCH", `/${model.id}/locks`, {
        user: "mallory",
        body: { briefcaseId: alices, changesetId: "", lockedObjects: [{ lockLevel: "shared", objectIds: ["0x1"] }] },
      });
      assert.deepEqual([r.status, r.body], [403, FORBIDDEN]);
      // A manager (everyone, in open mode) may release it: the lost laptop without an identity provider.
      assert.equal((await hub.api("DELETE", `/${model.id}/briefcases/${alices}`, { user: "mallory" })).status, 204);
    } finally {
      await hub.close();
    }
  });
});
