// A real hub process that a real iTwin.js backend (an agent process running BriefcaseDb code through
// @modelhub/backend-access) pushed to, and a headless Chromium to look at it: shared by the browser tests and
// `npm run screenshots`.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ModelHubClient } from "@modelhub/client";
import type { Browser, BrowserContext, ConsoleMessage, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { Agent } from "../../../backend-access/test/support/agents.js";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";

export const CHROMIUM_PATH = process.env.MODELHUB_CHROMIUM ?? "/usr/bin/chromium";
export const WEB_DIST = fileURLToPath(new URL("../../dist/", import.meta.url));
export const ITWIN_ID = "5b0f6d7e-2c1a-4e8b-9f3d-7a6c5b4e3d21";
/** What alice named the iTwin her first iModel created (an iTwin made that way is named after its id). */
export const ITWIN_NAME = "West site";

export interface DemoHub {
  hub: HubProcess;
  /** The iTwin.js user who pushes (briefcase `aliceBriefcase`, open as agent key "a"). */
  alice: Agent;
  iModelId: string;
  aliceBriefcase: number;
  /** Elements alice inserted in her first push: things to lock later. */
  firstElements: string[];
  /** The API as another tool sees it, signed in as `user`. */
  apiAs(user: string): ModelHubClient;
  stop(): Promise<void>;
}

/** Fails with what to do when the built UI or Chromium is missing, instead of a timeout later. */
export function assertPrerequisites(): void {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM_PATH}: install Debian's package (apt-get install -y chromium), as .ci/run does, or set MODELHUB_CHROMIUM.`,
    );
  }
  if (!existsSync(join(WEB_DIST, "index.html"))) {
    throw new Error(
      `The web UI is not built (${WEB_DIST}index.html is missing): run 'npm run build -w @modelhub/web' (npm ci does it).`,
    );
  }
}

/** Hub + iTwin "West site" (alice its Owner) + iModel "Plant West" with two changesets pushed by alice's iTwin.js backend. */
export async function startDemoHub(args: readonly string[] = []): Promise<DemoHub> {
  const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
  const hub = await startHubProcess({ args });
  const work = await mkdtemp(join(tmpdir(), "modelhub-web-briefcases-"));
  let alice: Agent | undefined;
  try {
    alice = await Agent.start(hub.url, "alice");
    const iModelId = await alice.do<string>("createIModel", { iTwinId: ITWIN_ID, name: "Plant West", version0 });
    await new ModelHubClient({ url: hub.url, accessToken: "alice" }).updateITwin(ITWIN_ID, { displayName: ITWIN_NAME });
    const { briefcaseId } = await alice.do<{ briefcaseId: number }>("download", {
      iModelId,
      iTwinId: ITWIN_ID,
      dir: work,
      key: "a",
    });
    const firstElements = await alice.do<string[]>("insert", { key: "a", count: 3, labelPrefix: "pump" });
    await alice.do("push", { key: "a", description: "Three pumps in the west hall" });
    await alice.do("insert", { key: "a", count: 2, labelPrefix: "valve" });
    await alice.do("push", { key: "a", description: "Two valves" });
    const agent = alice;
    return {
      hub,
      alice: agent,
      iModelId,
      aliceBriefcase: briefcaseId,
      firstElements,
      apiAs: (user) => new ModelHubClient({ url: hub.url, accessToken: user }),
      async stop() {
        await agent.stop();
        await hub.stop();
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await alice?.stop();
    await hub.stop();
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** Every console error and uncaught page error of the context's pages, as text. */
export function collectConsoleErrors(context: BrowserContext): string[] {
  const errors: string[] = [];
  const watch = (page: Page) => {
    page.on("console", (message: ConsoleMessage) => {
      if (message.type() === "error") errors.push(`console: ${message.text()} (${message.location().url})`);
    });
    page.on("pageerror", (err) => errors.push(`page error: ${err.message}`));
  };
  context.pages().forEach(watch);
  context.on("page", watch);
  return errors;
}

/** Opens the UI and signs in by keyboard as `user` (open mode). */
export async function signInOpenMode(page: Page, hubUrl: string, user: string): Promise<void> {
  await page.goto(`${hubUrl}/`);
  const name = page.getByLabel("User name");
  await name.waitFor();
  await name.focus();
  await page.keyboard.type(user);
  await page.keyboard.press("Enter");
  await page.getByTestId("signed-in-as").filter({ hasText: user }).waitFor();
}

export function iModelUrl(hubUrl: string, iModelId: string, tab = "changesets"): string {
  return `${hubUrl}/#/imodels/${iModelId}/${tab}`;
}

const AXE_PATH = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/**
 * What is wrong with the page as shown, in words: sideways scrolling, a table wider than its box (clipped), and
 * axe-core's serious or critical violations. The page's context must bypass the content security policy (axe is
 * injected as an inline script): `browser.newContext({ bypassCSP: true })`.
 */
export async function pageProblems(page: Page, where: string): Promise<string[]> {
  const problems: string[] = [];
  const widths = await page.evaluate(() => ({
    page: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
    clipped: [...document.querySelectorAll(".mh-table-wrap")]
      .filter((w) => w.scrollWidth > w.clientWidth + 1)
      .map((w) => w.querySelector("table")?.getAttribute("aria-label")),
  }));
  if (widths.page > widths.viewport)
    problems.push(`${where}: the page is ${widths.page}px wide in a ${widths.viewport}px window`);
  if (widths.clipped.length > 0) problems.push(`${where}: tables wider than their box: ${widths.clipped.join(", ")}`);
  await page.addScriptTag({ path: AXE_PATH });
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run(
            context: Document,
            options: unknown,
          ): Promise<{
            violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
          }>;
        };
      }
    ).axe;
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
  for (const v of violations.filter((v) => v.impact === "serious" || v.impact === "critical"))
    problems.push(`${where}: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(" | ")}`);
  return problems;
}
