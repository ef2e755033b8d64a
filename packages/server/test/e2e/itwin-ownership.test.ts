// The findings of issue 17, each tried as the attacker would, with real tokens in both verifying modes (hub-issued
// tokens, and a real OpenID Connect provider): an iTwin whose iModels an administrator created is not claimable by
// creating an iModel in it, a manager cannot grant themselves delete and remove the Owner, and an iModel-only
// manager cannot take an iTwin manager's grant away. Each attempt below succeeded before iTwins had Owners. Then a
// trial in open mode, restarted with --auth tokens, keeps every iTwin's Owner.
import assert from "node:assert/strict";
import { join } from "node:path";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { after, before, describe, it } from "node:test";
import { SqliteIdentityStore } from "../../src/adapters/sqlite/sqlite-identity-store.js";
import { hashHubToken, newHubTokenSecret } from "../../src/http/authn/hub-tokens.js";
import { startSecuredHub } from "../support/access.js";
import type { ApiResponse, TestHub } from "../support/hub.js";
import { startTestHub } from "../support/hub.js";
import type { LocalIdentityProvider } from "@modelhub/test-support/identity-provider.js";
import { startIdentityProvider } from "@modelhub/test-support/identity-provider.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const USERS = ["root", "alice", "mike", "ivan", "mallory"] as const;
type User = (typeof USERS)[number];
const FORBIDDEN_CODE = "InsufficientPermissions";

/** A hub that verifies tokens, and each user's token for it. */
interface VerifyingHub {
  hub: TestHub;
  token(user: User): Promise<string>;
  close(): Promise<void>;
}

const MODES: Record<string, () => Promise<VerifyingHub>> = {
  tokens: async () => {
    const s = await startSecuredHub(USERS, { admins: ["root"] });
    return { hub: s.hub, token: async (user) => s.token(user), close: () => s.close() };
  },
  oidc: async () => {
    let idp: LocalIdentityProvider | undefined;
    idp = await startIdentityProvider(
      USERS.map((u) => ({ clientId: u, secret: `${u}-secret-0123456789-abcdefghijklmnop` })),
    );
    const hub = await startTestHub({
      auth: { mode: "oidc", issuer: idp.issuer, audience: idp.audience },
      admins: ["root"],
    });
    const tokens = new Map<User, string>();
    return {
      hub,
      token: async (user) => {
        if (!tokens.has(user)) tokens.set(user, await idp!.token(user));
        return tokens.get(user)!;
      },
      close: async () => {
        await hub.close();
        await idp?.close();
        idp = undefined;
      },
    };
  },
};

for (const [mode, start] of Object.entries(MODES)) {
  describe(`iTwin ownership and no escalation (--auth ${mode})`, () => {
    let v: VerifyingHub;
    const call = async (user: User, method: string, path: string, body?: unknown): Promise<ApiResponse<Json>> =>
      v.hub.api<Json>(
        method,
        path.startsWith("/accesscontrol") || path.startsWith("/itwins") ? `${v.hub.url}${path}` : path,
        {
          user: null,
          headers: { authorization: `Bearer ${await v.token(user)}` },
          ...(body === undefined ? {} : { body }),
        },
      );
    const expect = (r: ApiResponse<Json>, status: number, code?: string) => {
      assert.equal(r.status, status, r.text);
      if (code !== undefined) assert.equal(r.body.error.code, code, r.text);
      return r;
    };
    const newIModel = async (user: User, iTwinId: string, name: string) =>
      expect(await call(user, "POST", "", { iTwinId, name }), 201).body.iModel.id as string;

    before(async () => {
      v = await start();
    });
    after(() => v?.close());

    it("high: an iTwin whose iModels an administrator created is the administrator's: nobody claims it by creating an iModel there", async () => {
      const iTwinId = "a0a0a0a0-1111-4222-8333-444455556666";
      const adminModel = await newIModel("root", iTwinId, "Administrator's model");
      // The attempt that used to make mallory the iTwin's Owner.
      expect(await call("mallory", "POST", "", { iTwinId, name: "Mallory's foothold" }), 403, FORBIDDEN_CODE);
      expect(await call("mallory", "GET", `/${adminModel}`), 404, "iModelNotFound");
      expect(await call("mallory", "GET", `/${adminModel}/auditlog`), 404, "iModelNotFound");
      expect(await call("mallory", "DELETE", `/${adminModel}`), 404, "iModelNotFound");
      expect(await call("mallory", "GET", `/itwins/${iTwinId}`), 404, "iTwinNotFound");
      // The administrator who started it is its Owner, and it has no other member.
      const members = expect(await call("root", "GET", `/accesscontrol/itwins/${iTwinId}/members/users`), 200);
      assert.deepEqual(
        members.body.members.map((m: Json) => [m.id, m.roles.map((r: Json) => r.displayName)]),
        [["root", ["Owner"]]],
      );
      expect(await call("root", "GET", `/${adminModel}`), 200);
    });

    it("bad input changes nothing: a refused iModel creation under a new iTwin id leaves no iTwin (nobody owns it)", async () => {
      const iTwinId = "a1a1a1a1-1111-4222-8333-444455556666";
      expect(await call("mallory", "POST", "", { iTwinId, name: "" }), 422, "InvalidiModelsRequest");
      expect(
        await call("mallory", "POST", "", {
          iTwinId,
          name: "x",
          template: { iModelId: "00000000-0000-4000-8000-000000000000" },
        }),
        404,
        "iModelNotFound",
      );
      expect(await call("mallory", "GET", `/itwins/${iTwinId}`), 404, "iTwinNotFound");
      assert.deepEqual(expect(await call("mallory", "GET", "/itwins"), 200).body.iTwins, []);
      // So it is still free: the first real creation makes its creator the Owner.
      await newIModel("alice", iTwinId, "Alice's");
      expect(await call("mallory", "POST", "", { iTwinId, name: "Late" }), 403, FORBIDDEN_CODE);
    });

    it("medium: a manager cannot create a delete role, give it (or Owner) to themselves, nor remove or demote the Owner", async () => {
      const iTwinId = "b0b0b0b0-1111-4222-8333-444455556666";
      const model = await newIModel("alice", iTwinId, "Alice's model");
      const manager = expect(
        await call("alice", "POST", `/accesscontrol/itwins/${iTwinId}/roles`, {
          displayName: "Manager",
          permissions: ["imodels_manage"],
        }),
        201,
      ).body.role.id;
      expect(
        await call("alice", "POST", `/accesscontrol/itwins/${iTwinId}/members/users`, {
          members: [{ userId: "mike", roleIds: [manager] }],
        }),
        201,
      );

      expect(
        await call("mike", "POST", `/accesscontrol/itwins/${iTwinId}/roles`, {
          displayName: "Deleters",
          permissions: ["imodels_delete"],
        }),
        403,
        FORBIDDEN_CODE,
      );
      const roles = expect(await call("mike", "GET", `/accesscontrol/itwins/${iTwinId}/roles`), 200).body
        .roles as Json[];
      const owner = roles.find((r) => r.displayName === "Owner")!.id;
      expect(
        await call("mike", "PATCH", `/accesscontrol/itwins/${iTwinId}/members/users/mike`, {
          roleIds: [manager, owner],
        }),
        403,
        FORBIDDEN_CODE,
      );
      expect(await call("mike", "DELETE", `/accesscontrol/itwins/${iTwinId}/members/users/alice`), 403, FORBIDDEN_CODE);
      expect(
        await call("mike", "PATCH", `/accesscontrol/itwins/${iTwinId}/members/users/alice`, { roleIds: [manager] }),
        403,
        FORBIDDEN_CODE,
      );
      expect(
        await call("mike", "PATCH", `/accesscontrol/itwins/${iTwinId}/roles/${manager}`, {
          permissions: ["imodels_manage", "imodels_delete"],
        }),
        403,
        FORBIDDEN_CODE,
      );
      // Nothing changed: alice still sees and may delete her iModel, mike still may not.
      expect(await call("alice", "GET", `/${model}`), 200);
      assert.deepEqual(expect(await call("mike", "GET", `/${model}/permissions`), 200).body.permissions, [
        "imodels_webview",
        "imodels_read",
        "imodels_manage",
      ]);
      expect(await call("mike", "DELETE", `/${model}`), 403, FORBIDDEN_CODE);
      // The last Owner stays, even for an administrator; an Owner may make another and step down.
      expect(await call("root", "DELETE", `/accesscontrol/itwins/${iTwinId}/members/users/alice`), 409, "LastOwner");
      expect(
        await call("alice", "POST", `/accesscontrol/itwins/${iTwinId}/members/users`, {
          members: [{ userId: "mike", roleIds: [owner] }],
        }),
        201,
      );
      expect(await call("mike", "DELETE", `/accesscontrol/itwins/${iTwinId}/members/users/alice`), 204);
    });

    it("medium: a manager of one iModel cannot take an iTwin manager's grant on it away (who could not restore it)", async () => {
      const iTwinId = "c0c0c0c0-1111-4222-8333-444455556666";
      const model = await newIModel("alice", iTwinId, "Shared model");
      const manager = expect(
        await call("alice", "POST", `/accesscontrol/itwins/${iTwinId}/roles`, {
          displayName: "Manager",
          permissions: ["imodels_manage"],
        }),
        201,
      ).body.role.id;
      expect(
        await call("alice", "POST", `/accesscontrol/itwins/${iTwinId}/members/users`, {
          members: [{ userId: "mike", roleIds: [manager] }],
        }),
        201,
      );
      expect(
        await call("alice", "PATCH", `/${model}/permissions/users/mike`, { permissions: ["imodels_manage"] }),
        200,
      );
      expect(
        await call("alice", "PATCH", `/${model}/permissions/users/ivan`, { permissions: ["imodels_manage"] }),
        200,
      );

      expect(await call("ivan", "DELETE", `/${model}/permissions/users/mike`), 403, FORBIDDEN_CODE);
      expect(
        await call("ivan", "PATCH", `/${model}/permissions/users/mike`, { permissions: ["imodels_webview"] }),
        403,
        FORBIDDEN_CODE,
      );
      expect(
        await call("ivan", "PATCH", `/${model}/userpermissions`, { userId: "mallory", permissions: ["imodels_write"] }),
        403,
        FORBIDDEN_CODE,
      );
      assert.deepEqual(expect(await call("mike", "GET", `/${model}/permissions`), 200).body.permissions, [
        "imodels_webview",
        "imodels_read",
        "imodels_manage",
      ]);
      // mike (more on the iTwin than ivan) may take ivan's grant.
      expect(await call("mike", "DELETE", `/${model}/userpermissions/ivan`), 204);
      expect(await call("ivan", "GET", `/${model}`), 404, "iModelNotFound");
    });
  });
}

describe("a trial in open mode, restarted with --auth tokens, keeps every iTwin's Owner", () => {
  let dataDir: string;
  const WEST = "d0d0d0d0-1111-4222-8333-444455556666";
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "modelhub-trial-"));
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  it("open mode records Owners (and warns that roles are not enforced); tokens mode then enforces them", async () => {
    const open = await startTestHub({ dataDir });
    let iModelId: string;
    let eastId: string;
    try {
      const made = await open.api<Json>("POST", "", { user: "alice", body: { iTwinId: WEST, name: "West model" } });
      assert.equal(made.status, 201, made.text);
      iModelId = made.body.iModel.id;
      const east = await open.api<Json>("POST", `${open.url}/itwins`, {
        user: "bob",
        body: { displayName: "East site" },
      });
      assert.equal(east.status, 201, east.text);
      eastId = east.body.iTwin.id;
      // Roles changed in open mode are recorded, with a warning that they protect nothing yet.
      const role = await open.api<Json>("POST", `${open.url}/accesscontrol/itwins/${WEST}/roles`, {
        user: "alice",
        body: { displayName: "Reader", permissions: ["imodels_read"] },
      });
      assert.equal(role.status, 201, role.text);
      assert.match(
        role.headers.get("warning") ?? "",
        /^299 modelhub "Open mode: roles and permissions are recorded but not enforced/,
      );
      const added = await open.api<Json>("POST", `${open.url}/accesscontrol/itwins/${WEST}/members/users`, {
        user: "alice",
        body: { members: [{ userId: "carol", roleIds: [role.body.role.id] }] },
      });
      assert.equal(added.status, 201, added.text);
      assert.match(added.headers.get("warning") ?? "", /not enforced/);
      assert.equal(
        (await open.api("GET", `${open.url}/accesscontrol/itwins/${WEST}/roles`, { user: "alice" })).headers.get(
          "warning",
        ),
        null,
        "reads carry no warning",
      );
    } finally {
      await open.close();
    }

    const identities = SqliteIdentityStore.open(join(dataDir, "metadata.db"));
    const tokens = new Map<string, string>();
    try {
      for (const user of ["alice", "bob", "carol", "mallory"]) {
        const secret = newHubTokenSecret();
        await identities.createToken({ userId: user, tokenHash: hashHubToken(secret) });
        tokens.set(user, secret);
      }
    } finally {
      await identities.close();
    }
    const secured = await startTestHub({ dataDir, auth: { mode: "tokens" } });
    try {
      const as = (user: string, method: string, path: string, body?: unknown) =>
        secured.api<Json>(method, path, { user: tokens.get(user)!, ...(body === undefined ? {} : { body }) });
      assert.equal((await as("alice", "GET", `/${iModelId}`)).status, 200);
      assert.equal((await as("alice", "POST", "", { iTwinId: WEST, name: "Another" })).status, 201);
      assert.equal(
        (await as("carol", "GET", `/${iModelId}/permissions`)).body.permissions.join(","),
        "imodels_webview,imodels_read",
      );
      const intruder = await as("mallory", "POST", "", { iTwinId: WEST, name: "Mine now" });
      assert.deepEqual([intruder.status, intruder.body.error?.code], [403, FORBIDDEN_CODE]);
      assert.equal((await as("mallory", "GET", `/${iModelId}`)).status, 404);
      assert.equal((await as("bob", "GET", `${secured.url}/itwins/${eastId}`)).body.iTwin.displayName, "East site");
      assert.equal((await as("alice", "GET", `${secured.url}/itwins/${eastId}`)).status, 404);
      const mine = await as("alice", "GET", `${secured.url}/itwins`);
      assert.deepEqual(
        mine.body.iTwins.map((t: Json) => t.id),
        [WEST],
      );
      const owners = await as("alice", "GET", `${secured.url}/accesscontrol/itwins/${WEST}/members/users`);
      assert.deepEqual(
        owners.body.members.map((m: Json) => [m.id, m.roles.map((r: Json) => r.displayName).sort()]),
        [
          ["alice", ["Owner"]],
          ["carol", ["Reader"]],
        ],
      );
    } finally {
      await secured.close();
    }
  });
});
