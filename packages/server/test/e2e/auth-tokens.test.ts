// --auth tokens: hub-issued tokens made and revoked with the `modelhub tokens` commands (a real CLI process on the
// hub's data directory while the hub serves it). A revoked or expired token is refused at once with the seed's
// 401 body, and nothing is written (checked by an organization administrator, `admins`, who sees every iModel).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { createToken, listTokens } from "../../src/admin/tokens.js";
import { ConfigError, makeConfig } from "../../src/config.js";
import type { ApiResponse, TestHub } from "../support/hub.js";
import { startTestHub } from "../support/hub.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const run = promisify(execFile);
const INVALID = {
  error: {
    code: "InvalidAccessToken",
    message:
      "Access denied due to invalid access_token. Make sure that issuer is correct, the token is not expired and is not corrupted.",
  },
};
const iTwinId = "00000007-bbbb-4bbb-8bbb-000000000007";

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...MODELHUB, ...args], { timeout: 60_000 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

describe("--auth tokens", () => {
  let hub: TestHub;
  /** An organization administrator's token: sees every iModel, so "nothing was created" does not depend on roles. */
  let root: string;
  const call = (token: string | null, method: string, path: string, body?: unknown): Promise<ApiResponse<Json>> =>
    hub.api<Json>(method, path, {
      user: null,
      ...(token === null ? {} : { headers: { authorization: `Bearer ${token}` } }),
      ...(body === undefined ? {} : { body }),
    });
  const names = async () => {
    const r = await call(root, "GET", `?iTwinId=${iTwinId}`);
    assert.equal(r.status, 200, r.text);
    return (r.body.iModels as { displayName: string }[]).map((m) => m.displayName).sort();
  };

  before(async () => {
    hub = await startTestHub({ auth: { mode: "tokens" }, admins: ["root"], rateLimitPerMinute: 0 });
    root = (await createToken({ dataDir: hub.dataDir, userId: "root" })).token;
  });
  after(() => hub?.close());

  it("a token made by `modelhub tokens create` works at once; the user is the token's; its last use is recorded", async () => {
    const made = await cli(
      "tokens",
      "create",
      "--user",
      "alice",
      "--description",
      "alice's laptop",
      "--expires",
      "30d",
      "--data",
      hub.dataDir,
      "--json",
    );
    assert.equal(made.code, 0, made.stderr);
    const created = JSON.parse(made.stdout) as { id: string; token: string; userId: string; expiresAt: string };
    assert.match(created.token, /^mh_[A-Za-z0-9_-]{43}$/);
    assert.equal(created.userId, "alice");
    assert.ok(Math.abs(Date.parse(created.expiresAt) - Date.now() - 30 * 86_400_000) < 60_000);
    const r = await call(created.token, "POST", "", { iTwinId, name: "alice's model" });
    assert.equal(r.status, 201, r.text);
    assert.match(r.body.iModel._links.creator.href, /\/users\/alice$/);
    const [listed] = await listTokens({ dataDir: hub.dataDir, userId: "alice" });
    assert.equal(listed?.id, created.id);
    assert.notEqual(listed?.lastUsedAt, null, "last use recorded");
    const text = await cli("tokens", "list", "--data", hub.dataDir);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`${created.id}\\s+alice\\s+active`));
    assert.ok(!text.stdout.includes(created.token), "the list never shows the secret");
  });

  it("a token revoked with `modelhub tokens revoke` while the hub serves is refused on the next request, and writes nothing", async () => {
    const { token, id } = await createToken({ dataDir: hub.dataDir, userId: "bob" });
    assert.equal((await call(token, "GET", `?iTwinId=${iTwinId}`)).status, 200);
    const revoked = await cli("tokens", "revoke", id, "--data", hub.dataDir);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /revoked/);
    const r = await call(token, "POST", "", { iTwinId, name: "bob's model after revocation" });
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, INVALID);
    assert.deepEqual(await names(), ["alice's model"], "nothing was created");
    const again = await cli("tokens", "revoke", "00000000-0000-0000-0000-000000000000", "--data", hub.dataDir);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /no token with id/);
  });

  it("an expired token is refused with the seed's 401 body, and writes nothing", async () => {
    const expired = await createToken({
      dataDir: hub.dataDir,
      userId: "carol",
      expires: "1m",
      now: new Date(Date.now() - 120_000),
    });
    const r = await call(expired.token, "POST", "", { iTwinId, name: "carol's model" });
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, INVALID);
    assert.deepEqual(await names(), ["alice's model"]);
  });

  it("anything that is not a live hub token is refused: unknown, altered, a JWT, another scheme; no header is HeaderNotFound", async () => {
    const { token } = await createToken({ dataDir: hub.dataDir, userId: "dave" });
    const altered = `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;
    const jwt = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from('{"sub":"alice"}').toString("base64url")}.`;
    for (const bad of [`mh_${"A".repeat(43)}`, altered, jwt, "alice"]) {
      const r = await call(bad, "POST", "", { iTwinId, name: `forged ${bad.slice(0, 8)}` });
      assert.equal(r.status, 401, bad);
      assert.deepEqual(r.body, INVALID, bad);
    }
    const basic = await hub.api<Json>("GET", `?iTwinId=${iTwinId}`, {
      user: null,
      headers: { authorization: `Basic ${Buffer.from("dave:x").toString("base64")}` },
    });
    assert.deepEqual(basic.body, INVALID);
    const none = await call(null, "GET", `?iTwinId=${iTwinId}`);
    assert.equal(none.status, 401);
    assert.deepEqual(none.body, {
      error: { code: "HeaderNotFound", message: "Header Authorization was not found in the request. Access denied." },
    });
    assert.deepEqual(await names(), ["alice's model"]);
  });

  it("`modelhub tokens` refuses bad input with exit code 2 and changes nothing", async () => {
    const before = (await listTokens({ dataDir: hub.dataDir })).length;
    const badExpiry = await cli("tokens", "create", "--user", "erin", "--expires", "soon", "--data", hub.dataDir);
    assert.equal(badExpiry.code, 2);
    assert.match(badExpiry.stderr, /--expires/);
    const noData = await cli("tokens", "list", "--data", `${hub.dataDir}/nowhere`);
    assert.equal(noData.code, 2);
    assert.equal((await listTokens({ dataDir: hub.dataDir })).length, before);
  });
});

describe("auth modes and the listening address", () => {
  it("open mode may only listen on loopback; oidc and tokens may listen on any address", () => {
    assert.throws(() => makeConfig({ host: "0.0.0.0" }), ConfigError);
    assert.throws(() => makeConfig({ host: "0.0.0.0", auth: { mode: "open" } }), /open mode/);
    assert.equal(makeConfig({ host: "0.0.0.0", auth: { mode: "tokens" } }).host, "0.0.0.0");
    assert.equal(
      makeConfig({ host: "0.0.0.0", auth: { mode: "oidc", issuer: "https://login.example.com" } }).auth.mode,
      "oidc",
    );
    assert.throws(() => makeConfig({ auth: { mode: "oidc", issuer: "" } }), /--issuer/);
    assert.throws(() => makeConfig({ linkSecret: Buffer.alloc(16) }), /at least 32 bytes/);
  });
});
