// `npm run screenshots`: regenerates docs/screenshots/*.png of the web UI's main pages, against a real hub that a
// real iTwin.js backend pushed to (the browser tests' setup). Needs the built UI and Chromium, as the tests do.
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { ITWIN_ID, ITWIN_NAME, assertPrerequisites, iModelUrl, launchChromium, signInOpenMode, startDemoHub } from "../test/support/demo-hub.js";

const out = fileURLToPath(new URL("../../../docs/screenshots/", import.meta.url));

assertPrerequisites();
await mkdir(out, { recursive: true });
const demo = await startDemoHub();
const browser = await launchChromium();
try {
  await demo.apiAs("alice").createNamedVersion(demo.iModelId, { name: "Design review", description: "pumps placed", changeset: 1 });
  await demo.alice.do("lock", { key: "a", level: "exclusive", ids: demo.firstElements.slice(0, 2) });
  await demo.apiAs("bob").createITwin({ displayName: "East site", subClass: "Asset", class: "Thing" });
  const shots: { name: string; width: number; height: number; tab?: string; home?: boolean; ready: string }[] = [
    { name: "itwins", width: 1280, height: 800, home: true, ready: `li[data-itwin='${ITWIN_ID}'] a:has-text('Plant West')` },
    { name: "imodels", width: 1280, height: 800, ready: `main:has(h1:has-text('${ITWIN_NAME}')) ul[aria-label='iModels of the iTwin'] a:has-text('Plant West')` },
    { name: "changesets", width: 1280, height: 800, tab: "changesets", ready: "[data-testid='changesets'] tr[data-index='2']" },
    { name: "briefcases", width: 1280, height: 800, tab: "briefcases", ready: "[data-testid='briefcases'] [data-exclusive='2']" },
    { name: "checkpoints", width: 1280, height: 800, tab: "checkpoints", ready: "[data-testid='checkpoints'] tr[data-index='0']" },
    { name: "changesets-phone", width: 390, height: 844, tab: "changesets", ready: "[data-testid='changesets'] tr[data-index='2']" },
  ];
  for (const shot of shots) {
    const context = await browser.newContext({ viewport: { width: shot.width, height: shot.height }, deviceScaleFactor: 1, colorScheme: "light" });
    const page = await context.newPage();
    await signInOpenMode(page, demo.hub.url, "manager");
    await page.goto(shot.tab ? iModelUrl(demo.hub.url, demo.iModelId, shot.tab) : shot.home ? `${demo.hub.url}/#/` : `${demo.hub.url}/#/itwins/${ITWIN_ID}`);
    await page.locator(shot.ready).first().waitFor({ timeout: 20_000 });
    if (shot.tab) await page.locator("[data-testid='live-state'][data-state='live']").waitFor({ timeout: 20_000 });
    const path = `${out}${shot.name}.png`;
    await page.screenshot({ path, fullPage: false });
    process.stdout.write(`${path}\n`);
    await context.close();
  }
} finally {
  await browser.close();
  await demo.stop();
}
