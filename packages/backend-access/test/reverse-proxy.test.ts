// The hub behind a real nginx configured with docs/service.md's own block (read from the document, so the document
// is what is tested): an iTwin.js backend creates an iModel, pushes and another pulls through the proxy; every link
// the hub hands out names the proxy (`--public-url`), uploads stream through it, and the change feed's events arrive
// through it while the stream stays open (the block turns proxy buffering off, and the hub's answer says
// `X-Accel-Buffering: no` as well, for proxies set up without it).
// nginx comes from Debian's package (.ci/run installs it, as it does Chromium).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ModelHubClient } from "@modelhub/client";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { Agent } from "./support/agents.js";
import { freePort } from "./support/crash-hub.js";

const NGINX = process.env.MODELHUB_NGINX ?? "/usr/sbin/nginx";
const SERVICE_DOC = fileURLToPath(new URL("../../../docs/service.md", import.meta.url));
const ITWIN = "7e1d2c3b-4a59-4f6e-8d7c-6b5a49382716";

/** docs/service.md's nginx `server { … }` block, listening on `proxyPort` and passing to the hub on `hubPort`. */
async function documentedServerBlock(proxyPort: number, hubPort: number): Promise<string> {
  const doc = await readFile(SERVICE_DOC, "utf8");
  const block = /```nginx\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, "docs/service.md has an nginx block");
  assert.match(block, /listen 443 ssl;/);
  assert.match(block, /proxy_pass http:\/\/127\.0\.0\.1:3000;/);
  // TLS is the one thing not tried here (no certificate): the rest of the block is used as written.
  return block
    .replace("listen 443 ssl;", `listen 127.0.0.1:${proxyPort};`)
    .replace("proxy_pass http://127.0.0.1:3000;", `proxy_pass http://127.0.0.1:${hubPort};`);
}

async function startNginx(dir: string, serverBlock: string): Promise<ChildProcess> {
  // The workers run as nobody (nginx started by root): they need to write their temporary files here.
  await chmod(dir, 0o777);
  for (const sub of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) await mkdir(join(dir, sub), { mode: 0o777 });
  const conf = join(dir, "nginx.conf");
  await writeFile(
    conf,
    `daemon off;
worker_processes 1;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${join(dir, "body")};
    proxy_temp_path ${join(dir, "proxy")};
    fastcgi_temp_path ${join(dir, "fastcgi")};
    uwsgi_temp_path ${join(dir, "uwsgi")};
    scgi_temp_path ${join(dir, "scgi")};
${serverBlock}
}
`,
  );
  const child = spawn(NGINX, ["-p", dir, "-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  // Ready when it answers (the hub's /health through it); a bad configuration makes it exit at once instead.
  const port = /listen 127\.0\.0\.1:(\d+);/.exec(serverBlock)![1];
  for (let i = 0; i < 100; i++) {
    const early = await Promise.race([exited, new Promise((r) => setTimeout(() => r("running"), 100))]);
    if (early !== "running") throw new Error(`nginx exited (${String(early)}): ${stderr}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return child;
  }
  child.kill("SIGKILL");
  throw new Error(`nginx did not answer on ${port}: ${stderr}`);
}

describe("behind nginx, configured as docs/service.md says", { timeout: 300_000 }, () => {
  let hub: HubProcess;
  let nginx: ChildProcess | undefined;
  let dir: string;
  let proxyUrl: string;
  const agents: Agent[] = [];
  const stepsRun: string[] = [];

  before(async () => {
    if (!existsSync(NGINX))
      throw new Error(
        `nginx is missing at ${NGINX}: install Debian's package (apt-get install -y nginx), as .ci/run does, or set MODELHUB_NGINX.`,
      );
    dir = await mkdtemp(join(tmpdir(), "modelhub-nginx-"));
    const proxyPort = await freePort();
    proxyUrl = `http://127.0.0.1:${proxyPort}`;
    hub = await startHubProcess({ args: ["--public-url", proxyUrl, "--trusted-proxy", "127.0.0.1"] });
    nginx = await startNginx(dir, await documentedServerBlock(proxyPort, Number(new URL(hub.url).port)));
  });
  after(async () => {
    for (const agent of agents) await agent.stop();
    nginx?.kill("SIGTERM");
    await hub?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("an iTwin.js backend creates, pushes and pulls through the proxy; the feed streams through it; links name the proxy", async () => {
    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    const work = join(dir, "briefcases");
    await mkdir(work);
    const alice = await Agent.start(proxyUrl, "alice");
    agents.push(alice);
    const iModelId = await alice.do<string>("createIModel", { iTwinId: ITWIN, name: "Behind nginx", version0 });
    await alice.do("download", { iModelId, iTwinId: ITWIN, dir: work, key: "a" });
    stepsRun.push("created and downloaded");

    // The change feed through the proxy: open before the push, its event must arrive while the stream is open.
    const client = new ModelHubClient({ url: proxyUrl, accessToken: "bob" });
    const abort = new AbortController();
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const pushed = (async () => {
      for await (const event of client.events(iModelId, { signal: abort.signal, onOpen: opened }))
        if (event.type === "changeset") return event.data;
      throw new Error("the stream ended without a changeset event");
    })();
    pushed.catch(() => undefined);
    await open;
    await alice.do("insert", { key: "a", count: 3, labelPrefix: "proxied" });
    await alice.do("push", { key: "a", description: "Pushed through nginx" });
    const event = await Promise.race([
      pushed,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error("no changeset event through nginx within 30 s (buffered?)")), 30_000),
      ),
    ]);
    abort.abort();
    assert.equal(event.index, 1);
    stepsRun.push("pushed, event streamed");

    // Another backend pulls the push through the proxy.
    const bob = await Agent.start(proxyUrl, "bob");
    agents.push(bob);
    const downloaded = await bob.do<{ changesetIndex: number; count: number }>("download", {
      iModelId,
      iTwinId: ITWIN,
      dir: work,
      key: "b",
    });
    assert.equal(downloaded.changesetIndex, 1);
    assert.equal(downloaded.count, 3);
    await alice.do("insert", { key: "a", count: 2, labelPrefix: "second" });
    await alice.do("push", { key: "a", description: "Second push" });
    const pulled = await bob.do<{ changesetIndex: number; count: number }>("pull", { key: "b" });
    assert.deepEqual(pulled, { changesetIndex: 2, count: 5 });
    stepsRun.push("pulled");

    // Every link the hub hands out names the proxy, not the hub's own port.
    const changeset = await client.request<{ changeset: { _links: { download: { href: string } } } }>(
      "GET",
      `${proxyUrl}/imodels/${iModelId}/changesets/2`,
    );
    assert.ok(
      changeset.changeset._links.download.href.startsWith(`${proxyUrl}/`),
      changeset.changeset._links.download.href,
    );
    const file = await fetch(changeset.changeset._links.download.href);
    assert.equal(file.status, 200);
    assert.ok((await file.arrayBuffer()).byteLength > 0);
    stepsRun.push("links");
  });

  it("every step above ran", () => {
    assert.deepEqual(stepsRun, ["created and downloaded", "pushed, event streamed", "pulled", "links"]);
  });
});
