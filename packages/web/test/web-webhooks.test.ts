// run-tests: heavy (a hub process, a local webhook receiver and a headless Chromium)
// Webhooks in the web UI (issue 21): an iTwin's manager creates a webhook to a local receiver on the iTwin's page (the
// generated secret shown once); an iModel created makes a delivery the receiver refuses (500), which the delivery log
// shows pending with its answer; once the receiver accepts, "Redeliver" sends it (the same message, signed) and the
// log shows it delivered; a delivered one redelivered arrives again. Deactivate, Activate and Delete reach the hub.
// An administrator's Account webhook on Administration → Webhooks. Both pages pass the layout and axe checks at
// 1440×900 and 390×844.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Webhook } from "@modelhub/client";
import { ModelHubClient, Webhooks } from "@modelhub/client";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import type { Receiver } from "../../server/test/support/webhook-receiver.js";
import { startReceiver } from "../../server/test/support/webhook-receiver.js";
import {
  assertPrerequisites,
  collectConsoleErrors,
  launchChromium,
  pageProblems,
  signInOpenMode,
} from "./support/demo-hub.js";

/** Clicks the log's "Refresh" until `row` shows (deliveries go out in the background); gives up after `tries`. */
async function refreshUntil(page: Page, row: Locator, what: string, tries = 60): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if ((await row.count()) > 0) return;
    await page.getByTestId("deliveries-section").getByRole("button", { name: "Refresh" }).click();
    await page.waitForTimeout(500);
  }
  throw new Error(`the delivery log never showed ${what}`);
}

async function until<T>(probe: () => T | undefined, what: string, tries = 120): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const found = probe();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`never: ${what}`);
}

describe("web UI: webhooks and their delivery log", { timeout: 300_000 }, () => {
  let hub: HubProcess;
  let api: ModelHubClient;
  let webhooks: Webhooks;
  let receiver: Receiver;
  let iTwinId: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let consoleErrors: string[];
  let secret: string;
  let refusing = true;
  const stepsRun: string[] = [];

  before(async () => {
    assertPrerequisites();
    receiver = await startReceiver();
    receiver.answer((r) => (r.path === "/ui" && refusing ? 500 : 200));
    hub = await startHubProcess();
    api = new ModelHubClient({ url: hub.url, accessToken: "alice" });
    webhooks = new Webhooks(api);
    iTwinId = (await api.createITwin({ displayName: "Hooked site" })).id;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    consoleErrors = collectConsoleErrors(context);
    page = await context.newPage();
    page.setDefaultTimeout(30_000);
  });

  after(async () => {
    await browser?.close();
    await hub?.stop();
    await receiver?.close();
  });

  const iTwinPage = () => `${hub.url}/#/itwins/${iTwinId}`;
  const listed = async (): Promise<Webhook[]> => {
    const all: Webhook[] = [];
    for await (const w of webhooks.list()) all.push(w);
    return all;
  };
  const row = () => page.locator(`[data-testid=webhooks] tr[data-callback='${receiver.url("/ui")}']`);
  const fromUi = () => receiver.received.filter((r) => r.path === "/ui");

  it("a manager creates a webhook on the iTwin's page; its generated secret is shown once", async () => {
    await signInOpenMode(page, hub.url, "alice");
    await page.goto(iTwinPage());
    await page.getByTestId("no-webhooks").waitFor();
    const form = page.getByRole("form", { name: "Create a webhook" });
    await form.getByLabel("Callback URL").fill(receiver.url("/ui"));
    // Only the event this test makes (the default ticks three).
    await form.getByLabel("iModels.changesetPushed.v1 (modelhub only)").uncheck();
    await form.getByLabel("iModels.namedVersionCreated.v1").uncheck();
    await form.getByRole("button", { name: "Create webhook" }).click();

    await row().waitFor();
    assert.equal(await row().locator("td[data-label='Events']").textContent(), "iModels.iModelCreated.v1");
    assert.match((await row().locator("td[data-label='State']").textContent()) ?? "", /^active/);
    secret = /[0-9a-f]{64}/.exec((await page.getByTestId("webhook-secret").textContent()) ?? "")?.[0] ?? "";
    assert.ok(secret, "the generated secret is shown");
    const [stored] = await listed();
    assert.deepEqual(
      [stored?.scope, stored?.scopeId, stored?.active, stored?.eventTypes],
      ["iTwin", iTwinId, true, ["iModels.iModelCreated.v1"]],
    );
    await page.reload();
    await row().waitFor();
    assert.equal(await page.getByTestId("webhook-secret").count(), 0, "shown once");
    assert.ok(!(await page.content()).includes(secret));
    stepsRun.push("created");
  });

  it("a refused delivery shows in the log with its answer; Redeliver sends it once the receiver accepts", async () => {
    const iModel = await api.createIModel({ iTwinId, name: "Plant" });
    const first = await until(() => fromUi()[0], "a first attempt at the receiver");
    assert.equal(first.body.content.imodelId, iModel.id);

    await row().getByRole("button", { name: "Deliveries" }).click();
    const log = page.getByTestId("deliveries-section");
    const refused = log.locator("[data-testid=deliveries] tr[data-status='pending']", {
      has: page.locator("td[data-label='Last answer']", { hasText: "HTTP 500" }),
    });
    await refreshUntil(page, refused, "the refused delivery (pending, HTTP 500)");
    assert.match((await refused.locator("td[data-label='Event']").textContent()) ?? "", /iModelCreated/);
    stepsRun.push("refused shown");

    refusing = false;
    const before = fromUi().length;
    await refused.getByRole("button", { name: "Redeliver" }).click();
    await page.getByTestId("deliveries-outcome").filter({ hasText: "Sending the iModels.iModelCreated.v1" }).waitFor();
    const delivered = log.locator("[data-testid=deliveries] tr[data-status='delivered']");
    await refreshUntil(page, delivered, "the delivery delivered");
    assert.match((await delivered.locator("td[data-label='Last answer']").textContent()) ?? "", /HTTP 200/);
    const accepted = await until(() => fromUi()[before], "the redelivery at the receiver");
    assert.equal(accepted.body.messageId, first.body.messageId, "the same event");
    assert.equal(receiver.signed(accepted, secret), true, "signed with the secret shown once");
    stepsRun.push("redelivered");

    // A delivered one is never retried: only Redeliver sends it again.
    const count = fromUi().length;
    await delivered.getByRole("button", { name: "Redeliver" }).click();
    const again = await until(() => fromUi()[count], "the delivered event sent again");
    assert.equal(again.body.messageId, first.body.messageId);
    stepsRun.push("delivered redelivered");
  });

  it("Deactivate, Activate and Delete reach the hub", async () => {
    const outcome = page.getByTestId("webhooks-outcome");
    await row().getByRole("button", { name: "Deactivate" }).click();
    await outcome.filter({ hasText: "Deactivated the webhook" }).waitFor();
    await row().locator("td[data-label='State']", { hasText: "inactive" }).waitFor();
    assert.equal((await listed())[0]?.active, false);
    await row().getByRole("button", { name: "Activate" }).click();
    await outcome.filter({ hasText: "Activated the webhook" }).waitFor();
    assert.equal((await listed())[0]?.active, true);
    await row().getByRole("button", { name: "Delete" }).click();
    await page.getByTestId("no-webhooks").waitFor();
    assert.deepEqual(await listed(), []);
    stepsRun.push("deactivated, activated, deleted");
  });

  it("an administrator's Account webhook on Administration → Webhooks", async () => {
    await page.goto(`${hub.url}/#/admin/webhooks`);
    await page.getByTestId("no-webhooks").waitFor();
    const form = page.getByRole("form", { name: "Create a webhook" });
    await form.getByLabel("Callback URL").fill(receiver.url("/account"));
    await form.getByRole("button", { name: "Create webhook" }).click();
    await page.locator(`[data-testid=webhooks] tr[data-callback='${receiver.url("/account")}']`).waitFor();
    const [stored] = await listed();
    assert.deepEqual([stored?.scope, stored?.scopeId], ["Account", undefined]);
    // The iTwin's page lists its own webhooks only.
    await page.goto(iTwinPage());
    await page.getByTestId("no-webhooks").waitFor();
    stepsRun.push("account");
  });

  it("both pages pass the layout and accessibility checks at 1440×900 and 390×844", async () => {
    await webhooks.create({
      callbackUrl: receiver.url("/a-rather-long-path/that-must-wrap-on-a-phone/ci-hook"),
      scope: "iTwin",
      scopeId: iTwinId,
      eventTypes: ["iModels.iModelCreated.v1", "iModels.namedVersionCreated.v1", "iModels.changesReady.v1"],
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
        for (const [where, hash] of [
          ["iTwin webhooks", `#/itwins/${iTwinId}`],
          ["account webhooks", "#/admin/webhooks"],
        ] as const) {
          await tab.goto(`${hub.url}/${hash}`);
          const first = tab.locator("[data-testid=webhooks] tr[data-webhook]").first();
          await first.waitFor();
          await first.getByRole("button", { name: "Deliveries" }).click();
          await tab.getByTestId("deliveries-section").waitFor();
          await tab
            .locator("[role='progressbar']")
            .first()
            .waitFor({ state: "detached" })
            .catch(() => undefined);
          problems.push(...(await pageProblems(tab, `${where} at ${size.width}px`)));
        }
        assert.deepEqual(errors, []);
      } finally {
        await sized.close();
      }
    }
    assert.deepEqual(problems, []);
    stepsRun.push("layout and accessibility");
  });

  it("wrote no console errors, and every step above ran", () => {
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(stepsRun, [
      "created",
      "refused shown",
      "redelivered",
      "delivered redelivered",
      "deactivated, activated, deleted",
      "account",
      "layout and accessibility",
    ]);
  });
});
