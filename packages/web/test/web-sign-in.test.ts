// Sign-in against a hub in `--auth tokens` mode, in a real Chromium: the page asks for a token (not a name), a
// refused token brings the sign-in back with the reason, a hub-issued token works, and it is kept in this tab's
// sessionStorage only.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { createToken } from "../../server/src/admin/tokens.js";
import type { HubProcess } from "../../server/test/support/hub-process.js";
import { startHubProcess } from "../../server/test/support/hub-process.js";
import { assertPrerequisites, collectConsoleErrors, launchChromium } from "./support/demo-hub.js";

describe("web UI sign-in with hub tokens (--auth tokens)", { timeout: 120_000 }, () => {
  let hub: HubProcess;
  let browser: Browser;

  before(async () => {
    assertPrerequisites();
    hub = await startHubProcess({ args: ["--auth", "tokens", "--admin", "root"] });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it("asks for a token, sends a refused one back to sign-in with the reason, and works with a valid one", async () => {
    assert.deepEqual(await (await fetch(`${hub.url}/ui/config`)).json(), { authMode: "tokens" });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const errors = collectConsoleErrors(context);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);

    await page.goto(`${hub.url}/`);
    const tokenField = page.getByLabel("Token");
    await tokenField.waitFor();
    assert.equal(await tokenField.getAttribute("type"), "password");
    assert.equal(await page.getByLabel("User name").count(), 0);

    await tokenField.fill("mh_not-a-real-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "The hub refused your token (401): sign in again." }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("modelhub.session")), null);

    const { token } = await createToken({ dataDir: hub.dataDir, userId: "root", description: "web UI test" });
    await page.getByLabel("Token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("You are a member of no iTwin yet: create one above, or ask an iTwin's Owner to add you.").waitFor();
    const stored = await page.evaluate(() => ({ local: localStorage.length, cookies: document.cookie, session: sessionStorage.getItem("modelhub.session") }));
    assert.deepEqual({ local: stored.local, cookies: stored.cookies }, { local: 0, cookies: "" });
    assert.match(stored.session ?? "", new RegExp(token));

    // The refused token's 401 is Chromium's one console line; nothing else.
    assert.deepEqual(errors.filter((e) => !/status of 401 \(Unauthorized\) \(http:\/\/127\.0\.0\.1:\d+\/itwins\?/.test(e)), []);
    assert.equal(errors.length, 1, errors.join("\n"));
    await context.close();
  });
});
