// `npm run screenshots`: regenerates docs/screenshots/*.png of the web UI's main pages, against a real hub that a
// real iTwin.js backend pushed to (the browser tests' setup). Needs the built UI and Chromium, as the tests do.
import { mkdir } from "node:fs/promises";
import { Webhooks } from "@modelhub/client";
import { fileURLToPath } from "node:url";
import {
  ITWIN_ID,
  ITWIN_NAME,
  assertPrerequisites,
  iModelUrl,
  launchChromium,
  signInOpenMode,
  startDemoHub,
} from "../test/support/demo-hub.js";

const out = fileURLToPath(new URL("../../../docs/screenshots/", import.meta.url));

assertPrerequisites();
await mkdir(out, { recursive: true });
const demo = await startDemoHub();
const browser = await launchChromium();
try {
  await demo
    .apiAs("alice")
    .createNamedVersion(demo.iModelId, { name: "Design review", description: "pumps placed", changeset: 1 });
  await demo.alice.do("lock", { key: "a", level: "exclusive", ids: demo.firstElements.slice(0, 2) });
  await demo.apiAs("bob").createITwin({ displayName: "East site", subClass: "Asset", class: "Thing" });
  // Events out: a gate and a webhook on the iTwin, an Account webhook for the admin page (receivers that are not
  // there: the pictures show the forms and lists, not deliveries).
  await demo.apiAs("alice").createGate(ITWIN_ID, { url: "http://127.0.0.1:9/integrity-check", name: "integrity" });
  const webhooks = new Webhooks(demo.apiAs("alice"));
  await webhooks.create({
    callbackUrl: "http://127.0.0.1:9/tiles",
    scope: "iTwin",
    scopeId: ITWIN_ID,
    eventTypes: ["iModels.namedVersionCreated.v1", "iModels.changesReady.v1"],
  });
  await webhooks.create({
    callbackUrl: "http://127.0.0.1:9/chat",
    scope: "Account",
    eventTypes: ["iModels.iModelCreated.v1", "iModels.iModelDeleted.v1"],
  });
  // Every page of the UI, at desktop size, and the narrow layout (tables as cards) at phone size.
  const shots: {
    name: string;
    width: number;
    height: number;
    tab?: string;
    hash?: string;
    signedOut?: boolean;
    ready: string;
    /** Scrolled to the top of the window before the picture (a section below the fold). */
    scrollTo?: string;
  }[] = [
    { name: "sign-in", width: 1280, height: 800, signedOut: true, hash: "#/", ready: "input[name='username']" },
    {
      name: "itwins",
      width: 1280,
      height: 800,
      hash: "#/",
      ready: `li[data-itwin='${ITWIN_ID}'] a:has-text('Plant West')`,
    },
    {
      name: "imodels",
      width: 1280,
      height: 800,
      hash: `#/itwins/${ITWIN_ID}`,
      ready: `main:has(h1:has-text('${ITWIN_NAME}')) [data-testid='imodel-facts']`,
    },
    {
      name: "changesets",
      width: 1280,
      height: 800,
      tab: "changesets",
      ready: "[data-testid='changesets'] tr[data-index='2']",
    },
    {
      name: "versions",
      width: 1280,
      height: 800,
      tab: "versions",
      ready: "[data-testid='versions'] tr[data-version='Design review']",
    },
    {
      name: "briefcases",
      width: 1280,
      height: 800,
      tab: "briefcases",
      ready: "[data-testid='briefcases'] [data-exclusive='2']",
    },
    {
      name: "checkpoints",
      width: 1280,
      height: 800,
      tab: "checkpoints",
      ready: "[data-testid='checkpoints'] tr[data-index='0']",
    },
    {
      name: "compare",
      width: 1280,
      height: 800,
      tab: "compare",
      ready: "[data-testid='compare-counts']",
    },
    {
      name: "itwin-events",
      width: 1280,
      height: 800,
      hash: `#/itwins/${ITWIN_ID}`,
      ready: "[data-testid='webhooks'] tr",
      scrollTo: "#gates-heading",
    },
    {
      name: "admin-members",
      width: 1280,
      height: 800,
      hash: "#/admin/members",
      ready: "[data-testid='members'] tr[data-member]",
    },
    {
      name: "admin-webhooks",
      width: 1280,
      height: 800,
      hash: "#/admin/webhooks",
      ready: "[data-testid='webhooks'] tr",
    },
    {
      name: "admin-audit",
      width: 1280,
      height: 800,
      hash: "#/admin/audit",
      ready: "[data-testid='audit'] tr[data-action]",
    },
    {
      name: "admin-storage",
      width: 1280,
      height: 800,
      hash: "#/admin/storage",
      ready: "[data-testid='storage'] tr[data-imodel]",
    },
    { name: "admin-system", width: 1280, height: 800, hash: "#/admin/system", ready: "[data-testid='readiness']" },
    {
      name: "changesets-phone",
      width: 390,
      height: 844,
      tab: "changesets",
      ready: "[data-testid='changesets'] tr[data-index='2']",
    },
    {
      name: "versions-phone",
      width: 390,
      height: 844,
      tab: "versions",
      ready: "[data-testid='versions'] tr[data-version='Design review']",
    },
  ];
  for (const shot of shots) {
    const context = await browser.newContext({
      viewport: { width: shot.width, height: shot.height },
      deviceScaleFactor: 1,
      colorScheme: "light",
    });
    const page = await context.newPage();
    if (shot.signedOut) await page.goto(`${demo.hub.url}/${shot.hash}`);
    else {
      await signInOpenMode(page, demo.hub.url, "manager");
      await page.goto(shot.tab ? iModelUrl(demo.hub.url, demo.iModelId, shot.tab) : `${demo.hub.url}/${shot.hash}`);
    }
    await page.locator(shot.ready).first().waitFor({ timeout: 20_000 });
    if (shot.tab) await page.locator("[data-testid='live-state'][data-state='live']").waitFor({ timeout: 20_000 });
    // Spinners of parts still loading (cards' facts, the first page's lists) are gone before the picture.
    await page
      .locator("[role='progressbar']")
      .first()
      .waitFor({ state: "detached", timeout: 20_000 })
      .catch(() => undefined);
    if (shot.scrollTo)
      await page.locator(shot.scrollTo).evaluate((element) => element.scrollIntoView({ block: "start" }));
    const path = `${out}${shot.name}.png`;
    await page.screenshot({ path, fullPage: false });
    process.stdout.write(`${path}\n`);
    await context.close();
  }
} finally {
  await browser.close();
  await demo.stop();
}
