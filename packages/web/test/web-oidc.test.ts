// Signing in to the web UI at a real OpenID Connect provider (oidc-provider 9, its development login and consent
// pages) with the authorization code flow and PKCE, in a real Chromium, against a hub in `--auth oidc` mode with
// `--ui-client-id`: the page sends the browser to the provider, the provider sends it back with a code, the page
// redeems it for a JWT access token for the hub's audience, and the hub says who that is. A tampered `state` is
// refused, and the code in the address bar does not outlive the sign-in.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { exportJWK, generateKeyPair } from "jose";
import type { Browser } from "playwright-core";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { assertPrerequisites, collectConsoleErrors, launchChromium, pageProblems } from "./support/demo-hub.js";

const AUDIENCE = "https://modelhub.test/imodels";
const CLIENT_ID = "modelhub-web";
const RESOURCE_SCOPE = "modelhub";
const PEOPLE: Record<string, { name: string; email: string }> = {
  dana: { name: "Dana Scully", email: "dana@example.com" },
};

type ProviderClass = new (
  issuer: string,
  configuration: Record<string, unknown>,
) => { callback(): (req: IncomingMessage, res: ServerResponse) => void };

describe("web UI sign-in at an OpenID Connect provider (authorization code + PKCE)", { timeout: 180_000 }, () => {
  let server: Server;
  let issuer: string;
  let hub: HubProcess;
  let browser: Browser;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const stepsRun: string[] = [];

  before(async () => {
    assertPrerequisites();
    // The provider's address first (the hub needs its issuer), its clients once the hub's address (their redirect URI) is known.
    server = createServer((req, res) => (handler ? handler(req, res) : res.writeHead(503).end()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    hub = await startHubProcess({
      args: [
        "--auth",
        "oidc",
        "--issuer",
        issuer,
        "--audience",
        AUDIENCE,
        "--ui-client-id",
        CLIENT_ID,
        "--ui-scope",
        `openid profile email ${RESOURCE_SCOPE}`,
      ],
    });
    const moduleName = "oidc-provider"; // untyped package: imported by name so TypeScript does not look for its types
    const { default: Provider } = (await import(moduleName)) as { default: ProviderClass };
    const { privateKey } = await generateKeyPair("RS256", { extractable: true });
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: CLIENT_ID,
          token_endpoint_auth_method: "none",
          redirect_uris: [`${hub.url}/`],
          grant_types: ["authorization_code"],
          response_types: ["code"],
        },
      ],
      jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: "ui-key-1", alg: "RS256", use: "sig" }] },
      cookies: { keys: ["a test secret of this provider only"] },
      findAccount: async (_ctx: unknown, id: string) => ({
        accountId: id,
        claims: async () => ({ sub: id, ...(PEOPLE[id] ?? {}) }),
      }),
      features: {
        devInteractions: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => AUDIENCE,
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({
            scope: RESOURCE_SCOPE,
            audience: AUDIENCE,
            accessTokenFormat: "jwt",
            accessTokenTTL: 3600,
            jwt: { sign: { alg: "RS256" } },
          }),
        },
      },
      extraTokenClaims: async (_ctx: unknown, token: { accountId?: string }) => ({
        ...(PEOPLE[token.accountId ?? ""] ?? {}),
      }),
    });
    handler = provider.callback();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await hub?.stop();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it("the hub tells the page where to sign in, and lets the page reach that provider only", async () => {
    assert.deepEqual(await (await fetch(`${hub.url}/ui/config`)).json(), {
      authMode: "oidc",
      oidc: { issuer, clientId: CLIENT_ID, scope: `openid profile email ${RESOURCE_SCOPE}`, resource: AUDIENCE },
    });
    const page = await fetch(`${hub.url}/`);
    assert.match(
      page.headers.get("content-security-policy") ?? "",
      new RegExp(`connect-src 'self' ${issuer.replace(/[.]/g, "\\.")};`),
    );
    // The sign-in page with its provider button passes axe-core (a context of its own: axe needs the policy bypassed).
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, bypassCSP: true });
    const signIn = await context.newPage();
    await signIn.goto(`${hub.url}/`);
    await signIn.getByRole("button", { name: `Continue with ${new URL(issuer).host}` }).waitFor();
    assert.deepEqual(await pageProblems(signIn, "oidc sign-in at 390px"), []);
    await context.close();
    stepsRun.push("config");
  });

  it("signs in at the provider and comes back signed in as that person; the code does not stay in the address bar", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const errors = collectConsoleErrors(context);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${hub.url}/`);
    await page.getByRole("button", { name: `Continue with ${new URL(issuer).host}` }).click();

    // The provider's own pages (oidc-provider's development login and consent).
    await page.waitForURL(new RegExp(`^${issuer}/interaction/`));
    await page.locator("input[name='login']").fill("dana");
    await page.locator("input[name='password']").fill("anything");
    await page.locator("button[type='submit']").click();
    await page
      .locator("button[type='submit']")
      .filter({ hasText: /continue/i })
      .click();

    await page.getByTestId("signed-in-as").filter({ hasText: "Dana Scully" }).waitFor();
    assert.equal(await page.getByTestId("signed-in-as").getAttribute("data-user-id"), "dana");
    assert.equal(new URL(page.url()).search, "", "the code and state are gone from the address bar");
    const session = JSON.parse((await page.evaluate(() => sessionStorage.getItem("modelhub.session"))) ?? "{}") as {
      mode?: string;
      credential?: string;
    };
    assert.equal(session.mode, "oidc");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("modelhub.oidc.pending")), null);
    // The token is the provider's JWT for the hub's audience: the hub accepts it from anyone who holds it.
    const [, payload] = (session.credential ?? "").split(".");
    const claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString()) as {
      aud?: string | string[];
      sub?: string;
      iss?: string;
    };
    assert.deepEqual([claims.iss, claims.sub, [claims.aud].flat().includes(AUDIENCE)], [issuer, "dana", true]);
    const me = (await (
      await fetch(`${hub.url}/me`, { headers: { authorization: `Bearer ${session.credential}` } })
    ).json()) as { user: { id: string; email: string } };
    assert.deepEqual([me.user.id, me.user.email], ["dana", "dana@example.com"]);
    // The home page works with it.
    await page
      .getByText("You are a member of no iTwin yet: create one above, or ask an iTwin's Owner to add you.")
      .waitFor();
    // The provider's development pages load Google's fonts and ask for a favicon it lacks: their lines, not the UI's.
    assert.deepEqual(
      errors.filter((e) => !e.includes("fonts.googleapis.com") && !e.includes(`(${issuer}/`)),
      [],
    );
    await context.close();
    stepsRun.push("signed in");
  });

  it("refuses an answer that does not belong to a sign-in this tab started (state mismatch)", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${hub.url}/?code=stolen-code&state=forged-state`);
    await page
      .getByRole("alert")
      .filter({ hasText: "This sign-in answer does not belong to a sign-in started in this tab: sign in again." })
      .waitFor();
    assert.equal(new URL(page.url()).search, "");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("modelhub.session")), null);
    await context.close();
    stepsRun.push("forged state refused");
  });

  it("ran every step", () => {
    assert.deepEqual(stepsRun, ["config", "signed in", "forged state refused"]);
  });
});
