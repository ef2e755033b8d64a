// The web UI in a real Chromium against a real hub process that a real iTwin.js backend pushed to: the home lists
// iTwins by name with their iModels and creates one, the timeline shows the pushes, a new push appears live, a named version made in the page is visible to the API, a briefcase's
// locks are released from the page, API errors are shown readably, a phone-sized window renders, and nothing is
// written to the console as an error.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { DemoHub } from "./support/demo-hub.js";
import { ITWIN_ID, ITWIN_NAME, assertPrerequisites, collectConsoleErrors, iModelUrl, launchChromium, signInOpenMode, startDemoHub } from "./support/demo-hub.js";

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
    stepsRun.push("served");
  });

  it("signs in by keyboard; the home lists the iTwins by name with their iModels (no id to type)", async () => {
    await signInOpenMode(page, demo.hub.url, "manager");
    const card = page.locator(`li[data-itwin='${ITWIN_ID}']`);
    await card.getByRole("link", { name: new RegExp(ITWIN_NAME) }).waitFor();
    await card.getByRole("list", { name: `iModels of ${ITWIN_NAME}` }).getByRole("link", { name: "Plant West" }).waitFor();
    assert.equal(await page.getByLabel("iTwin id").count(), 0, "no box for a GUID any more");
    stepsRun.push("home");
  });

  it("creates an iTwin (its creator its Owner); a name already taken is refused readably", async () => {
    await page.getByLabel("New iTwin name").fill("East site");
    await page.getByRole("button", { name: "Create iTwin" }).click();
    await page.getByRole("status").filter({ hasText: "Created iTwin 'East site': you are its Owner." }).waitFor();
    const card = page.locator("li[data-itwin]").filter({ hasText: "East site" });
    await card.getByText("No iModels yet.").waitFor();
    const made = [];
    for await (const t of demo.apiAs("manager").iTwins({ search: "east" })) made.push({ name: t.displayName, createdBy: t.createdBy });
    assert.deepEqual(made, [{ name: "East site", createdBy: "manager" }]);
    const members = await demo.apiAs("manager").request<{ members: { id: string; roles: { displayName: string }[] }[] }>(
      "GET",
      `${demo.hub.url}/accesscontrol/itwins/${await card.getAttribute("data-itwin")}/members/users`,
    );
    assert.deepEqual(members.members.map((m) => [m.id, m.roles.map((r) => r.displayName)]), [["manager", ["Owner"]]]);

    await page.getByLabel("New iTwin name").fill("west SITE");
    await page.getByRole("button", { name: "Create iTwin" }).click();
    await page.getByText(/^iTwinExists: An iTwin named 'west SITE' already exists.+\(409\)$/).waitFor();
    stepsRun.push("iTwin created");
  });

  it("opens an iTwin and finds the iModel by name among its iModels", async () => {
    await page.locator(`li[data-itwin='${ITWIN_ID}']`).getByRole("link", { name: new RegExp(ITWIN_NAME) }).click();
    await page.getByRole("heading", { name: ITWIN_NAME }).waitFor();
    const link = page.getByRole("link", { name: /Plant West/ });
    await link.waitFor();
    await page.getByLabel("Search by name").fill("no such model");
    await page.getByText("No iModel of this iTwin matches 'no such model'.").waitFor();
    await page.getByLabel("Search by name").fill("plant");
    await link.click();
    await page.getByRole("heading", { name: "Plant West" }).waitFor();
    stepsRun.push("signed in");
  });

  it("the changeset timeline shows the pushes: index, description, who", async () => {
    const timeline = page.getByTestId("changesets");
    await timeline.locator("tr[data-index='2']").waitFor();
    const rows = await timeline.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 3).map((td) => td.textContent?.trim())));
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
    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, "the page was reloaded");
    stepsRun.push("live push");
  });

  it("a named version created in the page is visible to the API; a duplicate name is refused readably", async () => {
    await page.getByRole("button", { name: "Name changeset 2 as a version" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name").fill("Milestone A");
    await dialog.getByLabel("Description (optional)").fill("valves in place");
    await dialog.getByRole("button", { name: "Create named version" }).click();
    await page.getByText("Named version 'Milestone A' created at changeset 2.").waitFor();
    await page.getByTestId("changesets").locator("tr[data-index='2']").getByTestId("version-badge").filter({ hasText: "Milestone A" }).waitFor();

    const versions = [];
    for await (const v of demo.apiAs("alice").namedVersions(demo.iModelId)) versions.push({ name: v.name, changesetIndex: v.changesetIndex, description: v.description });
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
    const before = await demo.apiAs("manager").locks(demo.iModelId, { briefcaseId: demo.aliceBriefcase });
    assert.equal(before.length, 1, "the API shows alice's locks before the release");

    await row.getByRole("button", { name: "Release locks" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Release locks" }).click();
    await page.getByTestId("release-outcome").filter({ hasText: `Released the locks of briefcase ${demo.aliceBriefcase}.` }).waitFor();
    await row.locator("[data-testid='lock-counts'][data-exclusive='0'][data-shared='0']").waitFor();
    assert.deepEqual(await demo.apiAs("manager").locks(demo.iModelId, { briefcaseId: demo.aliceBriefcase }), []);
    stepsRun.push("locks released");
  });

  it("lists checkpoints with their state and size", async () => {
    await page.getByRole("tab", { name: "Checkpoints" }).click();
    const baseline = page.getByTestId("checkpoints").locator("tr[data-index='0']");
    await baseline.waitFor();
    assert.match((await baseline.textContent()) ?? "", /successful/);
    assert.match((await page.getByTestId("checkpoints-total").textContent()) ?? "", /checkpoints?, [\d.]+ (B|KB|MB) on disk/);
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
      const widths = await small.evaluate(() => ({ page: document.documentElement.scrollWidth, viewport: window.innerWidth }));
      assert.ok(widths.page <= widths.viewport, `the page is ${widths.page}px wide in a ${widths.viewport}px window`);
      assert.ok(await small.getByRole("tab", { name: "Briefcases and locks" }).isVisible());
      assert.deepEqual(phoneErrors, []);
    } finally {
      await phone.close();
    }
    stepsRun.push("phone");
  });

  it("signing out forgets the session; a tab's session never reaches localStorage", async () => {
    const stored = await page.evaluate(() => ({ local: Object.keys(localStorage), session: Object.keys(sessionStorage), cookies: document.cookie }));
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
    const provoked = /^console: Failed to load resource: the server responded with a status of 409 \(Conflict\) \(http:\/\/127\.0\.0\.1:\d+\/(imodels\/[^/]+\/namedversions|itwins)\)$/;
    assert.equal(consoleErrors.filter((e) => provoked.test(e)).length, 2, consoleErrors.join("\n"));
    assert.deepEqual(consoleErrors.filter((e) => !provoked.test(e)), []);
    assert.deepEqual(stepsRun, ["served", "home", "iTwin created", "signed in", "timeline", "live push", "named version", "locks released", "checkpoints", "phone", "signed out"]);
  });
});
