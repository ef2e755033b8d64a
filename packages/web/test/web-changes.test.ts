// run-tests: heavy (a hub process, an iTwin.js agent pushing and a headless Chromium)
// What changed, in the browser: the timeline rows show each changeset's element summary (from the hub's change
// summaries of real iTwin.js pushes, live as a new one is stored), and the compare view shows the net effect between
// two points of history with its counts and element rows.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
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

  it("a row's link opens the compare view on that changeset alone", async () => {
    await row(3).getByRole("link", { name: "elements changed by changeset 3" }).click();
    await page.waitForURL(/#\/imodels\/[^/]+\/compare\/2\/3$/);
    const counts = page.getByTestId("compare-counts");
    await counts
      .locator("[data-op=updated]")
      .filter({ hasText: /^2 updated$/ })
      .waitFor();
    assert.equal(await counts.locator("[data-op=inserted]").textContent(), "0 inserted");
    assert.equal(await page.getByLabel("From (before)").inputValue(), "2");
    assert.equal(await page.getByLabel("To (after)").inputValue(), "3");
  });

  it("the compare view shows the net effect between two points: counts, by model and class, element rows, op filter", async () => {
    await page.goto(iModelUrl(demo.hub.url, demo.iModelId, "compare"));
    await page.getByLabel("From (before)").selectOption("1");
    await page.getByLabel("To (after)").selectOption("3");
    // From after the three pumps to after the renames: the two valves inserted, two pumps updated.
    const counts = page.getByTestId("compare-counts");
    await counts
      .locator("[data-op=inserted]")
      .filter({ hasText: /^2 inserted$/ })
      .waitFor();
    assert.equal(await counts.locator("[data-op=updated]").textContent(), "2 updated");
    assert.equal(await counts.locator("[data-op=deleted]").textContent(), "0 deleted");
    assert.equal(await counts.locator("[data-op=reinserted]").textContent(), "0 reinserted");
    const byClass = page.getByTestId("compare-by-class").locator("tbody tr");
    assert.equal(await byClass.count(), 1);
    assert.match((await byClass.first().textContent()) ?? "", /Generic:PhysicalObject2200/);
    const renamed = page.getByTestId("compare-elements").locator(`tr[data-element='${demo.firstElements[0]}']`);
    const text = (await renamed.textContent()) ?? "";
    assert.match(text, /pump renamed 0/);
    assert.match(text, /~ updated/);
    assert.match(text, /UserLabel/);
    assert.match(text, /alice \(3\)/);
    assert.equal(await page.getByTestId("compare-elements").locator("tbody tr").count(), 4);
    // The op filter narrows the list (the counts stay those of the whole range).
    await page.getByLabel("Operation").selectOption("inserted");
    await page.getByTestId("compare-matching").filter({ hasText: "Elements 1–2 of 2 inserted." }).waitFor();
    const rows = await page.getByTestId("compare-elements").locator("tbody tr").allTextContents();
    assert.deepEqual(
      rows.map((r) => /valve \d/.exec(r)?.[0]),
      ["valve 0", "valve 1"],
    );
    assert.equal(await counts.locator("[data-op=updated]").textContent(), "2 updated");
  });

  it("the compare view at 1440×900 and 390×844: no sideways scrolling, no clipped table, no serious axe violation", async () => {
    const problems = await pageProblems(page, "compare at 1440×900");
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      bypassCSP: true,
    });
    try {
      const small = await phone.newPage();
      small.setDefaultTimeout(30_000);
      await signInOpenMode(small, demo.hub.url, "alice");
      await small.goto(iModelUrl(demo.hub.url, demo.iModelId, "compare"));
      await small.getByLabel("From (before)").selectOption("1");
      await small.getByLabel("To (after)").selectOption("3");
      await small.getByTestId("compare-elements").waitFor();
      problems.push(...(await pageProblems(small, "compare at 390×844")));
    } finally {
      await phone.close();
    }
    assert.deepEqual(problems, []);
  });

  it("a changeset the hub could not summarize: a 'summary failed' badge with the reason, a compare warning", async () => {
    // The hub stores this state itself for an unreadable changeset (server/test/e2e/changes-backfill.test.ts); here
    // changeset 1's stored summary is turned into it in the running hub's database, to see what the page shows.
    const reason = "Changeset 1 ('…') could not be read: its file is not that changeset.";
    const db = new Database(join(demo.hub.dataDir, "metadata.db"));
    try {
      const updated = db
        .prepare(
          "UPDATE change_summaries SET failure = ?, inserted = 0, updated = 0, deleted = 0, counts = '[]' WHERE imodel_id = ? AND changeset_index = 1",
        )
        .run(reason, demo.iModelId).changes;
      assert.equal(updated, 1);
    } finally {
      db.close();
    }
    await page.goto(iModelUrl(demo.hub.url, demo.iModelId));
    const failed = row(1).locator("[data-state=failed]");
    await failed.filter({ hasText: "summary failed" }).waitFor();
    assert.equal(await failed.getAttribute("title"), `The hub could not summarize this changeset: ${reason}`);
    await page.goto(iModelUrl(demo.hub.url, demo.iModelId, "compare"));
    await page.getByLabel("From (before)").selectOption("0");
    await page.getByLabel("To (after)").selectOption("3");
    const warning = page.getByTestId("compare-partial");
    await warning.waitFor();
    assert.match((await warning.textContent()) ?? "", /could not summarize changeset 1 \(Changeset 1/);
    // The others' net effect is still shown: changeset 2's two valves (and changeset 3's renames, as updates).
    await page
      .getByTestId("compare-counts")
      .locator("[data-op=inserted]")
      .filter({ hasText: /^2 inserted$/ })
      .waitFor();
  });

  it("no console error", () => {
    assert.deepEqual(consoleErrors, []);
  });
});
