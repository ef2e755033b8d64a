// Two iTwin.js users, unmodified BriefcaseDb code, against HubMock and against a real modelhub process over
// loopback (each user in its own process there), from the workspace's iTwin.js and from each separate host
// (test/support/hosts.ts: 4.11.7, 5.1.9). The scenario records what each step observed; every run must give
// HubMock's record.
// run-tests: heavy (a hub and nine iTwin.js processes, two or three at a time, for about a minute and a half)
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import type { Agent, AgentError } from "./support/agents.js";
import { Agent as AgentClass, startHubProcess } from "./support/agents.js";
import { separateHosts } from "./support/hosts.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ITWIN = "3c4b5a19-7d0e-4f5a-9a7e-2b1c0d9e8f70";

/** Only what iTwin.js code acts on: the error number, the message, and which briefcase holds a lock. */
const outcome = (e: AgentError) => ({
  errorNumber: e.errorNumber,
  message: e.message,
  ...(e.briefcaseId !== undefined ? { briefcaseId: e.briefcaseId } : {}),
});

async function scenario(alice: Agent, bob: Agent, dir: string, version0: string): Promise<Json> {
  const record: Json = {};
  const A = { user: "alice" };
  const B = { user: "bob" };

  const iModelId = await alice.do<string>("createIModel", { ...A, iTwinId: ITWIN, name: "scenario", version0 });
  const common = { iModelId, iTwinId: ITWIN, dir };
  record.download = [
    await alice.do("download", { ...A, ...common, key: "a" }),
    await bob.do("download", { ...B, ...common, key: "b" }),
  ];

  // alice adds 5 elements and pushes; bob pulls them.
  const first = await alice.do<string[]>("insert", { key: "a", count: 5 });
  record.push1 = await alice.do("push", { ...A, key: "a", description: "five elements" });
  record.bobPull1 = await bob.do("pull", { ...B, key: "b" });

  // Exclusive locks: a conflict names the holder.
  await alice.do("lock", { key: "a", level: "exclusive", ids: [first[0]] });
  const conflict = await bob.try("lock", { key: "b", level: "exclusive", ids: [first[0]] });
  record.lockConflict = conflict.ok ? "granted" : outcome(conflict.error);

  // alice edits it and pushes (releasing her locks at changeset 2); bob, still at 1, must pull first.
  await alice.do("update", { key: "a", id: first[0], label: "edited by alice" });
  record.push2 = await alice.do("push", { ...A, key: "a", description: "edit" });
  const stale = await bob.try("lock", { key: "b", level: "exclusive", ids: [first[0]] });
  record.pullRequired = stale.ok ? "granted" : outcome(stale.error);
  record.bobPull2 = await bob.do("pull", { ...B, key: "b" });
  record.lockAfterPull = (await bob.try("lock", { key: "b", level: "exclusive", ids: [first[0]] })).ok;

  // Both edit; bob pushes after alice without pulling first: his push pulls and merges alice's changeset.
  await alice.do("insert", { key: "a", count: 3 });
  await bob.do("insert", { key: "b", count: 4 });
  await bob.do("update", { key: "b", id: first[0], label: "edited by bob" });
  record.pushes = [
    await alice.do("push", { ...A, key: "a", description: "three more" }),
    await bob.do("push", { ...B, key: "b", description: "four more" }),
  ];
  record.afterBoth = [await alice.do("pull", { ...A, key: "a" }), await bob.do("state", { key: "b" })];

  // Changeset queries and downloads.
  const all = await alice.do<Json[]>("hubCall", {
    ...A,
    method: "queryChangesets",
    args: { iModelId, range: { first: 1 } },
  });
  record.changesets = all.map((c) => ({
    index: c.index,
    parentIsPrevious: c.parentId === (all[c.index - 2]?.id ?? ""),
    hasSize: c.size > 0,
  }));
  record.latest = (await alice.do<Json>("hubCall", { ...A, method: "getLatestChangeset", args: { iModelId } })).index;
  record.byIndex =
    (await alice.do<Json>("hubCall", { ...A, method: "queryChangeset", args: { iModelId, changeset: { index: 2 } } }))
      .id === all[1]!.id;
  record.byId = (
    await alice.do<Json>("hubCall", {
      ...A,
      method: "queryChangeset",
      args: { iModelId, changeset: { id: all[2]!.id } },
    })
  ).index;
  record.range = (
    await alice.do<Json[]>("hubCall", {
      ...A,
      method: "downloadChangesets",
      args: { iModelId, range: { first: 2, end: 3 }, targetDir: "" },
    })
  ).map((c) => c.index);
  record.single = (
    await alice.do<Json>("hubCall", {
      ...A,
      method: "downloadChangeset",
      args: { iModelId, changeset: { index: 3 }, targetDir: "" },
    })
  ).index;
  const missing = await alice.try("hubCall", {
    ...A,
    method: "queryChangeset",
    args: { iModelId, changeset: { index: 99 } },
  });
  record.missingChangesetFails = !missing.ok;

  // Named versions and versions.
  await alice.do("nameVersion", { iModelId, name: "v2", index: 2 });
  record.named = (
    await alice.do<Json>("hubCall", {
      ...A,
      method: "getChangesetFromNamedVersion",
      args: { iModelId, versionName: "v2" },
    })
  ).index;
  record.versions = [
    (
      await alice.do<Json>("hubCall", {
        ...A,
        method: "getChangesetFromVersion",
        args: { iModelId, version: { first: true } },
      })
    ).index,
    (
      await alice.do<Json>("hubCall", {
        ...A,
        method: "getChangesetFromVersion",
        args: { iModelId, version: { asOf: all[2]!.id } },
      })
    ).index,
    (
      await alice.do<Json>("hubCall", {
        ...A,
        method: "getChangesetFromVersion",
        args: { iModelId, version: { named: "v2" } },
      })
    ).index,
    (await alice.do<Json>("hubCall", { ...A, method: "getChangesetFromVersion", args: { iModelId, version: {} } }))
      .index,
  ];
  const noVersion = await alice.try("hubCall", {
    ...A,
    method: "getChangesetFromNamedVersion",
    args: { iModelId, versionName: "nope" },
  });
  record.missingVersionFails = !noVersion.ok;

  // A briefcase at an older version.
  record.older = await alice.do("download", { ...A, ...common, key: "old", asOf: all[1]!.id });

  // Briefcase ids, release, delete.
  record.myIdsBefore = (
    await alice.do<number[]>("hubCall", { ...A, method: "getMyBriefcaseIds", args: { iModelId } })
  ).sort();
  await alice.do("close", { ...A, key: "old", release: true });
  record.myIdsAfter = (
    await alice.do<number[]>("hubCall", { ...A, method: "getMyBriefcaseIds", args: { iModelId } })
  ).sort();
  await alice.do("close", { ...A, key: "a" });
  await bob.do("close", { ...B, key: "b" });
  record.byName =
    (await alice.do("hubCall", {
      ...A,
      method: "queryIModelByName",
      args: { iTwinId: ITWIN, iModelName: "scenario" },
    })) === iModelId;
  await alice.do("hubCall", { ...A, method: "deleteIModel", args: { iModelId, iTwinId: ITWIN } });
  return record;
}

describe("two iTwin.js users: HubMock and modelhub give the same results", () => {
  let version0: string;
  let work: string;
  const records: Record<string, Json> = {};

  /** One hub process for the modelhub tests (each works on iModels of its own); it starts while HubMock runs. */
  let hubStarting: Promise<HubProcess>;
  before(async () => {
    hubStarting = startHubProcess();
    hubStarting.catch(() => undefined); // awaited (and reported) by the tests that use it
    version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    work = await mkdtemp(join(tmpdir(), "modelhub-scenario-"));
  });
  after(async () => {
    await (await hubStarting.catch(() => undefined))?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("runs against HubMock (both users in one process, as HubMock requires)", async () => {
    const agent = await AgentClass.start("hubmock");
    try {
      records.hubmock = await scenario(agent, agent, join(work, "hubmock"), version0);
    } finally {
      await agent.stop();
    }
  });

  it("runs against a modelhub process on loopback, each user in a separate process", async () => {
    const hub = await hubStarting;
    const [alice, bob] = await Promise.all([AgentClass.start(hub.url, "alice"), AgentClass.start(hub.url, "bob")]);
    try {
      records.modelhub = await scenario(alice, bob, join(work, "modelhub"), version0);
    } finally {
      await alice.stop();
      await bob.stop();
    }
  });

  it("two writers pushing at the same moment, in two processes: the second pulls, merges and pushes by itself", async () => {
    const hub = await hubStarting;
    const [alice, bob] = await Promise.all([AgentClass.start(hub.url, "alice"), AgentClass.start(hub.url, "bob")]);
    try {
      const iModelId = await alice.do<string>("createIModel", {
        user: "alice",
        iTwinId: ITWIN,
        name: "race",
        version0,
      });
      const common = { iModelId, iTwinId: ITWIN, dir: join(work, "race") };
      await alice.do("download", { ...common, key: "a" });
      await bob.do("download", { ...common, key: "b" });
      for (let round = 0; round < 3; round++) {
        await alice.do("insert", { key: "a", count: 2 });
        await bob.do("insert", { key: "b", count: 3 });
        const results = await Promise.all([
          alice.try<number>("push", { key: "a" }),
          bob.try<number>("push", { key: "b" }),
        ]);
        assert.deepEqual(
          results.map((r) => r.ok),
          [true, true],
          JSON.stringify(results),
        );
        assert.deepEqual(results.map((r) => (r.ok ? r.result : 0)).sort(), [2 * round + 1, 2 * round + 2]);
      }
      const states = [await alice.do<Json>("pull", { key: "a" }), await bob.do<Json>("pull", { key: "b" })];
      assert.deepEqual(states, [
        { changesetIndex: 6, count: 15 },
        { changesetIndex: 6, count: 15 },
      ]);
    } finally {
      await alice.stop();
      await bob.stop();
    }
  });

  // The other iTwin.js versions the project supports, each an app of its own (scripts/install-hosts.mjs); 4.x
  // downloads checkpoints through downloadV1Checkpoint.
  for (const host of separateHosts()) {
    it(`runs against modelhub from iTwin.js ${host.label} hosts, each user in a separate process`, async () => {
      const hub = await hubStarting;
      const [alice, bob] = await Promise.all([
        AgentClass.start(hub.url, "alice", host.root),
        AgentClass.start(hub.url, "bob", host.root),
      ]);
      try {
        assert.equal(await alice.do("hostVersion"), host.version);
        records[`modelhub from ${host.label}`] = await scenario(
          alice,
          bob,
          join(work, `modelhub-${host.label}`),
          version0,
        );
      } finally {
        await alice.stop();
        await bob.stop();
      }
    });
  }

  it("the two records are identical, and say what iTwin.js users expect", () => {
    const r = records.modelhub!;
    assert.deepEqual(r, records.hubmock, "modelhub differs from HubMock");
    for (const host of separateHosts())
      assert.deepEqual(
        records[`modelhub from ${host.label}`],
        records.hubmock,
        `modelhub from an iTwin.js ${host.label} host differs from HubMock`,
      );
    assert.deepEqual(
      r.download.map((d: Json) => d.briefcaseId),
      [2, 3],
    );
    assert.deepEqual(r.lockConflict, {
      errorNumber: 102428,
      message: "exclusive lock is already held",
      briefcaseId: 2,
    });
    assert.deepEqual(r.pullRequired, { errorNumber: 102416, message: "pull is required to obtain lock" });
    assert.equal(r.lockAfterPull, true);
    assert.deepEqual(r.pushes, [3, 4]);
    assert.deepEqual(r.afterBoth, [
      { changesetIndex: 4, count: 12 },
      { changesetIndex: 4, count: 12 },
    ]);
    assert.equal(r.latest, 4);
    assert.deepEqual(r.versions, [0, 3, 2, 4]);
    assert.deepEqual(r.older, { briefcaseId: 4, changesetIndex: 2, count: 5 });
    assert.deepEqual(r.myIdsBefore, [2, 4]);
    assert.deepEqual(r.myIdsAfter, [2]);
  });
});
