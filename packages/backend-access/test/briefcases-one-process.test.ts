// Several briefcases of one iModel in one process, pulling at the same time. iTwin.js keeps one changeset folder per
// iModel and process and deletes each changeset file once it applied it: with a shared `<id>.cs`, one briefcase
// deleted files another was about to apply ("file not found" mid-merge, after which iTwin.js abandons the
// briefcase's unpushed changes: edits silently lost). The access now hands each download call files of its own.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import type { Agent } from "./support/agents.js";
import { Agent as AgentClass, startHubProcess } from "./support/agents.js";

const ITWIN = "9b2f4d61-3a7c-4e58-b1d0-6c5e4f3a2b19";
const READERS = 4;
const ROUNDS = 4;

describe("several briefcases of one iModel in one process", { timeout: 240_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubProcess>>;
  let writer: Agent;
  let readers: Agent;
  let dir: string;
  let finished = false;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "modelhub-one-process-"));
    hub = await startHubProcess();
    [writer, readers] = await Promise.all([AgentClass.start(hub.url, "alice"), AgentClass.start(hub.url, "bob")]);
  });
  after(async () => {
    await Promise.all([writer?.stop(), readers?.stop()]);
    await hub?.stop();
    await rm(dir, { recursive: true, force: true });
    assert.ok(finished, "the last step ran");
  });

  it("pull concurrently without losing files, and each pushes its own edits afterwards (none lost)", async () => {
    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    const iModelId = await writer.do<string>("createIModel", {
      user: "alice",
      iTwinId: ITWIN,
      name: "one process",
      version0,
    });
    const common = { iModelId, iTwinId: ITWIN, dir: join(dir, "briefcases") };
    await writer.do("download", { user: "alice", ...common, key: "w" });
    const keys = Array.from({ length: READERS }, (_, i) => `r${i}`);
    for (const key of keys) await readers.do("download", { user: "bob", ...common, key });

    let expected = (await writer.do<{ count: number }>("state", { key: "w" })).count;
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < 3; i++) {
        await writer.do("insert", { key: "w", count: 2, labelPrefix: `w${round}.${i}` });
        await writer.do("push", { user: "alice", key: "w", description: `round ${round} push ${i}` });
        expected += 2;
      }
      // Each reader has an unpushed edit of its own, then all pull the same changesets at once.
      await Promise.all(keys.map((key) => readers.do("insert", { key, count: 1, labelPrefix: `${key}.${round}` })));
      const pulls = await Promise.all(
        keys.map((key) => readers.try<{ changesetIndex: number; count: number }>("pull", { user: "bob", key })),
      );
      const failed = pulls.flatMap((p, i) => (p.ok ? [] : [`${keys[i]}: ${JSON.stringify(p.error)}`]));
      assert.deepEqual(failed, [], `round ${round}: every concurrent pull succeeds`);
      for (const pull of pulls)
        if (pull.ok)
          assert.equal(
            pull.result.count,
            expected + 1,
            `round ${round}: the pulled elements plus the reader's own edit`,
          );
      // Their own edits are still there: pushed one after the other, each merging the ones before.
      for (const key of keys) {
        await readers.do("push", { user: "bob", key, description: `${key} round ${round}` });
        expected += 1;
      }
      await writer.do("pull", { user: "alice", key: "w" });
    }
    for (const key of [...keys]) {
      const final = await readers.do<{ count: number }>("pull", { user: "bob", key });
      assert.equal(final.count, expected, `${key} sees every element`);
      const { duplicates } = await readers.do<{ duplicates: unknown[] }>("labels", { key });
      assert.deepEqual(duplicates, []);
    }
    // Nothing handed out is left behind once iTwin.js applied it.
    assert.deepEqual(await readers.do("changesetFiles", { iModelId }), []);
    finished = true;
  });
});
