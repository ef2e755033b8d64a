// The web UI in a real Chromium against a real hub process that a real iTwin.js backend pushed to: the home lists
// iTwins by name with their iModels and creates one, the timeline shows the pushes, a new push appears live, a named version made in the page is visible to the API, a briefcase's
// locks are released from the page, API errors are shown readably, a phone-sized window renders, and nothing is
// written to the console as an error.
import assert from "node:assert/strict";
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { DemoHub } from "./support/demo-hub.js";
import {
  ITWIN_ID,
  ITWIN_NAME,
  assertPrerequisites,
  collectConsoleErrors,
  iModelUrl,
  launchChromium,
  pageProblems,
  signInOpenMode,
  startDemoHub,
} from "./support/demo-hub.js";

describe("web UI in Chromium, against a hub an iTwin.js backend pushed to", { timeout: 300_000 }, () => {
  let demo: DemoHub;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let consoleErrors: string[];
  const stepsRun: string[] = [];

  before(async () => {
    assertPrerequisites();
    demo = await startDemoHub();
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    consoleErrors = collectConsoleErrors(context);
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  it("the hub serves the page with a strict content security policy, and tells the sign-in page its auth mode", async () => {
    const response = await fetch(`${demo.hub.url}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(response.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.match(await response.text(), /<div id="root">/);
    assert.deepEqual(await (await fetch(`${demo.hub.url}/ui/config`)).json(), { authMode: "open" });
    // Hub tokens are refused by a hub that does not use them: creating one here would mislead.
    const token = await fetch(`${demo.hub.url}/admin/tokens`, {
      method: "POST",
      headers: { authorization: "Bearer manager", "content-type": "application/json" },
      body: JSON.stringify({ userId: "bob" }),
    });
    assert.equal(token.status, 400);
    assert.match(
      ((await token.json()) as { error: { message: string } }).error.message,
      /^This hub runs with --auth open: hub tokens would not be accepted by it/,
    );
    stepsRun.push("served");
  });

  it("signs in by keyboard; the home lists the iTwins by name with their iModels (no id to type)", async () => {
    await signInOpenMode(page, demo.hub.url, "manager");
    const card = page.locator(`li[data-itwin='${ITWIN_ID}']`);
    await card.getByRole("link", { name: new RegExp(ITWIN_NAME) }).waitFor();
    await card
      .getByRole("list", { name: `iModels of ${ITWIN_NAME}` })
      .getByRole("link", { name: "Plant West" })
      .waitFor();
    assert.equal(await page.getByLabel("iTwin id").count(), 0, "no box for a GUID any more");
    // Every page has a title of its own, and the page a favicon (an SVG the hub serves or the page carries).
    assert.equal(await page.title(), "iTwins · modelhub");
    const icon = await page.locator("link[rel='icon']").getAttribute("href");
    assert.ok(icon && icon !== "data:,", `favicon: ${icon}`);
    const iconBody = icon.startsWith("data:")
      ? decodeURIComponent(icon.replace(/^data:image\/svg\+xml(;base64)?,/, ""))
      : await (await fetch(new URL(icon, `${demo.hub.url}/`))).text();
    assert.match(icon.includes(";base64,") ? Buffer.from(iconBody, "base64").toString() : iconBody, /<svg/);
    // Who am I: the hub's answer to GET /me, in the header.
    assert.equal(await page.getByTestId("signed-in-as").getAttribute("data-user-id"), "manager");
    stepsRun.push("home");
  });

  it("creates an iTwin (its creator its Owner); a name already taken is refused readably", async () => {
    await page.getByLabel("New iTwin name").fill("East site");
    await page.getByRole("button", { name: "Create iTwin" }).click();
    await page.getByRole("status").filter({ hasText: "Created iTwin 'East site': you are its Owner." }).waitFor();
    const card = page.locator("li[data-itwin]").filter({ hasText: "East site" });
    await card.getByText("No iModels yet.").waitFor();
    const made = [];
    for await (const t of demo.apiAs("manager").iTwins({ search: "east" }))
      made.push({ name: t.displayName, createdBy: t.createdBy });
    assert.deepEqual(made, [{ name: "East site", createdBy: "manager" }]);
    const members = await demo
      .apiAs("manager")
      .request<{ members: { id: string; roles: { displayName: string }[] }[] }>(
        "GET",
        `${demo.hub.url}/accesscontrol/itwins/${await card.getAttribute("data-itwin")}/members/users`,
      );
    assert.deepEqual(
      members.members.map((m) => [m.id, m.roles.map((r) => r.displayName)]),
      [["manager", ["Owner"]]],
    );

    await page.getByLabel("New iTwin name").fill("west SITE");
    await page.getByRole("button", { name: "Create iTwin" }).click();
    await page.getByText(/^iTwinExists: An iTwin named 'west SITE' already exists.+\(409\)$/).waitFor();
    stepsRun.push("iTwin created");
  });

  it("an iModel whose creation failed is listed with the hub's reason, not hidden", async () => {
    const manager = demo.apiAs("manager");
    let eastId = "";
    for await (const t of manager.iTwins({ search: "East site" })) eastId = t.id;
    assert.ok(eastId, "the iTwin made in the step before");
    const bogus = join(tmpdir(), `modelhub-web-bogus-${process.pid}.bim`);
    await writeFile(bogus, "this is not an iModel".repeat(100));
    try {
      await assert.rejects(
        manager.createIModelFromFile({ iTwinId: eastId, name: "Broken upload", path: bogus, timeoutMs: 60_000 }),
        /not an iModel/i,
      );
    } finally {
      await rm(bogus, { force: true });
    }
    await page.goto(`${demo.hub.url}/#/itwins/${eastId}`);
    const card = page.locator("li").filter({ hasText: "Broken upload" });
    await card
      .getByTestId("imodel-creation-failed")
      .filter({ hasText: /Creation failed: .*not an iModel/i })
      .waitFor();
    assert.match((await card.textContent()) ?? "", /notInitialized/);
    await page.goto(`${demo.hub.url}/`);
    stepsRun.push("failed iModel listed");
  });

  it("opens an iTwin and finds the iModel by name among its iModels", async () => {
    await page
      .locator(`li[data-itwin='${ITWIN_ID}']`)
      .getByRole("link", { name: new RegExp(ITWIN_NAME) })
      .click();
    await page.getByRole("heading", { name: ITWIN_NAME }).waitFor();
    const link = page.getByRole("link", { name: /Plant West/ });
    await link.waitFor();
    await page.getByLabel("Search by name").fill("no such model");
    await page.getByText("No iModel of this iTwin matches 'no such model'.").waitFor();
    await page.getByLabel("Search by name").fill("plant");
    assert.equal(await page.title(), `${ITWIN_NAME} (iTwin) · modelhub`);
    // The card tells how much history the iModel has, who pushed last, and how big it is.
    const facts = page.getByTestId("imodel-facts");
    await facts.filter({ hasText: "by alice" }).waitFor();
    assert.equal(await facts.getAttribute("data-changesets"), "2");
    assert.match((await facts.textContent()) ?? "", /Changesets2Last push.+ by aliceSize[\d.]+ (KB|MB)/);
    // Its thumbnail (the hub's default until one is uploaded), read with the token and shown as a data: URL.
    assert.match((await page.getByTestId("imodel-thumbnail").getAttribute("src")) ?? "", /^data:image\/png;base64,/);
    await link.click();
    await page.getByRole("heading", { name: "Plant West" }).waitFor();
    await page.waitForFunction(() => document.title === "Changesets · Plant West · modelhub");
    stepsRun.push("signed in");
  });

  it("the changeset timeline shows the pushes: index, description, who", async () => {
    const timeline = page.getByTestId("changesets");
    await timeline.locator("tr[data-index='2']").waitFor();
    const rows = await timeline
      .locator("tbody tr")
      .evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 3).map((td) => td.textContent?.trim())),
      );
    assert.deepEqual(rows, [
      ["2", "Two valves", "alice"],
      ["1", "Three pumps in the west hall", "alice"],
    ]);
    stepsRun.push("timeline");
  });

  it("a changeset pushed by the iTwin.js backend appears without reloading the page", async () => {
    await page.locator("[data-testid='live-state'][data-state='live']").waitFor();
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    await demo.alice.do("insert", { key: "a", count: 1, labelPrefix: "tank" });
    assert.equal(await demo.alice.do("push", { key: "a", description: "A tank, pushed live" }), 3);
    const row = page.getByTestId("changesets").locator("tr[data-index='3']");
    await row.waitFor();
    assert.match((await row.textContent()) ?? "", /A tank, pushed live/);
    assert.equal(
      await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded),
      true,
      "the page was reloaded",
    );
    stepsRun.push("live push");
  });

  it("a named version created in the page is visible to the API; a duplicate name is refused readably", async () => {
    await page.getByRole("button", { name: "Name changeset 2 as a version" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name").fill("Milestone A");
    await dialog.getByLabel("Description (optional)").fill("valves in place");
    await dialog.getByRole("button", { name: "Create named version" }).click();
    await page.getByText("Named version 'Milestone A' created at changeset 2.").waitFor();
    await page
      .getByTestId("changesets")
      .locator("tr[data-index='2']")
      .getByTestId("version-badge")
      .filter({ hasText: "Milestone A" })
      .waitFor();

    const versions = [];
    for await (const v of demo.apiAs("alice").namedVersions(demo.iModelId))
      versions.push({ name: v.name, changesetIndex: v.changesetIndex, description: v.description });
    assert.deepEqual(versions, [{ name: "Milestone A", changesetIndex: 2, description: "valves in place" }]);

    // The same name again: the API's refusal, in words, inside the dialog.
    await page.getByRole("button", { name: "Name changeset 3 as a version" }).click();
    await dialog.getByLabel("Name").fill("Milestone A");
    await dialog.getByRole("button", { name: "Create named version" }).click();
    const refusal = dialog.getByRole("alert");
    await refusal.waitFor();
    assert.match((await refusal.textContent()) ?? "", /^NamedVersionExists: .+\(409\)$/);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    stepsRun.push("named version");
  });

  it("downloads a changeset's file, and the iModel as of a changeset that had no checkpoint (the hub makes it)", async () => {
    const api = demo.apiAs("manager");
    const cs1 = await api.getChangeset(demo.iModelId, 1);
    assert.equal(
      (await api.checkpoints(demo.iModelId)).checkpoints.some((c) => c.changesetIndex === 1),
      false,
      "changeset 1 has no checkpoint yet",
    );

    await page.getByRole("button", { name: "Download changeset 1" }).click();
    const fileDownload = page.waitForEvent("download");
    await page.getByRole("menuitem", { name: /Changeset file/ }).click();
    const csFile = await fileDownload;
    assert.equal(csFile.suggestedFilename(), "Plant West-changeset-1.cs");
    assert.equal((await readFile((await csFile.path())!)).length, cs1.fileSize);

    await page.getByRole("button", { name: "Download changeset 1" }).click();
    await page.getByRole("menuitem", { name: /iModel \(\.bim\)/ }).click();
    await page
      .getByTestId("download-outcome")
      .filter({ hasText: "The hub is making the .bim of changeset 1" })
      .waitFor();
    const ready = page
      .getByTestId("download-outcome")
      .getByRole("button", { name: "Download the .bim of changeset 1" });
    await ready.waitFor({ timeout: 60_000 });
    const bimDownload = page.waitForEvent("download");
    await ready.click();
    const bim = await bimDownload;
    assert.equal(bim.suggestedFilename(), "Plant West-changeset-1.bim");
    const bytes = await readFile((await bim.path())!);
    assert.equal(bytes.subarray(0, 16).toString("latin1"), "SQLite format 3\0");
    const made = (await api.checkpoints(demo.iModelId)).checkpoints.find((c) => c.changesetIndex === 1);
    assert.equal(made?.state, "successful");
    assert.equal(bytes.length, made.size);
    stepsRun.push("changeset downloads");
  });

  it("downloads a named version's .bim, renames it and hides it", async () => {
    await page.getByRole("tab", { name: "Named versions" }).click();
    await page.waitForFunction(() => document.title === "Named versions · Plant West · modelhub");
    const row = page.getByTestId("versions").locator("tr[data-version='Milestone A']");
    await row.waitFor();
    // Its checkpoint was scheduled when it was named: wait for the hub to finish it (state, not time).
    const api = demo.apiAs("manager");
    const version = (await collect(api.namedVersions(demo.iModelId))).find((v) => v.name === "Milestone A")!;
    await waitUntil(
      async () => (await api.checkpointOfNamedVersion(demo.iModelId, version.id)).state === "successful",
      "the checkpoint of Milestone A",
    );
    const download = page.waitForEvent("download");
    await row.getByRole("button", { name: "Download .bim of Milestone A" }).click();
    const bim = await download;
    assert.equal(bim.suggestedFilename(), "Plant West-Milestone A.bim");
    const bytes = await readFile((await bim.path())!);
    assert.equal(bytes.subarray(0, 16).toString("latin1"), "SQLite format 3\0");
    assert.equal(bytes.length, (await api.checkpointOfNamedVersion(demo.iModelId, version.id)).size);

    await row.getByRole("button", { name: "Edit Milestone A" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name").fill("Milestone A (valves)");
    await dialog.getByLabel(/^Hidden/).check();
    await dialog.getByRole("button", { name: "Save" }).click();
    await page
      .getByTestId("version-outcome")
      .filter({ hasText: "Named version 'Milestone A (valves)' saved (hidden)." })
      .waitFor();
    await page.getByTestId("versions").locator("tr[data-version='Milestone A (valves)']").getByText("hidden").waitFor();
    const after = (await collect(api.namedVersions(demo.iModelId))).map((v) => ({ name: v.name, state: v.state }));
    assert.deepEqual(after, [{ name: "Milestone A (valves)", state: "hidden" }]);
    await page.getByRole("tab", { name: "Changesets" }).click();
    stepsRun.push("version downloaded and edited");
  });

  it("shows who holds which locks, live, and releases a briefcase's locks", async () => {
    // Tabs are keyboard widgets: arrows move between them.
    await page.getByRole("tab", { name: "Changesets" }).focus();
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    await page.waitForURL(/#\/imodels\/[^/]+\/briefcases$/);
    const row = page.getByTestId("briefcases").locator(`tr[data-briefcase='${demo.aliceBriefcase}']`);
    await row.waitFor();
    assert.match((await row.textContent()) ?? "", /alice/);

    // alice's backend locks two of her elements (and the model, shared, by inserting): the page learns it live.
    await demo.alice.do("lock", { key: "a", level: "exclusive", ids: demo.firstElements.slice(0, 2) });
    await demo.alice.do("insert", { key: "a", count: 1, labelPrefix: "unpushed" });
    const counts = row.getByTestId("lock-counts");
    await row.locator("[data-testid='lock-counts'][data-exclusive='2']").waitFor();
    assert.notEqual(await counts.getAttribute("data-shared"), "0");
    // Opened, the list names the locked elements as people know them: label, class, model (read by the hub's worker
    // from the newest checkpoint), not only their hex ids.
    await counts.locator("summary").click();
    const pump = counts.getByTestId("locked-exclusive").locator(`li[data-object='${demo.firstElements[0]}']`);
    await pump.filter({ hasText: "pump 0" }).waitFor();
    assert.match((await pump.textContent()) ?? "", /^pump 0 Generic:PhysicalObject in .+ 0x[0-9a-f]+$/);
    await counts
      .getByTestId("labels-as-of")
      .filter({ hasText: /Names as of changeset \d+/ })
      .waitFor();
    const before = await demo.apiAs("manager").locks(demo.iModelId, { briefcaseId: demo.aliceBriefcase });
    assert.equal(before.length, 1, "the API shows alice's locks before the release");

    await row.getByRole("button", { name: "Release locks" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Release locks" }).click();
    await page
      .getByTestId("release-outcome")
      .filter({ hasText: `Released the locks of briefcase ${demo.aliceBriefcase}.` })
      .waitFor();
    await row.locator("[data-testid='lock-counts'][data-exclusive='0'][data-shared='0']").waitFor();
    assert.deepEqual(await demo.apiAs("manager").locks(demo.iModelId, { briefcaseId: demo.aliceBriefcase }), []);
    stepsRun.push("locks released");
  });

  it("lists checkpoints with their state and size", async () => {
    await page.getByRole("tab", { name: "Checkpoints" }).click();
    const baseline = page.getByTestId("checkpoints").locator("tr[data-index='0']");
    await baseline.waitFor();
    assert.match((await baseline.textContent()) ?? "", /successful/);
    assert.match(
      (await page.getByTestId("checkpoints-total").textContent()) ?? "",
      /checkpoints?, [\d.]+ (B|KB|MB) on disk/,
    );
    // The baseline's .bim, from the list.
    const download = page.waitForEvent("download");
    await baseline.getByRole("button", { name: "Download .bim of changeset 0" }).click();
    const file = await download;
    assert.equal(file.suggestedFilename(), "Plant West-changeset-0.bim");
    assert.equal((await readFile((await file.path())!)).subarray(0, 16).toString("latin1"), "SQLite format 3\0");
    stepsRun.push("checkpoints");
  });

  it("renders at phone size (390×844) without sideways scrolling", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const phoneErrors = collectConsoleErrors(phone);
    try {
      const small = await phone.newPage();
      small.setDefaultTimeout(20_000);
      await signInOpenMode(small, demo.hub.url, "manager");
      await small.goto(iModelUrl(demo.hub.url, demo.iModelId));
      await small.getByTestId("changesets").locator("tr[data-index='3']").waitFor();
      const widths = await small.evaluate(() => ({
        page: document.documentElement.scrollWidth,
        viewport: window.innerWidth,
      }));
      assert.ok(widths.page <= widths.viewport, `the page is ${widths.page}px wide in a ${widths.viewport}px window`);
      assert.ok(await small.getByRole("tab", { name: "Briefcases and locks" }).isVisible());
      assert.deepEqual(phoneErrors, []);
    } finally {
      await phone.close();
    }
    stepsRun.push("phone");
  });

  it("every page, at 1440×900, at 390×844 and in dark mode: no sideways scrolling, no clipped table, no serious accessibility violation (axe-core)", async () => {
    const pages: { name: string; hash: string; ready: string }[] = [
      {
        name: "iTwins",
        hash: "#/",
        ready: `li[data-itwin='${ITWIN_ID}'] [data-testid='imodel-facts'], li[data-itwin='${ITWIN_ID}'] ul a`,
      },
      { name: "iModels", hash: `#/itwins/${ITWIN_ID}`, ready: "[data-testid='imodel-facts']" },
      {
        name: "changesets",
        hash: `#/imodels/${demo.iModelId}/changesets`,
        ready: "[data-testid='changesets'] tr[data-index='3']",
      },
      {
        name: "compare",
        hash: `#/imodels/${demo.iModelId}/compare`,
        ready: "[data-testid='compare-counts'], [data-testid='compare-pending']",
      },
      {
        name: "versions",
        hash: `#/imodels/${demo.iModelId}/versions`,
        ready: "[data-testid='versions'] tr[data-version]",
      },
      {
        name: "briefcases",
        hash: `#/imodels/${demo.iModelId}/briefcases`,
        ready: "[data-testid='briefcases'] tr[data-briefcase]",
      },
      {
        name: "checkpoints",
        hash: `#/imodels/${demo.iModelId}/checkpoints`,
        ready: "[data-testid='checkpoints'] tr[data-index='0']",
      },
      { name: "admin members", hash: "#/admin/members", ready: "[data-testid='members'] tr[data-member]" },
      { name: "admin tokens", hash: "#/admin/tokens", ready: "form[aria-label='Create a token']" },
      { name: "admin audit", hash: "#/admin/audit", ready: "[data-testid='audit'] tr[data-action]" },
      { name: "admin storage", hash: "#/admin/storage", ready: "[data-testid='storage'] tr[data-imodel]" },
      { name: "admin jobs and health", hash: "#/admin/system", ready: "[data-testid='readiness']" },
    ];
    const problems: string[] = [];
    let audited = 0;
    const sizes: { width: number; height: number; dark?: boolean }[] = [
      { width: 1440, height: 900 },
      { width: 390, height: 844 },
      { width: 1440, height: 900, dark: true },
    ];
    for (const { dark, ...size } of sizes) {
      // axe-core is injected as an inline script, which the page's content security policy refuses: bypassed here only.
      const context = await browser.newContext({
        viewport: size,
        bypassCSP: true,
        colorScheme: dark ? "dark" : "light",
        ...(size.width < 600 ? { isMobile: true, hasTouch: true } : {}),
      });
      const errors = collectConsoleErrors(context);
      try {
        const tab = await context.newPage();
        tab.setDefaultTimeout(30_000);
        await tab.goto(`${demo.hub.url}/`);
        await tab.getByLabel("User name").waitFor();
        problems.push(...(await pageProblems(tab, `sign-in at ${size.width}px${dark ? " (dark)" : ""}`)));
        await signInOpenMode(tab, demo.hub.url, "manager");
        for (const target of pages) {
          await tab.goto(`${demo.hub.url}/${target.hash}`);
          await tab.locator(target.ready).first().waitFor();
          await tab
            .locator("[role='progressbar']")
            .first()
            .waitFor({ state: "detached" })
            .catch(() => undefined);
          problems.push(...(await pageProblems(tab, `${target.name} at ${size.width}px${dark ? " (dark)" : ""}`)));
          audited++;
        }
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    }
    assert.deepEqual(problems, []);
    assert.equal(audited, pages.length * sizes.length);
    stepsRun.push("layout and accessibility");
  });

  it("signing out forgets the session; a tab's session never reaches localStorage", async () => {
    const stored = await page.evaluate(() => ({
      local: Object.keys(localStorage),
      session: Object.keys(sessionStorage),
      cookies: document.cookie,
    }));
    assert.deepEqual(stored.local, []);
    assert.equal(stored.cookies, "");
    assert.ok(stored.session.includes("modelhub.session"));
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("User name").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("modelhub.session")), null);
    stepsRun.push("signed out");
  });

  it("wrote no console errors (but Chromium's own lines for the 409s provoked above), and every step above ran", () => {
    // Chromium logs every refused fetch as "Failed to load resource"; the duplicate names were refused on purpose.
    const provoked =
      /^console: Failed to load resource: the server responded with a status of 409 \(Conflict\) \(http:\/\/127\.0\.0\.1:\d+\/(imodels\/[^/]+\/namedversions|itwins)\)$/;
    assert.equal(consoleErrors.filter((e) => provoked.test(e)).length, 2, consoleErrors.join("\n"));
    assert.deepEqual(
      consoleErrors.filter((e) => !provoked.test(e)),
      [],
    );
    assert.deepEqual(stepsRun, [
      "served",
      "home",
      "iTwin created",
      "failed iModel listed",
      "signed in",
      "timeline",
      "live push",
      "named version",
      "changeset downloads",
      "version downloaded and edited",
      "locks released",
      "checkpoints",
      "phone",
      "layout and accessibility",
      "signed out",
    ]);
  });
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const list: T[] = [];
  for await (const item of items) list.push(item);
  return list;
}

/** Polls `check` until it holds (a state the hub reaches in the background), failing with `what` after a minute. */
async function waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
