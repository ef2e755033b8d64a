// A push whose completion the hub committed while the answer was lost, followed by an outage longer than the
// client's retries (what crash.test.ts once met: the hub killed mid-completion and down for 12 s). If the client
// then reports the push as failed, iTwin.js abandons the changeset and keeps the edits as pending txns while the hub
// has them as the next changeset: every later pull applies the briefcase's own changeset onto its own pending txns
// and fails with "PRIMARY KEY INSERT CONFLICT - rejecting this changeset", for good. The client must learn the
// push's outcome before it answers iTwin.js.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { keepArtifacts } from "@modelhub/test-support/artifacts.js";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import type { TestHub } from "@modelhub/test-support/hub.js";
import { startTestHub } from "@modelhub/test-support/hub.js";
import type { Agent } from "./support/agents.js";
import { Agent as AgentClass } from "./support/agents.js";
import { FaultProxy } from "./support/fault-proxy.js";

const ITWIN = "3c4e5f60-7182-4a3b-9c5d-6e7f8091a2b3";
/**
 * The request whose answer is lost: the completion of a push in three requests, or the push in one request (the
 * default for small files, a modelhub extension).
 */
const FLOWS = [
  { name: "in one request", key: "1", options: {}, committing: { method: "POST", path: /\/changesets\/push$/ } },
  {
    name: "in three requests",
    key: "3",
    options: { oneRequestPushBytes: 0 },
    committing: { method: "PATCH", path: /\/changesets\/[0-9a-f]{40}$/ },
  },
] as const;
/** The agent's retries: 2 of ≤ 100 ms, far shorter than the outage below. */
const RETRY = JSON.stringify({ maxRetries: 2, baseDelayMs: 50, maxDelayMs: 100 });

for (const flow of FLOWS)
  describe(
    `a push ${flow.name} whose committing answer is lost, then an outage longer than the client's retries`,
    { timeout: 120_000 },
    () => {
      let hub: TestHub;
      let proxy: FaultProxy;
      let agent: Agent;
      let work: string;
      let iModelId: string;
      let finished = false;

      before(async () => {
        work = await mkdtemp(join(tmpdir(), "modelhub-lost-push-"));
        [hub, proxy] = await Promise.all([startTestHub(), FaultProxy.start()]);
        proxy.forwardTo(hub.url);
        agent = await AgentClass.start(proxy.url, "alice", undefined, {
          MODELHUB_AGENT_RETRY: RETRY,
          MODELHUB_AGENT_LOG: join(work, "agent.log"),
          MODELHUB_AGENT_ACCESS_OPTIONS: JSON.stringify(flow.options),
        });
        const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
        iModelId = await agent.do<string>("createIModel", { iTwinId: ITWIN, name: "lost answer", version0 });
        await agent.do("download", { iTwinId: ITWIN, iModelId, dir: join(work, "briefcases"), key: "a" });
      });
      after(async () => {
        await agent?.stop();
        await proxy?.close();
        await hub?.close();
        // The agent's log says what iTwin.js and the client did (retries, changeset application, conflicts).
        if (work && (!finished || process.env.MODELHUB_TEST_KEEP_LOGS === "1"))
          await keepArtifacts(`lost-push-answer-${flow.key}`, [join(work, "agent.log")]);
        await rm(work, { recursive: true, force: true });
      });

      it("the push succeeds once the hub answers again, and the briefcase goes on pushing and pulling", async () => {
        await agent.do("insert", { key: "a", count: 3, labelPrefix: "first" });
        // The hub commits the completion, the answer is lost; then 3 s of a hub that cannot be reached (every request
        // answered 503 by the proxy without reaching it: the client's 2 retries are spent within 200 ms).
        let outage: NodeJS.Timeout | undefined;
        proxy.add({
          ...flow.committing,
          times: 1,
          kind: { dropResponse: true },
          then: () => {
            proxy.add({ path: /^\//, times: Number.MAX_SAFE_INTEGER, kind: { reply: 503 } });
            outage = setTimeout(() => proxy.reset(), 3000);
          },
        });
        try {
          const pushed = await agent.try<number>("push", { key: "a", description: "first" });
          assert.ok(outage, "the committing request's answer was lost");
          assert.ok(pushed.ok, `the push whose answer was lost: ${JSON.stringify(!pushed.ok && pushed.error)}`);
          assert.equal(pushed.result, 1);
        } finally {
          clearTimeout(outage);
          proxy.reset();
        }
        const latest = await hub.api<{ changesets: { index: number; briefcaseId: number }[] }>(
          "GET",
          `/${iModelId}/changesets`,
        );
        assert.deepEqual(
          latest.body.changesets.map((c) => c.index),
          [1],
          "the hub has the changeset once",
        );
        assert.deepEqual(await agent.do("state", { key: "a" }), { changesetIndex: 1, count: 3 });

        // The briefcase is not stuck: it pushes again and pulls.
        await agent.do("insert", { key: "a", count: 2, labelPrefix: "second" });
        assert.equal(await agent.do<number>("push", { key: "a", description: "second" }), 2);
        assert.deepEqual(await agent.do("pull", { key: "a" }), { changesetIndex: 2, count: 5 });
        assert.deepEqual((await agent.do<{ duplicates: unknown[] }>("labels", { key: "a" })).duplicates, []);
        finished = true;
      });
    },
  );
