// The "done when", end to end with real tokens: unmodified iTwin.js users (each in its own process) work
// together against a `modelhub serve` process in `--auth oidc` mode (a real local OpenID provider, client
// credentials → JWT access tokens) and in `--auth tokens` mode (tokens made with `modelhub tokens create`).
// - alice creates the iModel in an unclaimed iTwin (she becomes its Owner) and grants roles through the API;
// - alice and bob (write) run the two-user workflow: briefcases, locks, push, pull, named versions;
// - carol (read only) downloads a briefcase and pulls, but cannot lock or push: InsufficientPermissions, surfaced by
//   iTwin.js as an error at once (no retry loop); eve (no role) does not even see the iModel;
// - dave (manage) releases bob's "lost" briefcases and their locks, once through the API and once with
//   `modelhub briefcases release`; bob's next lock and push with them are refused; the audit log shows who did it;
// - bob (write) may not delete the iModel, alice (Owner) does.
// run-tests: heavy (two hub processes, an identity provider and six iTwin.js processes for two minutes)
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import { startIdentityProvider } from "@modelhub/test-support/identity-provider.js";
import type { Agent, AgentError } from "./support/agents.js";
import { Agent as AgentClass, startHubProcess } from "./support/agents.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type User = "alice" | "bob" | "carol" | "dave" | "eve";
type Tokens = Record<User, string>;

const USERS: readonly User[] = ["alice", "bob", "carol", "dave", "eve"];
const ACCEPT = "application/vnd.bentley.itwin-platform.v2+json";

function modelhub(
  args: string[],
  env: Record<string, string> = {},
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

/** The API as one user (a real token), `path` from the hub's origin. */
function client(hubUrl: string, token: string) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
    const response = await fetch(`${hubUrl}${path}`, {
      method,
      headers: {
        accept: ACCEPT,
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Json) : {} };
  };
}

/** What iTwin.js code acts on, plus how long the failing call took (a retry loop would take seconds). */
async function failure(
  agent: Agent,
  command: string,
  args: Record<string, unknown>,
): Promise<{ error: AgentError; ms: number }> {
  const started = Date.now();
  const r = await agent.try(command, args);
  assert.equal(r.ok, false, `${command} should have been refused`);
  return { error: (r as { ok: false; error: AgentError }).error, ms: Date.now() - started };
}

async function secureScenario(
  hubUrl: string,
  tokens: Tokens,
  iTwinId: string,
  dir: string,
  version0: string,
): Promise<Json> {
  const record: Json = {};
  const as = Object.fromEntries(USERS.map((u) => [u, client(hubUrl, tokens[u])])) as Record<
    User,
    ReturnType<typeof client>
  >;
  // Each user's iTwin.js process holds that user's token (the agents' default token for every call).
  const [alice, bob, carol] = await Promise.all([
    AgentClass.start(hubUrl, tokens.alice),
    AgentClass.start(hubUrl, tokens.bob),
    AgentClass.start(hubUrl, tokens.carol),
  ]);
  try {
    // alice creates the first iModel of an iTwin nobody is a member of: she becomes its Owner.
    const iModelId = await alice.do<string>("createIModel", { iTwinId, name: "secure", version0 });
    const common = { iModelId, iTwinId, dir };
    const role = async (displayName: string, permissions: string[]) => {
      const r = await as.alice("POST", `/accesscontrol/itwins/${iTwinId}/roles`, { displayName, permissions });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.role.id as string;
    };
    const [writer, reader, manager] = [
      await role("Writer", ["imodels_write"]),
      await role("Reader", ["imodels_read"]),
      await role("Manager", ["imodels_manage"]),
    ];
    const added = await as.alice("POST", `/accesscontrol/itwins/${iTwinId}/members/users`, {
      members: [
        { userId: "bob", roleIds: [writer] },
        { userId: "carol", roleIds: [reader] },
        { userId: "dave", roleIds: [manager] },
      ],
    });
    assert.ok(added.status === 200 || added.status === 201, JSON.stringify(added.body));
    record.permissions = {} as Json;
    for (const u of USERS) {
      const r = await as[u]("GET", `/imodels/${iModelId}/permissions`);
      record.permissions[u] = r.body.permissions ?? r.body.error?.code;
    }
    // eve has no role: the iModel does not exist for her, and lists do not show it.
    record.eve = {
      get: (await as.eve("GET", `/imodels/${iModelId}`)).body.error?.code,
      list: (await as.eve("GET", `/imodels?iTwinId=${iTwinId}`)).body.iModels?.length,
    };

    // The two-user workflow (alice owner, bob writer).
    record.download = [
      await alice.do("download", { ...common, key: "a" }),
      await bob.do("download", { ...common, key: "b" }),
    ];
    const first = await alice.do<string[]>("insert", { key: "a", count: 5 });
    record.push1 = await alice.do("push", { key: "a", description: "five elements" });
    record.bobPull1 = await bob.do("pull", { key: "b" });
    await alice.do("lock", { key: "a", level: "exclusive", ids: [first[0]] });
    const conflict = await bob.try("lock", { key: "b", level: "exclusive", ids: [first[0]] });
    record.lockConflict = conflict.ok
      ? "granted"
      : { errorNumber: conflict.error.errorNumber, briefcaseId: conflict.error.briefcaseId };
    await alice.do("update", { key: "a", id: first[0], label: "edited by alice" });
    record.push2 = await alice.do("push", { key: "a", description: "edit" });
    record.bobPull2 = await bob.do("pull", { key: "b" });
    await alice.do("insert", { key: "a", count: 3 });
    await bob.do("insert", { key: "b", count: 4 });
    record.pushes = [
      await alice.do("push", { key: "a", description: "three more" }),
      await bob.do("push", { key: "b", description: "four more" }),
    ];
    record.afterBoth = [await alice.do("pull", { key: "a" }), await bob.do("pull", { key: "b" })];
    await alice.do("nameVersion", { iModelId, name: "v2", index: 2 });
    record.named = (
      await alice.do<Json>("hubCall", { method: "getChangesetFromNamedVersion", args: { iModelId, versionName: "v2" } })
    ).index;
    record.bobNamed = (
      await bob.do<Json>("hubCall", { method: "getChangesetFromVersion", args: { iModelId, version: { named: "v2" } } })
    ).index;

    // carol (read only): downloads and pulls; locks and pushes are refused at once.
    record.carolDownload = await carol.do("download", { ...common, key: "c" });
    record.carolPull = await carol.do("pull", { key: "c" });
    const carolBriefcase = (record.carolDownload as Json).briefcaseId as number;
    const lockRefused = await failure(carol, "lock", { key: "c", level: "shared", ids: [first[1]] });
    const latest = await carol.do<Json>("hubCall", { method: "getLatestChangeset", args: { iModelId } });
    const pushRefused = await failure(carol, "hubCall", {
      method: "pushChangeset",
      args: {
        iModelId,
        changesetProps: {
          id: randomBytes(20).toString("hex"),
          parentId: latest.id,
          index: 0,
          briefcaseId: carolBriefcase,
          changesType: 0,
          description: "not allowed",
          pathname: version0,
          pushDate: "",
          userCreated: "",
          size: 1,
        },
      },
    });
    record.carolRefused = [lockRefused, pushRefused].map((r) => ({
      insufficient: /InsufficientPermissions/.test(r.error.message ?? ""),
      quick: r.ms < 5000,
    }));
    const carolLocks = await as.carol("PATCH", `/imodels/${iModelId}/locks`, {
      briefcaseId: carolBriefcase,
      changesetId: latest.id,
      lockedObjects: [{ lockLevel: "shared", objectIds: ["0x10"] }],
    });
    record.carolLocksBody = carolLocks.body;

    // bob "loses" two laptops, each briefcase holding locks; b2 also has unpushed local changes.
    await bob.do("lock", { key: "b", level: "exclusive", ids: [first[2]] });
    record.bobDownload2 = await bob.do("download", { ...common, key: "b2" });
    await bob.do("insert", { key: "b2", count: 2 });
    const lostB = (record.download as Json[])[1]!.briefcaseId as number;
    const lostB2 = (record.bobDownload2 as Json).briefcaseId as number;
    const bobsLocks = async () =>
      (await as.dave("GET", `/imodels/${iModelId}/locks`)).body.locks.filter((l: Json) =>
        [lostB, lostB2].includes(l.briefcaseId),
      ).length;
    record.bobsLockedBriefcases = await bobsLocks();
    // dave may not take locks with bob's briefcase (ownership holds for managers too)…
    const daveLock = await as.dave("PATCH", `/imodels/${iModelId}/locks`, {
      briefcaseId: lostB,
      changesetId: latest.id,
      lockedObjects: [{ lockLevel: "exclusive", objectIds: ["0x10"] }],
    });
    record.daveLocksWithBobsBriefcase = [daveLock.status, daveLock.body.error?.code];
    // …but releases bob's briefcases with their locks: b through the API, b2 with the CLI.
    record.releasedByApi = (await as.dave("DELETE", `/imodels/${iModelId}/briefcases/${lostB}`)).status;
    const released = await modelhub(["briefcases", "release", iModelId, String(lostB2)], {
      MODELHUB_URL: hubUrl,
      MODELHUB_TOKEN: tokens.dave,
    });
    assert.equal(released.code, 0, released.stderr);
    // iTwin.js ≥ 5.7 names the device a briefcase is acquired for (AcquireNewBriefcaseIdArg.deviceName, e.g.
    // "<host>:Linux:x64"); the CLI shows it.
    record.releasedByCli = released.stdout
      .trim()
      .replace(/\d+ locks$/, "N locks")
      .replace(String(lostB2), "B2")
      .replace(/ of bob \([^)]+\)/, " of bob (device)");
    record.bobsLockedBriefcasesAfter = await bobsLocks();
    // bob's next lock and push with them: refused clearly (the briefcase no longer exists), no retry loop.
    const nextLock = await failure(bob, "lock", { key: "b", level: "exclusive", ids: [first[3]] });
    const nextPush = await failure(bob, "push", { key: "b2", description: "from the lost laptop" });
    record.bobAfterRelease = [nextLock, nextPush].map((r) => ({
      briefcaseGone: /Briefcase/i.test(r.error.message ?? ""),
      quick: r.ms < 10_000,
    }));
    // For the reader of the test output (not compared): what bob's iTwin.js process was told.
    record.bobAfterReleaseErrors = [nextLock, nextPush].map(
      (r) => `${r.error.errorNumber}: ${r.error.message} (${r.ms} ms)`,
    );

    // The audit log says who released them; carol (read) may not read it.
    const audit = await as.dave("GET", `/imodels/${iModelId}/auditlog?action=briefcase.release`);
    record.audit = audit.body.auditEntries.map((e: Json) => [
      e.userId,
      Number(e.target) === lostB ? "B" : Number(e.target) === lostB2 ? "B2" : e.target,
      e.status,
      e.iTwinId === iTwinId,
    ]);
    const cliAudit = await modelhub(["audit", "--imodel", iModelId, "--action", "briefcase.release", "--json"], {
      MODELHUB_URL: hubUrl,
      MODELHUB_TOKEN: tokens.dave,
    });
    assert.equal(cliAudit.code, 0, cliAudit.stderr);
    record.cliAudit = cliAudit.stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as Json).userId);
    const carolAudit = await as.carol("GET", `/imodels/${iModelId}/auditlog`);
    record.carolAudit = [carolAudit.status, carolAudit.body.error?.code];
    const refusals = await as.dave("GET", `/imodels/${iModelId}/auditlog?userId=carol`);
    record.carolRefusalsAudited = refusals.body.auditEntries
      .filter((e: Json) => e.outcome === "refused")
      .map((e: Json) => [e.action, e.status]);

    // Deleting: bob (write) may not; alice (Owner) may.
    const bobDelete = await bob.try("hubCall", { method: "deleteIModel", args: { iModelId, iTwinId } });
    record.bobDelete = bobDelete.ok ? "deleted" : /InsufficientPermissions/.test(bobDelete.error.message ?? "");
    await alice.do("close", { key: "a" });
    await carol.do("close", { key: "c" });
    await alice.do("hubCall", { method: "deleteIModel", args: { iModelId, iTwinId } });
    record.deleted = (await as.alice("GET", `/imodels/${iModelId}`)).status;
    return record;
  } finally {
    await alice.stop();
    await bob.stop();
    await carol.stop();
  }
}

function checkRecord(r: Json): void {
  assert.deepEqual(r.permissions, {
    alice: ["imodels_webview", "imodels_read", "imodels_write", "imodels_manage", "imodels-delete"],
    bob: ["imodels_webview", "imodels_read", "imodels_write"],
    carol: ["imodels_webview", "imodels_read"],
    dave: ["imodels_webview", "imodels_read", "imodels_manage"],
    eve: "iModelNotFound",
  });
  assert.deepEqual(r.eve, { get: "iModelNotFound", list: 0 });
  assert.deepEqual(
    r.download.map((d: Json) => d.briefcaseId),
    [2, 3],
  );
  assert.equal(r.push1, 1);
  assert.deepEqual(r.bobPull1, { changesetIndex: 1, count: 5 });
  assert.deepEqual(r.lockConflict, { errorNumber: 102428, briefcaseId: 2 });
  assert.equal(r.push2, 2);
  assert.deepEqual(r.pushes, [3, 4]);
  assert.deepEqual(r.afterBoth, [
    { changesetIndex: 4, count: 12 },
    { changesetIndex: 4, count: 12 },
  ]);
  assert.equal(r.named, 2);
  assert.equal(r.bobNamed, 2);
  assert.deepEqual(r.carolDownload, { briefcaseId: 4, changesetIndex: 4, count: 12 });
  assert.deepEqual(r.carolPull, { changesetIndex: 4, count: 12 });
  assert.deepEqual(r.carolRefused, [
    { insufficient: true, quick: true },
    { insufficient: true, quick: true },
  ]);
  assert.deepEqual(r.carolLocksBody, {
    error: {
      code: "InsufficientPermissions",
      message: "The user has insufficient permissions for the requested operation.",
    },
  });
  assert.equal(r.bobsLockedBriefcases, 2);
  assert.deepEqual(r.daveLocksWithBobsBriefcase, [403, "InsufficientPermissions"]);
  assert.equal(r.releasedByApi, 204);
  assert.equal(r.releasedByCli, "released briefcase B2 of bob (device) and its N locks");
  assert.equal(r.bobsLockedBriefcasesAfter, 0);
  assert.deepEqual(r.bobAfterRelease, [
    { briefcaseGone: true, quick: true },
    { briefcaseGone: true, quick: true },
  ]);
  assert.deepEqual(r.audit, [
    ["dave", "B", 204, true],
    ["dave", "B2", 204, true],
  ]);
  assert.deepEqual(r.cliAudit, ["dave", "dave"]);
  assert.deepEqual(r.carolAudit, [403, "InsufficientPermissions"]);
  assert.deepEqual(r.carolRefusalsAudited, [
    ["locks.update", 403],
    ["changeset.push", 403],
    ["locks.update", 403],
  ]);
  assert.equal(r.bobDelete, true);
  assert.equal(r.deleted, 404);
}

describe("secure two-user workflow with real tokens (iTwin.js users in their own processes)", () => {
  let version0: string;
  let work: string;

  before(async () => {
    version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    work = await mkdtemp(join(tmpdir(), "modelhub-secure-"));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it("--auth oidc against a real local OpenID provider (client credentials → JWT access tokens)", async (t) => {
    const idp = await startIdentityProvider(
      USERS.map((u) => ({
        clientId: u,
        secret: `${u}-secret-${randomBytes(8).toString("hex")}`,
        claims: { name: `${u[0]!.toUpperCase()}${u.slice(1)}` },
      })),
    );
    const hub = await startHubProcess({ args: ["--auth", "oidc", "--issuer", idp.issuer, "--audience", idp.audience] });
    try {
      const tokens = Object.fromEntries(await Promise.all(USERS.map(async (u) => [u, await idp.token(u)]))) as Tokens;
      assert.ok(
        Object.values(tokens).every((t) => t.split(".").length === 3),
        "JWT access tokens",
      );
      const record = await secureScenario(
        hub.url,
        tokens,
        "7a1e0c52-43d1-4b8e-9f6a-0d2c3b4a5e61",
        join(work, "oidc"),
        version0,
      );
      t.diagnostic(JSON.stringify(record));
      checkRecord(record);
    } finally {
      await hub.stop();
      await idp.close();
    }
  });

  it("--auth tokens with tokens made by `modelhub tokens create`", async (t) => {
    const hub = await startHubProcess({ args: ["--auth", "tokens"] });
    try {
      const tokens = {} as Tokens;
      for (const u of USERS) {
        const made = await modelhub([
          "tokens",
          "create",
          "--user",
          u,
          "--data",
          hub.dataDir,
          "--expires",
          "1d",
          "--json",
        ]);
        assert.equal(made.code, 0, made.stderr);
        tokens[u] = (JSON.parse(made.stdout) as Json).token as string;
      }
      const record = await secureScenario(
        hub.url,
        tokens,
        "7a1e0c52-43d1-4b8e-9f6a-0d2c3b4a5e62",
        join(work, "tokens"),
        version0,
      );
      t.diagnostic(JSON.stringify(record));
      checkRecord(record);
    } finally {
      await hub.stop();
    }
  });
});
