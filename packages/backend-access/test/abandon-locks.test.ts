// Discarding changes must not make other users pull (iTwin.js 5.9, PR #9045: `abandonLocks` / `abandonAllLocks`):
// iTwin.js users in separate processes against a real modelhub process, from every iTwin.js host the project tests.
// A host whose LockControl has `abandonAllLocks` discards through it; older hosts call the hub access's methods the
// way iTwin.js ≥ 5.9 calls them (a BriefcaseIdArg, no changeset; each lock's previous state).
// run-tests: heavy (a hub and six iTwin.js processes, one host after the other, for about 45 s)
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import type { AgentResult } from "./support/agents.js";
import { Agent, startHubProcess } from "./support/agents.js";
import { testedHosts } from "./support/hosts.js";

const ITWIN = "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const SHARED = 1; // LockState.Shared

/** What iTwin.js code sees of a lock request: granted, or the error number and message. */
const outcome = (r: AgentResult) => (r.ok ? "granted" : { errorNumber: r.error.errorNumber, message: r.error.message });

describe("discarding changes gives locks back without making anyone pull", () => {
  let version0: string;
  let work: string;
  let hub: HubProcess;
  before(async () => {
    [hub, version0, work] = await Promise.all([
      startHubProcess(),
      makeVersion0(join(tmpdir(), "modelhub-fixtures")),
      mkdtemp(join(tmpdir(), "modelhub-abandon-")),
    ]);
  });
  after(async () => {
    await hub?.stop();
    await rm(work, { recursive: true, force: true });
  });

  for (const host of testedHosts()) {
    it(`iTwin.js ${host.label}: bob, a changeset behind, locks what alice locked and discarded; a push still marks what it released`, async () => {
      const [alice, bob] = await Promise.all([
        Agent.start(hub.url, "alice", host.root),
        Agent.start(hub.url, "bob", host.root),
      ]);
      try {
        assert.equal(await alice.do("hostVersion"), host.version);
        const iModelId = await alice.do<string>("createIModel", {
          iTwinId: ITWIN,
          name: `abandon ${host.label}`,
          version0,
        });
        const common = { iModelId, iTwinId: ITWIN, dir: join(work, host.label.replace(/\W+/g, "-")) };
        await alice.do("download", { ...common, key: "a" });
        await bob.do("download", { ...common, key: "b" });
        const ids = await alice.do<string[]>("insert", { key: "a", count: 3 });
        await alice.do("push", { key: "a", description: "three" });
        assert.deepEqual(await bob.do("pull", { key: "b" }), { changesetIndex: 1, count: 3 });
        // alice moves on to changeset 2 (other elements); bob stays at 1.
        await alice.do("insert", { key: "a", count: 1 });
        assert.equal(await alice.do("push", { key: "a", description: "one more" }), 2);

        // alice locks ids[0], edits it, discards the edit and her locks.
        const how = await alice.do<string>("editAndDiscard", { key: "a", id: ids[0] });
        assert.ok(["LockControl.abandonAllLocks", "BackendHubAccess.abandonAllLocks"].includes(how), how);
        assert.deepEqual(await alice.do("heldLocks", { key: "a" }), []);
        // Nothing was pushed, so bob (at 1) needs no pull to edit it.
        assert.equal(
          outcome(await bob.try("lock", { key: "b", level: "exclusive", ids: [ids[0]] })),
          "granted",
          "bob was told to pull for changes nobody pushed",
        );

        // An exclusive lock that was an upgrade steps back to shared: bob may share it, not take it.
        await alice.do("lock", { key: "a", level: "shared", ids: [ids[2]] });
        await alice.do("lock", { key: "a", level: "exclusive", ids: [ids[2]] });
        await alice.do("abandonLocks", { key: "a", previous: { [ids[2]!]: "shared" } });
        assert.deepEqual(
          (await alice.do<{ id: string; state: number }[]>("heldLocks", { key: "a" })).filter((l) => l.id === ids[2]),
          [{ id: ids[2], state: SHARED }],
        );
        assert.deepEqual(outcome(await bob.try("lock", { key: "b", level: "exclusive", ids: [ids[2]] })), {
          errorNumber: 102428,
          message: "shared lock is held",
        });
        assert.equal(outcome(await bob.try("lock", { key: "b", level: "shared", ids: [ids[2]] })), "granted");

        // The rule is live: a push (here one with nothing to push) releases with alice's changeset, 2, and bob at 1
        // must pull before he takes that lock.
        await alice.do("lock", { key: "a", level: "exclusive", ids: [ids[1]] });
        await alice.do("push", { key: "a", description: "nothing" });
        assert.deepEqual(outcome(await bob.try("lock", { key: "b", level: "exclusive", ids: [ids[1]] })), {
          errorNumber: 102416,
          message: "pull is required to obtain lock",
        });
        await alice.do("close", { key: "a" });
        await bob.do("close", { key: "b" });
      } finally {
        await alice.stop();
        await bob.stop();
      }
    });
  }
});
