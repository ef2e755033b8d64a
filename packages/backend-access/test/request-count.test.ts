// The requests of one push and one pull (issue 23), counted where they arrive: the hub's request log (one line per
// answered request). A real iTwin.js briefcase (unmodified pushChanges/pullChanges) against a real hub process.
// - a push is 4 requests: create, upload, complete, release of the locks, plus the pull iTwin.js makes before it
//   and the one it makes again right after its push;
// - a pull of N small changesets is one request: the list page carries their files (a modelhub extension, asked for
//   with `x-modelhub-inline-files`); a client that does not ask gets the plain page.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import type { Agent } from "./support/agents.js";
import { Agent as AgentClass, startHubProcess } from "./support/agents.js";

const ITWIN = "5d1e2f3a-4b5c-4d6e-8f70-8a9b0c1d2e3f";

/** `METHOD /path` of a logged request, ids replaced. */
function shapeOf(method: string, url: string): string {
  const path = url.split("?")[0]!;
  return `${method} ${path
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, ":id")
    .replace(/\/[0-9a-f]{40}/g, "/:cs")
    .replace(/\.\d+\.cs$/, ".:briefcase.cs")}`;
}

describe("requests of a push and of a pull", { timeout: 180_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubProcess>>;
  let alice: Agent;
  let bob: Agent;
  let dir: string;
  const logged: string[] = [];
  let partial = "";
  let finished = false;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "modelhub-request-count-"));
    hub = await startHubProcess({
      logLevel: "info",
      onStdout: (text) => {
        const lines = (partial + text).split("\n");
        partial = lines.pop()!;
        for (const line of lines) {
          if (!line.includes('"request completed"')) continue;
          const { req } = JSON.parse(line) as { req: { method: string; url: string } };
          logged.push(shapeOf(req.method, req.url));
        }
      },
    });
    [alice, bob] = await Promise.all([AgentClass.start(hub.url, "alice"), AgentClass.start(hub.url, "bob")]);
  });
  after(async () => {
    await Promise.all([alice?.stop(), bob?.stop()]);
    await hub?.stop();
    await rm(dir, { recursive: true, force: true });
    assert.ok(finished, "the last step ran");
  });

  /** The requests the hub answered while `work` ran (its log line is written before the answer is sent). */
  async function requestsOf(work: () => Promise<unknown>): Promise<string[]> {
    const from = logged.length;
    await work();
    await new Promise((resolve) => setTimeout(resolve, 200)); // the last lines through the pipe
    return logged.slice(from);
  }

  it("a push is one push request and the release between two pulls; a pull of N small changesets is 1 request", async () => {
    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    const iModelId = await alice.do<string>("createIModel", { user: "alice", iTwinId: ITWIN, name: "count", version0 });
    const common = { iModelId, iTwinId: ITWIN, dir };
    await alice.do("download", { user: "alice", ...common, key: "a" });
    await bob.do("download", { user: "bob", ...common, key: "b" });

    const pushes = 4;
    for (let i = 0; i < pushes; i++) {
      await alice.do("insert", { key: "a", count: 3, labelPrefix: `p${i}` });
      const requests = await requestsOf(() => alice.do("push", { user: "alice", key: "a", description: `push ${i}` }));
      assert.deepEqual(
        requests,
        [
          "GET /imodels/:id/changesets",
          // Create, upload and complete in one request (a modelhub extension; transfers.test.ts has the three).
          "POST /imodels/:id/changesets/push",
          "POST /imodels/:id/locks/release-chunk",
          // iTwin.js 5.x pulls again after its push (pullMergePush); answered by the hub, never from a cache: a
          // host that does not pull then would have its next pull answered stale (two-users.test.ts, 5.1.9 host).
          "GET /imodels/:id/changesets",
        ],
        `push ${i}: its requests`,
      );
    }

    // bob, still at version 0, pulls all of them: the files come with the list.
    const pull = await requestsOf(() => bob.do("pull", { user: "bob", key: "b" }));
    assert.equal((await bob.do<{ changesetIndex: number }>("state", { key: "b" })).changesetIndex, pushes);
    assert.deepEqual(pull, ["GET /imodels/:id/changesets"]);

    // The list's answer: plain without the header (what the official clients get), with the files when asked for,
    // as many whole files as fit in the bytes asked for.
    const list = async (inline?: string) => {
      const response = await fetch(`${hub.url}/imodels/${iModelId}/changesets?$top=100`, {
        headers: {
          authorization: "Bearer bob",
          accept: "application/vnd.bentley.itwin-platform.v2+json",
          prefer: "return=representation",
          ...(inline ? { "x-modelhub-inline-files": inline } : {}),
        },
      });
      assert.equal(response.status, 200);
      return (await response.json()) as {
        changesets: { id: string; fileSize: number }[];
        inlineFiles?: Record<string, string>;
      };
    };
    const plain = await list();
    assert.equal(plain.changesets.length, pushes);
    assert.equal(plain.inlineFiles, undefined);
    const all = await list("1000000");
    assert.deepEqual(
      plain.changesets.map((c) => Buffer.from(all.inlineFiles![c.id]!, "base64").length),
      plain.changesets.map((c) => c.fileSize),
    );
    const two = plain.changesets[0]!.fileSize + plain.changesets[1]!.fileSize;
    assert.deepEqual(Object.keys((await list(String(two))).inlineFiles!), [
      plain.changesets[0]!.id,
      plain.changesets[1]!.id,
    ]);

    // bob pushes on top; alice's next push then pulls his changeset before its own (the answer from her last
    // completion is not taken for the tip any more).
    await bob.do("insert", { key: "b", count: 2, labelPrefix: "bob" });
    await bob.do("push", { user: "bob", key: "b", description: "bob" });
    await alice.do("insert", { key: "a", count: 1, labelPrefix: "after bob" });
    await alice.do("push", { user: "alice", key: "a", description: "after bob" });
    const state = await alice.do<{ changesetIndex: number; count: number }>("state", { key: "a" });
    assert.equal(state.changesetIndex, pushes + 2, "alice's push pulled bob's changeset first");
    finished = true;
  });
});
