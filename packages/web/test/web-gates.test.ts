// run-tests: heavy (a hub process and a headless Chromium)
// An iTwin's gates on its page (issue 21): a manager registers one (the generated secret shown once), sees it listed
// with its name, URL and failure mode, and deletes it; a URL the hub's outbound rules refuse is shown with the hub's
// reason; the page with a gate listed passes the layout and axe checks at 1440×900 and 390×844. With hub tokens, a
// member who may not manage the iTwin sees no gates section at all (the hub would refuse them).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ModelHubClient } from "@modelhub/client";
import { createToken } from "../../server/src/admin/tokens.js";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import {
  assertPrerequisites,
  collectConsoleErrors,
  launchChromium,
  pageProblems,
  signInOpenMode,
} from "./support/demo-hub.js";

describe("web UI: an iTwin's gates", { timeout: 240_000 }, () => {
  let hub: HubProcess;
  let api: ModelHubClient;
  let iTwinId: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let consoleErrors: string[];
  const stepsRun: string[] = [];

  before(async () => {
    assertPrerequisites();
    hub = await startHubProcess();
    api = new ModelHubClient({ url: hub.url, accessToken: "alice" });
    iTwinId = (await api.createITwin({ displayName: "Gated site" })).id;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    consoleErrors = collectConsoleErrors(context);
    page = await context.newPage();
    page.setDefaultTimeout(30_000);
  });

  after(async () => {
    await browser?.close();
    await hub?.stop();
  });

  const iTwinPage = () => `${hub.url}/#/itwins/${iTwinId}`;

  it("a manager registers a gate (its secret shown once), sees it listed, and deletes it", async () => {
    await signInOpenMode(page, hub.url, "alice");
    await page.goto(iTwinPage());
    await page.getByTestId("no-gates").waitFor();
    const form = page.getByRole("form", { name: "Register a gate" });
    await form.getByLabel("Gate URL").fill("http://127.0.0.1:9/fire-check");
    await form.getByLabel("Gate name (optional)").fill("fire-safety");
    await form.getByLabel("When it gives no answer").selectOption("open");
    await form.getByRole("button", { name: "Register gate" }).click();

    const row = page.locator("[data-testid=gates] tr[data-gate='fire-safety']");
    await row.waitFor();
    assert.equal(await row.locator("td[data-label='URL']").textContent(), "http://127.0.0.1:9/fire-check");
    assert.equal(await row.locator("td[data-label='Failure mode']").textContent(), "open (no answer accepts)");
    const secret = /[0-9a-f]{64}/.exec((await page.getByTestId("gate-secret").textContent()) ?? "")?.[0];
    assert.ok(secret, "the generated secret is shown");
    const [stored] = await api.gates(iTwinId);
    assert.deepEqual([stored?.name, stored?.failure, stored?.signed], ["fire-safety", "open", true]);
    // Shown once: after a reload the page has no way to show it again.
    await page.reload();
    await row.waitFor();
    assert.equal(await page.getByTestId("gate-secret").count(), 0);
    assert.ok(!(await page.content()).includes(secret));
    stepsRun.push("registered");

    await row.getByRole("button", { name: "Delete fire-safety" }).click();
    await page.getByTestId("gates-outcome").filter({ hasText: "Deleted the gate fire-safety." }).waitFor();
    await page.getByTestId("no-gates").waitFor();
    assert.deepEqual(await api.gates(iTwinId), []);
    stepsRun.push("deleted");
  });

  it("a URL the hub refuses is shown with the hub's reason, and nothing is registered", async () => {
    const form = page.getByRole("form", { name: "Register a gate" });
    await form.getByLabel("Gate URL").fill("http://10.20.30.40/check");
    await form.getByRole("button", { name: "Register gate" }).click();
    await page.getByTestId("gates-outcome").filter({ hasText: "The gate was not registered" }).waitFor();
    assert.match((await page.getByTestId("gates-outcome").textContent()) ?? "", /url/i);
    assert.equal(await form.getByLabel("Gate URL").inputValue(), "http://10.20.30.40/check", "kept for a fix");
    assert.deepEqual(await api.gates(iTwinId), []);
    stepsRun.push("refused");
  });

  it("the page with a gate passes the layout and accessibility checks at 1440×900 and 390×844", async () => {
    await api.createGate(iTwinId, {
      url: "http://127.0.0.1:9/a-rather-long-path/that-must-wrap-on-a-phone/integrity-check",
      name: "integrity",
    });
    const problems: string[] = [];
    for (const size of [
      { width: 1440, height: 900 },
      { width: 390, height: 844 },
    ]) {
      const sized = await browser.newContext({
        viewport: size,
        bypassCSP: true,
        ...(size.width < 600 ? { isMobile: true, hasTouch: true } : {}),
      });
      const errors = collectConsoleErrors(sized);
      try {
        const tab = await sized.newPage();
        tab.setDefaultTimeout(30_000);
        await signInOpenMode(tab, hub.url, "alice");
        await tab.goto(iTwinPage());
        await tab.locator("[data-testid=gates] tr[data-gate='integrity']").waitFor();
        await tab
          .locator("[role='progressbar']")
          .first()
          .waitFor({ state: "detached" })
          .catch(() => undefined);
        problems.push(...(await pageProblems(tab, `iTwin gates at ${size.width}px`)));
        assert.deepEqual(errors, []);
      } finally {
        await sized.close();
      }
    }
    assert.deepEqual(problems, []);
    stepsRun.push("layout and accessibility");
  });

  it("wrote no console errors but the refused registration's, and every step above ran", () => {
    const provoked = /^console: Failed to load resource: the server responded with a status of 422/;
    assert.equal(consoleErrors.filter((e) => provoked.test(e)).length, 1, consoleErrors.join("\n"));
    assert.deepEqual(
      consoleErrors.filter((e) => !provoked.test(e)),
      [],
    );
    assert.deepEqual(stepsRun, ["registered", "deleted", "refused", "layout and accessibility"]);
  });
});

describe("web UI: an iTwin's gates are for its managers (--auth tokens)", { timeout: 180_000 }, () => {
  let hub: HubProcess;
  let browser: Browser;
  let finished = false;

  before(async () => {
    assertPrerequisites();
    hub = await startHubProcess({ args: ["--auth", "tokens"] });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await hub?.stop();
    assert.ok(finished, "the last step ran");
  });

  it("the Owner sees the gates; a viewer of the iTwin sees its page without them", async () => {
    const { token: ownerToken } = await createToken({ dataDir: hub.dataDir, userId: "olga", description: "owner" });
    const { token: viewerToken } = await createToken({ dataDir: hub.dataDir, userId: "rita", description: "viewer" });
    const owner = new ModelHubClient({ url: hub.url, accessToken: ownerToken });
    const iTwin = await owner.createITwin({ displayName: "Guarded site" });
    await owner.createGate(iTwin.id, { url: "http://127.0.0.1:9/check", name: "integrity" });
    const role = await owner.createRole(iTwin.id, { displayName: "Viewer", permissions: ["imodels_webview"] });
    await owner.addMembers(iTwin.id, [{ userId: "rita", roleIds: [role.id] }]);

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const errors = collectConsoleErrors(context);
    try {
      for (const [user, token, seesGates] of [
        ["olga", ownerToken, true],
        ["rita", viewerToken, false],
      ] as const) {
        const page = await context.newPage();
        page.setDefaultTimeout(20_000);
        await page.goto(`${hub.url}/`);
        await page.getByLabel("Token").fill(token);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByTestId("signed-in-as").filter({ hasText: user }).waitFor();
        await page.goto(`${hub.url}/#/itwins/${iTwin.id}`);
        await page.getByRole("heading", { name: "Guarded site" }).waitFor();
        await page.getByText("This iTwin has no iModels you can see.").waitFor();
        if (seesGates) await page.locator("[data-testid=gates] tr[data-gate='integrity']").waitFor();
        else {
          // The caller's permissions on the iTwin decide (the page marks the decision).
          await page.getByTestId("gates-not-managed").waitFor({ state: "attached" });
          assert.equal(await page.getByRole("heading", { name: "Gates" }).count(), 0, `${user} sees no gates`);
          assert.equal(await page.getByRole("form", { name: "Register a gate" }).count(), 0);
        }
        await page.evaluate(() => sessionStorage.clear());
        await page.close();
      }
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
    finished = true;
  });
});
