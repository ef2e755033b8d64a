// --auth oidc against a real local OpenID Connect provider (oidc-provider: discovery, client credentials, JWT access
// tokens), and against a JWKS served over HTTP for key rotation. Every bad token gets the seed's 401 body and
// changes nothing. The flows need no roles: each user works in an iTwin of its own (or one it created).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as AuthoringTypes from "@itwin/imodels-client-authoring";
import { SignJWT, exportJWK, generateKeyPair, importJWK } from "jose";
import type { CryptoKey, JWK, JWTPayload } from "jose";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import type { ApiResponse, TestHub } from "../support/hub.js";
import { startTestHub } from "../support/hub.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";
import type { JwksServer, LocalIdentityProvider } from "@modelhub/test-support/identity-provider.js";
import { startIdentityProvider, startJwksServer } from "@modelhub/test-support/identity-provider.js";

const require = createRequire(import.meta.url);
const authoring = require("@itwin/imodels-client-authoring") as typeof AuthoringTypes;
const { createDefaultClientStorage } = require("@itwin/imodels-access-backend/lib/cjs/DefaultClientStorage.js") as {
  createDefaultClientStorage: () => AuthoringTypes.IModelsClientOptions["cloudStorage"];
};

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const INVALID = {
  error: {
    code: "InvalidAccessToken",
    message:
      "Access denied due to invalid access_token. Make sure that issuer is correct, the token is not expired and is not corrupted.",
  },
};
const NO_HEADER = {
  error: { code: "HeaderNotFound", message: "Header Authorization was not found in the request. Access denied." },
};
const now = () => Math.floor(Date.now() / 1000);
const iTwinOf = (n: number) => `0000000${n}-aaaa-4aaa-8aaa-${String(n).padStart(12, "0")}`;

function call(
  hub: TestHub,
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiResponse<Json>> {
  return hub.api<Json>(method, path, {
    user: null,
    ...(token === null ? {} : { headers: { authorization: `Bearer ${token}` } }),
    ...(body === undefined ? {} : { body }),
  });
}

/** Names of the iModels `token`'s user sees in `iTwinId`. */
async function namesIn(hub: TestHub, token: string, iTwinId: string): Promise<string[]> {
  const r = await call(hub, token, "GET", `?iTwinId=${iTwinId}`);
  assert.equal(r.status, 200, r.text);
  return (r.body.iModels as { displayName: string }[]).map((m) => m.displayName).sort();
}

describe("--auth oidc with a real identity provider", () => {
  let idp: LocalIdentityProvider;
  let hub: TestHub;
  let signKey: CryptoKey;
  let alice: string;
  const iTwinId = iTwinOf(1);

  /** A token signed with the provider's own key: valid unless the test breaks one claim. */
  const forged = async (
    claims: JWTPayload,
    header: { alg?: string; kid?: string } = {},
    key: CryptoKey | Uint8Array = signKey,
  ): Promise<string> =>
    new SignJWT({ sub: "alice", ...claims })
      .setProtectedHeader({ alg: header.alg ?? "RS256", kid: header.kid ?? idp.privateJwk.kid, typ: "at+jwt" })
      .setIssuer((claims.iss as string | undefined) ?? idp.issuer)
      .setAudience((claims.aud as string | undefined) ?? idp.audience)
      .setIssuedAt(claims.iat ?? now())
      .setExpirationTime(claims.exp ?? now() + 600)
      .sign(key);

  before(async () => {
    idp = await startIdentityProvider([
      {
        clientId: "alice",
        secret: "alice-secret-0123456789-abcdefghij",
        claims: { name: "Alice Liddell", given_name: "Alice", family_name: "Liddell", email: "alice@example.com" },
      },
      { clientId: "bob", secret: "bob-secret-0123456789-abcdefghijkl" },
    ]);
    signKey = (await importJWK(idp.privateJwk, "RS256")) as CryptoKey;
    hub = await startTestHub({
      auth: { mode: "oidc", issuer: idp.issuer, audience: idp.audience },
      rateLimitPerMinute: 0,
    });
    alice = await idp.token("alice");
  });
  after(async () => {
    await hub?.close();
    await idp?.close();
  });

  it("accepts the provider's token: the user is its sub, and its name and email feed the users endpoints", async () => {
    const created = await call(hub, alice, "POST", "", { iTwinId, name: "Alice's model" });
    assert.equal(created.status, 201, created.text);
    const iModelId = created.body.iModel.id as string;
    assert.match(created.body.iModel._links.creator.href, /\/users\/alice$/);
    const user = await eventuallyProfile(hub, alice, iModelId);
    assert.deepEqual(
      {
        id: user.id,
        displayName: user.displayName,
        givenName: user.givenName,
        surname: user.surname,
        email: user.email,
      },
      { id: "alice", displayName: "Alice Liddell", givenName: "Alice", surname: "Liddell", email: "alice@example.com" },
    );
    assert.deepEqual(await namesIn(hub, alice, iTwinId), ["Alice's model"]);
  });

  it("no Authorization header is HeaderNotFound", async () => {
    const r = await call(hub, null, "POST", "", { iTwinId, name: "no header" });
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, NO_HEADER);
  });

  it("refuses every bad token with the seed's 401 body and writes nothing", async () => {
    const publicJwk = { ...idp.privateJwk };
    for (const k of ["d", "p", "q", "dp", "dq", "qi"] as const) delete publicJwk[k];
    const otherKey = (await generateKeyPair("RS256")).privateKey;
    const cases: [string, () => Promise<string>][] = [
      ["expired (beyond the 30 s tolerance)", () => forged({ iat: now() - 3600, exp: now() - 120 })],
      ["not yet valid (nbf beyond the tolerance)", () => forged({ nbf: now() + 300 })],
      ["wrong issuer", () => forged({ iss: "https://evil.example.com" })],
      ["wrong audience", () => forged({ aud: "https://another-api.example.com" })],
      ["bad signature (another key, same kid)", () => forged({}, {}, otherKey)],
      [
        "tampered payload",
        async () => {
          const [h, , s] = alice.split(".");
          const payload = Buffer.from(
            JSON.stringify({ sub: "mallory", iss: idp.issuer, aud: idp.audience, exp: now() + 600 }),
          ).toString("base64url");
          return `${h}.${payload}.${s}`;
        },
      ],
      [
        "alg none",
        async () => {
          const h = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
          const p = Buffer.from(
            JSON.stringify({ sub: "alice", iss: idp.issuer, aud: idp.audience, exp: now() + 600 }),
          ).toString("base64url");
          return `${h}.${p}.`;
        },
      ],
      [
        "HS256 signed with the public key's bytes (key confusion)",
        () => forged({}, { alg: "HS256" }, new TextEncoder().encode(JSON.stringify(publicJwk))),
      ],
      [
        "no exp",
        async () =>
          new SignJWT({ sub: "alice" })
            .setProtectedHeader({ alg: "RS256", kid: idp.privateJwk.kid })
            .setIssuer(idp.issuer)
            .setAudience(idp.audience)
            .sign(signKey),
      ],
      ["unknown kid", () => forged({}, { kid: "no-such-key" }, otherKey)],
      ["not a JWT", async () => "opaque-token"],
    ];
    for (const [what, make] of cases) {
      const token = await make();
      const r = await call(hub, token, "POST", "", { iTwinId, name: `forged: ${what}` });
      assert.equal(r.status, 401, `${what}: ${r.text}`);
      assert.deepEqual(r.body, INVALID, what);
    }
    // A token that is off by less than the clock tolerance is accepted (the control for the expiry cases).
    const skewed = await call(hub, await forged({ iat: now() - 600, exp: now() - 10 }), "GET", `?iTwinId=${iTwinId}`);
    assert.equal(skewed.status, 200, skewed.text);
    assert.deepEqual(
      await namesIn(hub, alice, iTwinId),
      ["Alice's model"],
      "none of the refused requests created anything",
    );
  });

  it("refuses tokens issued in the future or meant to live too long (default: 30 s of skew, a day of lifetime)", async () => {
    const noIat = (exp: number) =>
      new SignJWT({ sub: "alice" })
        .setProtectedHeader({ alg: "RS256", kid: idp.privateJwk.kid })
        .setIssuer(idp.issuer)
        .setAudience(idp.audience)
        .setExpirationTime(exp)
        .sign(signKey);
    const refused: [string, () => Promise<string>][] = [
      ["issued an hour from now", () => forged({ iat: now() + 3600, exp: now() + 4200 })],
      ["issued a minute from now (beyond the skew)", () => forged({ iat: now() + 60, exp: now() + 600 })],
      ["valid for ten years", () => forged({ iat: now(), exp: now() + 10 * 365 * 86_400 })],
      ["valid for 25 hours", () => forged({ iat: now() - 60, exp: now() + 25 * 3600 - 60 })],
      ["no iat, expiring in a year", () => noIat(now() + 365 * 86_400)],
    ];
    for (const [what, make] of refused) {
      const r = await call(hub, await make(), "POST", "", { iTwinId, name: `forged: ${what}` });
      assert.equal(r.status, 401, `${what}: ${r.text}`);
      assert.deepEqual(r.body, INVALID, what);
    }
    // The controls: within the skew, within a day, and without iat expiring within a day.
    for (const make of [
      () => forged({ iat: now() + 20 }),
      () => forged({ iat: now(), exp: now() + 23 * 3600 }),
      () => noIat(now() + 3600),
    ]) {
      const r = await call(hub, await make(), "GET", `?iTwinId=${iTwinId}`);
      assert.equal(r.status, 200, r.text);
    }
    assert.deepEqual(
      await namesIn(hub, alice, iTwinId),
      ["Alice's model"],
      "none of the refused requests created anything",
    );
  });

  it("--clock-skew and --max-token-lifetime come from the environment and the config file of `modelhub serve`", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelhub-oidc-config-"));
    const config = join(dir, "modelhub.json");
    await writeFile(
      config,
      JSON.stringify({ auth: "oidc", issuer: idp.issuer, audience: idp.audience, maxTokenLifetime: 600 }),
    );
    const served = await startHubProcess({ args: ["--config", config], env: { MODELHUB_OIDC_CLOCK_SKEW: "5" } });
    try {
      const hubCall = async (token: string) =>
        (await fetch(`${served.url}/imodels?iTwinId=${iTwinId}`, { headers: { authorization: `Bearer ${token}` } }))
          .status;
      assert.equal(await hubCall(await forged({ iat: now(), exp: now() + 300 })), 200);
      assert.equal(
        await hubCall(await forged({ iat: now() + 20, exp: now() + 300 })),
        401,
        "20 s ahead is beyond a 5 s skew",
      );
      assert.equal(
        await hubCall(await forged({ iat: now(), exp: now() + 900 })),
        401,
        "15 minutes is longer than 600 s",
      );
      assert.equal(await hubCall(alice), 401, "the provider's own tokens live an hour");
    } finally {
      await served.stop();
      await rm(dir, { recursive: true, force: true });
    }
    // Out of bounds: refused at start with exit code 2, naming the option.
    const child = spawn(
      process.execPath,
      [...MODELHUB, "serve", "--port", "0", "--auth", "oidc", "--issuer", idp.issuer],
      {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, MODELHUB_OIDC_CLOCK_SKEW: "3600" },
      },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.equal(code, 2, stderr);
    assert.match(stderr, /--clock-skew must be 0 to 300 seconds/);
  });

  it("the official clients work with the provider's tokens: create from a baseline, push a changeset, list", async () => {
    const fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 1);
    const client = new authoring.IModelsClient({
      api: { baseUrl: hub.baseUrl },
      cloudStorage: createDefaultClientStorage(),
    });
    // A fresh token per call, as an authorization client hands out.
    const authorization = async () => ({ scheme: "Bearer", token: await idp.token("bob") });
    const bobsITwin = iTwinOf(2);
    const iModel = await client.iModels.createFromBaseline({
      authorization,
      iModelProperties: { iTwinId: bobsITwin, name: "Bob's model", filePath: fixture.version0Path },
    });
    assert.equal(iModel.state, "initialized");
    const briefcase = await client.briefcases.acquire({
      authorization,
      iModelId: iModel.id,
      briefcaseProperties: { deviceName: "bob's rig" },
    });
    const cs = fixture.changesets[0]!;
    const pushed = await client.changesets.create({
      authorization,
      iModelId: iModel.id,
      changesetProperties: {
        id: cs.id,
        briefcaseId: briefcase.briefcaseId,
        description: cs.description,
        containingChanges: 0,
        filePath: cs.pathname,
      },
    });
    assert.equal(pushed.index, 1);
    const names: string[] = [];
    for await (const m of client.iModels.getMinimalList({ authorization, urlParams: { iTwinId: bobsITwin } }))
      names.push(m.displayName);
    assert.deepEqual(names, ["Bob's model"]);
    const changesets: number[] = [];
    for await (const c of client.changesets.getMinimalList({ authorization, iModelId: iModel.id }))
      changesets.push(c.index);
    assert.deepEqual(changesets, [1]);
    assert.equal(briefcase.ownerId, "bob");
  });
});

async function eventuallyProfile(hub: TestHub, token: string, iModelId: string): Promise<Json> {
  // The profile is written in the background of the first request; it is there within a moment.
  for (let i = 0; ; i++) {
    const r = await call(hub, token, "GET", `/${iModelId}/users/alice`);
    assert.equal(r.status, 200, r.text);
    if (r.body.user.displayName !== "alice" || i > 50) return r.body.user;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("--auth oidc with a JWKS over HTTP: key rotation and per-user rate limits", () => {
  const issuer = "https://login.example.test/realm";
  let jwks: JwksServer;
  let hub: TestHub;
  let keyA: { privateKey: CryptoKey; jwk: JWK };
  let keyB: { privateKey: CryptoKey; jwk: JWK };

  const newKey = async (kid: string) => {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" } };
  };
  const token = (key: { privateKey: CryptoKey; jwk: JWK }, sub: string, extra: JWTPayload = {}) =>
    new SignJWT({ sub, ...extra })
      .setProtectedHeader({ alg: "ES256", kid: key.jwk.kid! })
      .setIssuer(issuer)
      .setAudience("modelhub")
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(key.privateKey);

  before(async () => {
    keyA = await newKey("key-a");
    keyB = await newKey("key-b");
    jwks = await startJwksServer([keyA.jwk]);
    hub = await startTestHub({
      auth: { mode: "oidc", issuer, audience: "modelhub", jwks: jwks.url, jwksCooldownMs: 1000 },
      rateLimitPerMinute: 4,
    });
  });
  after(async () => {
    await hub?.close();
    await jwks?.close();
  });

  it("a token of an unknown kid is refused until the provider publishes the key; then it works without a restart", async () => {
    const iTwinId = iTwinOf(3);
    const a = await call(hub, await token(keyA, "carol"), "POST", "", { iTwinId, name: "made with key A" });
    assert.equal(a.status, 201, a.text);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // past the refetch cooldown
    const early = await call(hub, await token(keyB, "carol"), "POST", "", { iTwinId, name: "made with key B" });
    assert.equal(early.status, 401);
    assert.deepEqual(early.body, INVALID);
    const fetchesBefore = jwks.fetches;
    jwks.setKeys([keyA.jwk, keyB.jwk]); // the provider rotates: key B is published
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const rotated = await call(hub, await token(keyB, "carol"), "POST", "", { iTwinId, name: "made with key B" });
    assert.equal(rotated.status, 201, rotated.text);
    assert.ok(jwks.fetches > fetchesBefore, "the key set was fetched again");
    assert.deepEqual(await namesIn(hub, await token(keyA, "carol"), iTwinId), ["made with key A", "made with key B"]);
  });

  it("two tokens of the same user share one rate-limit bucket; another user has their own", async () => {
    const first = await token(keyA, "dave", { jti: "one" });
    const second = await token(keyB, "dave", { jti: "two" });
    assert.notEqual(first, second);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await call(hub, i % 2 === 0 ? first : second, "GET", `?iTwinId=${iTwinOf(4)}`)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
    const limited = await call(hub, second, "GET", `?iTwinId=${iTwinOf(4)}`);
    assert.deepEqual(limited.body, {
      error: {
        code: "TooManyRequests",
        message: "More requests were received than the subscription rate-limit allows.",
      },
    });
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    const other = await call(hub, await token(keyA, "erin"), "GET", `?iTwinId=${iTwinOf(4)}`);
    assert.equal(other.status, 200, "erin is not limited by dave's requests");
  });
});
