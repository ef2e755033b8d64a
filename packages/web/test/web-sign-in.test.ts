// Sign-in against a hub in `--auth tokens` mode, in a real Chromium: the page asks for a token (not a name), a
// token the hub refuses is refused at sign-in (GET /me) and nothing is kept, a hub-issued token works and the header
// says who it belongs to, the session is kept in this tab's sessionStorage only — and a reader's page offers no
// button that could only fail with 403 (disabled with the reason, or absent).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ModelHubClient } from "@modelhub/client";
import type { Browser } from "playwright-core";
import { createToken } from "../../server/src/admin/tokens.js";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { assertPrerequisites, collectConsoleErrors, launchChromium, pageProblems } from "./support/demo-hub.js";

describe("web UI sign-in with hub tokens (--auth tokens)", { timeout: 180_000 }, () => {
  let hub: HubProcess;
  let browser: Browser;
  const stepsRun: string[] = [];

  before(async () => {
    assertPrerequisites();
    hub = await startHubProcess({ args: ["--auth", "tokens", "--admin", "root"] });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it("GET /me says who a token belongs to, and refuses a token the hub does not know", async () => {
    const { token } = await createToken({ dataDir: hub.dataDir, userId: "root", description: "GET /me test" });
    const me = await fetch(`${hub.url}/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(me.status, 200);
    const body = (await me.json()) as {
      user: { id: string; displayName: string };
      authMode: string;
      administrator: boolean;
      expiresAt: string | null;
    };
    assert.deepEqual(
      [body.user.id, body.user.displayName, body.authMode, body.administrator],
      ["root", "root", "tokens", true],
    );
    assert.ok(body.expiresAt && Date.parse(body.expiresAt) > Date.now(), "a hub token's expiry is told");
    const refused = await fetch(`${hub.url}/me`, { headers: { authorization: "Bearer mh_not-a-real-token" } });
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "InvalidAccessToken");

    // The administration routes refuse bad input in the API's error body and change nothing.
    const admin = (method: string, path: string, body?: unknown) =>
      fetch(`${hub.url}/admin${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    const before = ((await (await admin("GET", "/tokens")).json()) as { tokens: unknown[] }).tokens.length;
    const badLifetime = await admin("POST", "/tokens", { userId: "carol", expires: "soon" });
    assert.equal(badLifetime.status, 422);
    assert.match(JSON.stringify(await badLifetime.json()), /'soon' is not a lifetime/);
    assert.equal((await admin("POST", "/tokens", { expires: "1d" })).status, 422, "a token names its user");
    const unknown = await admin("DELETE", "/tokens/no-such-token");
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, "NotFound");
    assert.equal(((await (await admin("GET", "/tokens")).json()) as { tokens: unknown[] }).tokens.length, before);
    stepsRun.push("me");
  });

  it("refuses a bad token at sign-in, and signs in with a valid one showing who it is", async () => {
    assert.deepEqual(await (await fetch(`${hub.url}/ui/config`)).json(), { authMode: "tokens" });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const errors = collectConsoleErrors(context);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);

    await page.goto(`${hub.url}/`);
    const tokenField = page.getByLabel("Token");
    await tokenField.waitFor();
    assert.equal(await page.title(), "Sign in · modelhub");
    assert.equal(await tokenField.getAttribute("type"), "password");
    assert.equal(await page.getByLabel("User name").count(), 0);

    await tokenField.fill("mh_not-a-real-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText(/^The hub refused this token: InvalidAccessToken: .+\(401\)$/).waitFor();
    // Still on the sign-in page, nothing kept, nobody in the header.
    assert.equal(await page.evaluate(() => sessionStorage.getItem("modelhub.session")), null);
    assert.equal(await page.getByTestId("signed-in-as").count(), 0);

    const { token } = await createToken({ dataDir: hub.dataDir, userId: "root", description: "web UI test" });
    await page.getByLabel("Token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page
      .getByText("You are a member of no iTwin yet: create one above, or ask an iTwin's Owner to add you.")
      .waitFor();
    const who = page.getByTestId("signed-in-as");
    assert.equal(await who.getAttribute("data-user-id"), "root");
    assert.equal((await who.textContent())?.trim(), "root");
    await page.getByText("administrator", { exact: true }).waitFor();
    // Administrators may list every iTwin of the hub: the switch is theirs.
    await page.getByLabel("Every iTwin of the hub").waitFor();
    const stored = await page.evaluate(() => ({
      local: localStorage.length,
      cookies: document.cookie,
      session: sessionStorage.getItem("modelhub.session"),
    }));
    assert.deepEqual({ local: stored.local, cookies: stored.cookies }, { local: 0, cookies: "" });
    assert.match(stored.session ?? "", new RegExp(token));

    // The refused token's 401 (on GET /me) is Chromium's one console line; nothing else.
    assert.deepEqual(
      errors.filter((e) => !/status of 401 \(Unauthorized\) \(http:\/\/127\.0\.0\.1:\d+\/me\)$/.test(e)),
      [],
    );
    assert.equal(errors.length, 1, errors.join("\n"));
    await context.close();
    stepsRun.push("sign-in");
  });

  it("a reader sees no button that could only fail with 403: disabled with the reason, or absent", async () => {
    const { token: rootToken } = await createToken({ dataDir: hub.dataDir, userId: "root", description: "set-up" });
    const { token: readerToken } = await createToken({ dataDir: hub.dataDir, userId: "rita", description: "reader" });
    const root = new ModelHubClient({ url: hub.url, accessToken: rootToken });
    const iTwin = await root.createITwin({ displayName: "Reading room" });
    const iModel = await root.createIModel({ iTwinId: iTwin.id, name: "Read only model" });
    await root.waitForInitialization(iModel.id, 120_000);
    await root.createNamedVersion(iModel.id, { name: "Baseline", changeset: 0 });
    const ac = (method: string, path: string, body: unknown) =>
      root.request<{ role?: { id: string } }>(
        method,
        `${hub.url}/accesscontrol/itwins/${iTwin.id}${path}`,
        body,
        [200, 201],
      );
    const role = await ac("POST", "/roles", { displayName: "Viewer", permissions: ["imodels_webview"] });
    await ac("POST", "/members/users", { members: [{ userId: "rita", roleIds: [role.role!.id] }] });

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
    const errors = collectConsoleErrors(context);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${hub.url}/`);
    await page.getByLabel("Token").fill(readerToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("signed-in-as").filter({ hasText: "rita" }).waitFor();
    await page.locator(`li[data-itwin='${iTwin.id}']`).getByRole("link", { name: "Read only model" }).waitFor();
    assert.equal(
      await page.getByLabel("Every iTwin of the hub").count(),
      0,
      "not an administrator: no switch that answers 403",
    );
    assert.equal(await page.getByText("administrator", { exact: true }).count(), 0);

    await page.goto(`${hub.url}/#/imodels/${iModel.id}/versions`);
    await page.getByTestId("my-permissions").filter({ hasText: "Your permissions here: webview" }).waitFor();
    const name = page.getByRole("button", { name: "Name a version…" });
    await name.waitFor();
    assert.equal(await name.isDisabled(), true);
    await page.getByText("Needs the imodels_write permission on this iModel (yours: imodels_webview).").waitFor();
    const row = page.getByTestId("versions").locator("tr[data-version='Baseline']");
    await row.waitFor();
    const download = row.getByRole("button", { name: "Download .bim of Baseline" });
    assert.equal(await download.isDisabled(), true);
    assert.match((await download.getAttribute("title")) ?? "", /Needs the imodels_read permission/);
    assert.equal(await row.getByRole("button", { name: "Edit Baseline" }).count(), 0);
    // Disabled controls and their reasons pass axe-core too.
    assert.deepEqual(await pageProblems(page, "a reader's named versions"), []);
    assert.deepEqual(errors, []);
    await context.close();
    stepsRun.push("reader");
  });

  it("an administrator makes a token in the page, sees its last use, revokes it; filters the audit log; sees storage and jobs", async () => {
    const { token: rootToken } = await createToken({
      dataDir: hub.dataDir,
      userId: "root",
      description: "admin pages",
    });
    // bypassCSP: axe-core is injected below as an inline script.
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
    const errors = collectConsoleErrors(context);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${hub.url}/`);
    await page.getByLabel("Token").fill(rootToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    const root = new ModelHubClient({ url: hub.url, accessToken: rootToken });
    const iTwinId = (await root.findITwin("Reading room")).id;
    await page.getByRole("link", { name: "Administration" }).click();
    await page.getByRole("heading", { name: "Administration" }).waitFor();
    await page.waitForFunction(() => document.title === "Members and roles · Administration · modelhub");
    // Members and roles of an iTwin (the only one: "Reading room"): rita the Viewer is listed.
    await page.getByTestId("members").locator("tr[data-member='rita']").filter({ hasText: "Viewer" }).waitFor();
    const addForm = page.getByRole("form", { name: "Add a member" });
    await addForm.getByLabel("User id").fill("sam");
    await addForm.getByLabel("Role").selectOption({ label: "Viewer" });
    await addForm.getByRole("button", { name: "Add member" }).click();
    await page.getByTestId("members-outcome").filter({ hasText: "Added sam as Viewer." }).waitFor();
    const sam = page.getByTestId("members").locator("tr[data-member='sam']");
    await sam.filter({ hasText: "Viewer" }).waitFor();
    // Roles changed in place (PATCH with the new list): sam gets a second role, then loses the first.
    const samRoles = async () =>
      (await root.getMember(iTwinId, "sam")).roles.map((r) => r.displayName).sort((a, b) => a.localeCompare(b));
    await sam.getByLabel("Give sam a role").selectOption({ label: "Owner" });
    await page.getByTestId("members-outcome").filter({ hasText: "sam now has the role Owner." }).waitFor();
    await sam.locator(".mh-role[data-role='Owner']").waitFor();
    assert.deepEqual(await samRoles(), ["Owner", "Viewer"]);
    await sam.getByRole("button", { name: "Take the role Viewer from sam" }).click();
    await page.getByTestId("members-outcome").filter({ hasText: "sam no longer has the role Viewer." }).waitFor();
    await sam.locator(".mh-role[data-role='Viewer']").waitFor({ state: "detached" });
    assert.deepEqual(await samRoles(), ["Owner"]);
    await sam.getByRole("button", { name: "Remove sam" }).click();
    await page.getByTestId("members-outcome").filter({ hasText: "Removed sam from the iTwin." }).waitFor();
    await sam.waitFor({ state: "detached" });
    // A role made in the page, with the permissions ticked, as the API then shows it; and deleted again.
    const roleForm = page.getByRole("form", { name: "Create a role" });
    await roleForm.getByLabel("New role").fill("Checkers");
    await roleForm.getByLabel("imodels_write").check();
    await roleForm.getByRole("button", { name: "Create role" }).click();
    await page.getByTestId("members-outcome").filter({ hasText: "Created the role Checkers." }).waitFor();
    await page.getByTestId("roles").locator("tr[data-role='Checkers']").waitFor();
    const rolesNow = async () =>
      (
        await root.request<{ roles: { displayName: string; permissions: string[] }[] }>(
          "GET",
          `${hub.url}/accesscontrol/itwins/${iTwinId}/roles`,
        )
      ).roles.map((r) => [r.displayName, r.permissions.join(" ")]);
    assert.deepEqual(
      (await rolesNow()).find(([name]) => name === "Checkers"),
      ["Checkers", "imodels_webview imodels_read imodels_write"],
    );
    await page
      .getByTestId("roles")
      .locator("tr[data-role='Checkers']")
      .getByRole("button", { name: "Delete Checkers" })
      .click();
    await page.getByTestId("members-outcome").filter({ hasText: "Deleted the role Checkers." }).waitFor();
    assert.equal(
      (await rolesNow()).some(([name]) => name === "Checkers"),
      false,
    );
    assert.equal(
      await page.getByTestId("roles").locator("tr[data-role='Owner']").getByRole("button").count(),
      0,
      "the built-in Owner role offers no delete",
    );

    await page.getByRole("tab", { name: "Tokens" }).click();
    const form = page.getByRole("form", { name: "Create a token" });
    await form.getByLabel("For user").fill("carol");
    await form.getByLabel("Description").fill("carol's laptop");
    await form.getByRole("button", { name: "Create token" }).click();
    const secret = (await page.getByTestId("new-token-secret").textContent())?.trim() ?? "";
    assert.match(secret, /^mh_[A-Za-z0-9_-]{43}$/);
    const row = page.getByTestId("tokens").locator("tr[data-user='carol']");
    await row.getByTestId("last-used").filter({ hasText: "never" }).waitFor();
    const carolMe = await fetch(`${hub.url}/me`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(carolMe.status, 200, "the token made in the page works");
    await page.reload();
    await row.getByTestId("last-used").filter({ hasNotText: "never" }).waitFor();
    // The tokens page with tokens in it, at desktop and phone width: nothing clipped, no serious axe violation.
    const problems = await pageProblems(page, "tokens at 1280px");
    await page.setViewportSize({ width: 390, height: 844 });
    await row.waitFor();
    problems.push(...(await pageProblems(page, "tokens at 390px")));
    await page.setViewportSize({ width: 1280, height: 800 });
    assert.deepEqual(problems, []);
    await row.getByRole("button", { name: "Revoke the token of carol (carol's laptop)" }).click();
    await row.getByText("revoked").waitFor();
    assert.equal(
      (await fetch(`${hub.url}/me`, { headers: { authorization: `Bearer ${secret}` } })).status,
      401,
      "a revoked token is refused at once",
    );

    await page.getByRole("tab", { name: "Audit log" }).click();
    await page.getByTestId("audit").locator("tr[data-action]").first().waitFor();
    await page.getByLabel("Action").fill("token.revoke");
    await page.getByRole("button", { name: "Filter" }).click();
    // Only revocations: carol's (a success) and the unknown token's of the first step (refused, 404).
    await page.getByTestId("audit").locator("tr[data-action='token.revoke']").filter({ hasText: "refused" }).waitFor();
    await page.waitForFunction(() =>
      [...document.querySelectorAll("[data-testid='audit'] tr[data-action]")].every(
        (tr) => tr.getAttribute("data-action") === "token.revoke",
      ),
    );
    const outcomes = await page
      .getByTestId("audit")
      .locator("tr[data-action] td[data-label='Outcome']")
      .allTextContents();
    assert.deepEqual(outcomes.map((o) => o.trim()).sort(), ["refused 404", "success 200"]);

    await page.getByRole("tab", { name: "Storage" }).click();
    const storageRow = page.getByTestId("storage").locator("tr").filter({ hasText: "Read only model" });
    await storageRow.waitFor();
    assert.ok(Number(await storageRow.getByTestId("imodel-total").getAttribute("data-bytes")) > 0);
    await page
      .getByTestId("storage-total")
      .filter({ hasText: /The hub's files take [\d.]+ (KB|MB) in \d+ files/ })
      .waitFor();

    await page.getByRole("tab", { name: "Jobs and health" }).click();
    await page.getByTestId("readiness").filter({ hasText: "Ready: every store answers." }).waitFor();
    await page.getByTestId("jobs").locator("tr[data-kind='baseline.initialize']").first().waitFor();
    assert.match((await page.getByTestId("hub-version").textContent()) ?? "", /^\d+\.\d+\.\d+/);

    // A non-administrator is refused by the hub itself, not only by the page.
    const { token: ritaToken } = await createToken({ dataDir: hub.dataDir, userId: "rita", description: "refused" });
    const refused = await fetch(`${hub.url}/admin/tokens`, { headers: { authorization: `Bearer ${ritaToken}` } });
    assert.equal(refused.status, 403);
    assert.deepEqual(errors, []);
    await context.close();
    stepsRun.push("admin");
  });

  it("ran every step", () => {
    assert.deepEqual(stepsRun, ["me", "sign-in", "reader", "admin"]);
  });
});
