// kill -9 of a `modelhub serve` process at random moments while three iTwin.js clients (one process each, each with
// its own briefcase, locks taken as iTwin.js takes them) insert elements and push, during a large baseline upload,
// during baseline initialisation, during a large changeset upload and during checkpoint jobs; the hub is restarted
// on the same data directory and port each time. After every restart: every push the hub acknowledged is there
// once, at its index, byte-identical; history is linear; nothing half-done is listed. At the end: jobs settled, all
// clients agree, no element twice, no left-over files or processes.
//
// Short run (CI): 10 kills (each kind of moment at least once). Long run: `npm run crash -- 200` or
// `MODELHUB_CRASH_PUSHES=200 node --import tsx --test <this file>` (keeps killing until that many pushes were
// acknowledged). Each client's log (its commands, the hub client's retries, iTwin.js's changeset application) and the
// hub's log are written next to the data; a failed run copies them to test-results/ and prints where.
// run-tests: heavy (a hub killed and restarted ten times under four iTwin.js processes)
import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { keepArtifacts } from "@modelhub/test-support/artifacts.js";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import type { Agent, AgentResult } from "./support/agents.js";
import { Agent as AgentClass } from "./support/agents.js";
import type { AckedPush, LeftoverFile } from "./support/crash-hub.js";
import { CrashableHub, checkHistory, filesUnder, freePort, sleep } from "./support/crash-hub.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "5d2c8f0a-6b1e-4c3d-9a8f-7e6d5c4b3a21";
const argPushes = /^\d+$/.test(process.argv[2] ?? "") ? process.argv[2] : undefined;
/** Acknowledged pushes the long run goes on to; 0 = the short run. */
const TARGET_PUSHES = Number(process.env.MODELHUB_CRASH_PUSHES ?? argPushes ?? 0);
const LONG = TARGET_PUSHES > 0;
/**
 * Kills in the short run's push phase (the baseline phase adds two): one large upload, one long outage, two
 * checkpoint jobs, four at random moments. More kills of the same kinds are the long run's business.
 */
const SHORT_KILLS = 8;
/** Pushes the clients must have made since the last restart before the next kill (history grows between kills). */
const PUSHES_BETWEEN_KILLS = 2;
/** The hub's job lease (config.jobLeaseMs, not a CLI option): a job killed mid-run is claimed again after it. */
const JOB_LEASE_MS = 60_000;
/** The hub's `--sweep-interval`: temp files of dead writers older than twice this must be gone at the end. */
const SWEEP_MS = 2000;
/** Attempts a client gets for one operation across restarts and contention before the run fails. */
const MAX_ATTEMPTS = 60;
/** The large baseline: uploaded as it is (32 MB). */
const LARGE_BYTES = 32 * 1024 * 1024;
/**
 * The large changeset's element data. iTwin.js compresses a changeset before it is pushed (about 0.5 MB/s on this
 * 2-core machine for this random data), and every checkpoint after it applies it: 32 MB cost the short run two
 * minutes. 8 MB (a file of ~6.5 MB) still streams into the hub in many blocks, long enough to be caught mid-way (a
 * partial file of 1 MB is looked for every 5 ms).
 */
const LARGE_CHANGESET_BYTES = 8 * 1024 * 1024;
/** Long enough for a client's own retries to ride out most restarts (~9 s of backoff). */
const AGENT_RETRY = JSON.stringify({ maxRetries: 8, baseDelayMs: 200, maxDelayMs: 1500 });
/**
 * dave's (the large iModel's creator): rides out a restart however slow (~40 s). The first test waits for the
 * baseline job after the kill during the upload; on a loaded machine a restart outlasted AGENT_RETRY's ~10 s, the
 * creation failed on the client and no job ever came.
 */
const CREATOR_RETRY = JSON.stringify({ maxRetries: 16, baseDelayMs: 200, maxDelayMs: 3000 });

const random = (min: number, max: number) => min + Math.random() * (max - min);

interface Client {
  name: string;
  agent: Agent;
  inserted: number;
  rounds: number;
  /** Pushes that succeeded (as the client saw them). */
  pushed: number;
  ownIds: string[];
  /** Failed attempts the test retried (iTwin.js's and the client's own retries not counted). */
  retried: number;
  maxConsecutiveFailures: number;
  errors: Map<string, number>;
  /** Set by the killer: the next round inserts LARGE_CHANGESET_BYTES and pushes them. */
  largeNext: boolean;
  pushingLarge: boolean;
  /** Large pushes that were acknowledged. */
  largePushed: number;
  /** The operation in progress, if any. */
  busy: string | undefined;
  /** Operations that were in progress when the hub was killed and then succeeded (counted per operation). */
  rodeOut: Map<string, number>;
}

/** While a large push is on its way, the other clients wait (small pushes would win every race and starve it). */
const gate = { heldBy: undefined as Client | undefined };

describe(
  "kill -9 of the hub during pushes, uploads, baseline initialisation and checkpoint jobs",
  { timeout: LONG ? undefined : 8 * 60_000 },
  () => {
    let work: string;
    let dataDir: string;
    let hub: CrashableHub;
    const clients: Client[] = [];
    let dave: Agent;
    let iModelId: string;
    let largeCreate: Promise<AgentResult<string>>;
    const acks: AckedPush[] = [];
    const ackCursor = new Map<Client, number>();
    const verifiedOnce = new Set<string>();
    const namedVersions: { name: string; id: string; index: number }[] = [];
    const killKinds: Record<string, number> = {};
    const leftoverSeen: { afterKill: number; files: LeftoverFile[] }[] = [];
    const started = Date.now();
    const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s:`;
    const figures: Record<string, unknown> = {};
    let version0: string;
    /** Tests that ran to their end (the run's logs are kept unless all did). */
    let finished = 0;
    const logs: string[] = [];

    async function collectAcks(): Promise<void> {
      for (const c of clients) {
        const from = ackCursor.get(c) ?? 0;
        const fresh = await c.agent.do<AckedPush[]>("acked", { from });
        ackCursor.set(c, from + fresh.length);
        acks.push(...fresh);
      }
    }

    async function killNow(kind: string, downMs = random(0, 500)): Promise<void> {
      const inFlight = clients.filter((c) => c.busy).map((c) => [c, c.busy!] as const);
      await hub.kill();
      killKinds[kind] = (killKinds[kind] ?? 0) + 1;
      for (const [c, what] of inFlight) c.rodeOut.set(what, (c.rodeOut.get(what) ?? 0) + 1);
      // Clients meet refused connections for a moment, as after a real crash.
      await sleep(downMs);
      await hub.restart();
      const changesets = await verify();
      // Progress on stderr: the long run takes a while.
      process.stderr.write(
        `crash: ${elapsed()} kill ${hub.kills} (${kind}), restarted in ${hub.restartMs.at(-1)} ms; ${acks.length} pushes acknowledged, ${changesets} changesets, checked\n`,
      );
    }

    /** The checks made after every restart, while the clients go on pushing. */
    async function verify(): Promise<number> {
      await collectAcks();
      // Bytes: each acknowledged push the first time, then a 5% sample (all of them once more at the end).
      const report = await checkHistory(
        hub,
        iModelId,
        acks,
        (ack) => !verifiedOnce.has(ack.id) || Math.random() < 0.05,
      );
      for (const ack of acks) verifiedOnce.add(ack.id);
      assert.deepEqual(report.lost, [], `acknowledged pushes missing after restart ${hub.restarts}`);
      assert.deepEqual(report.duplicates, [], `duplicates after restart ${hub.restarts}`);
      assert.deepEqual(report.problems, [], `history after restart ${hub.restarts}`);
      const versions = await hub.listAll(`/${iModelId}/namedversions?$top=1000`, "namedVersions");
      const names = new Set(versions.map((v) => v.name as string));
      assert.deepEqual(
        namedVersions.filter((v) => !names.has(v.name)),
        [],
        "acknowledged named versions missing",
      );
      const iModels = await hub.listAll(`?iTwinId=${ITWIN}&$top=100`, "iModels");
      assert.ok(
        iModels.some((m) => m.id === iModelId && m.state === "initialized"),
        JSON.stringify(iModels),
      );
      leftoverSeen.push({ afterKill: hub.kills, files: leftovers() });
      return report.changesets;
    }

    /**
     * Temp files in the blob store's and the hub's scratch folders (the two iTwin.js workers' caches — checkpoints,
     * change summaries — are not scratch: they live as long as the hub and are never swept).
     */
    function leftovers(): LeftoverFile[] {
      return [
        ...filesUnder(join(dataDir, "blobs", ".tmp")),
        ...filesUnder(join(dataDir, "tmp"), ["worker", "summary-worker"]),
      ];
    }

    /** Runs one client operation until it succeeds, across restarts and contention. */
    async function retrying<T>(c: Client, what: string, op: () => Promise<AgentResult<T>>): Promise<T> {
      let failures = 0;
      for (;;) {
        c.busy = what;
        const r = await op();
        c.busy = undefined;
        if (r.ok) {
          c.maxConsecutiveFailures = Math.max(c.maxConsecutiveFailures, failures);
          return r.result;
        }
        failures++;
        c.retried++;
        const reason = `${what}: ${(r.error.message ?? r.error.name ?? "?").replace(/https?:\/\/[^\s:]+:\d+\S*/g, "<url>").slice(0, 120)}`;
        c.errors.set(reason, (c.errors.get(reason) ?? 0) + 1);
        if (failures >= MAX_ATTEMPTS)
          throw new Error(`${c.name}: ${what} failed ${failures} times in a row; last: ${JSON.stringify(r.error)}`);
        await sleep(150 * Math.min(failures, 6));
      }
    }

    async function clientLoop(c: Client, stopping: () => boolean): Promise<void> {
      while (!stopping()) {
        while (gate.heldBy && gate.heldBy !== c && !stopping()) await sleep(50);
        c.rounds++;
        const label = `${c.name}-${c.rounds}`;
        const large = c.largeNext;
        if (large) {
          c.largeNext = false;
          const n = await retrying(c, "insertLarge", () =>
            c.agent.try<number>("insertLarge", { key: c.name, bytes: LARGE_CHANGESET_BYTES, labelPrefix: label }),
          );
          c.inserted += n;
          c.pushingLarge = true;
        } else {
          const ids = await retrying(c, "insert", () =>
            c.agent.try<string[]>("insert", { key: c.name, count: 3, labelPrefix: label }),
          );
          c.inserted += ids.length;
          c.ownIds.push(ids[0]!);
          // Every third round also edits one of its own pushed elements under an exclusive lock.
          if (c.rounds % 3 === 0 && c.ownIds.length > 1) {
            const id = c.ownIds[Math.floor(Math.random() * (c.ownIds.length - 1))]!;
            await retrying(c, "lock", () => c.agent.try("lock", { key: c.name, level: "exclusive", ids: [id] }));
            await retrying(c, "update", () => c.agent.try("update", { key: c.name, id, label: `${label} edited` }));
          }
        }
        await retrying(c, "push", () =>
          c.agent.try<number>("push", { key: c.name, description: label, mergeRetryDelayMs: 200, mergeRetryCount: 20 }),
        );
        c.pushingLarge = false;
        c.pushed++;
        if (large) c.largePushed++;
        if (large && gate.heldBy === c) gate.heldBy = undefined;
        // Apps push every now and then, not back to back: without a pause, two clients win every race and starve
        // the third (iTwin.js's merge-and-retry never catches up), which is not what this run is about.
        await sleep(random(100, 400));
      }
    }

    /** Names a version at the tip every few seconds (each schedules a checkpoint job). */
    async function namedVersionLoop(stopping: () => boolean): Promise<void> {
      let n = 0;
      while (!stopping()) {
        await sleep(random(2000, 4000));
        if (!hub.up) continue;
        try {
          const latest = await hub.api("GET", `/${iModelId}/changesets?$top=1&$orderBy=index%20desc`);
          const index = (latest.body.changesets?.[0]?.index as number | undefined) ?? 0;
          if (index === 0 || namedVersions.some((v) => v.index === index)) continue;
          const name = `nv-${++n}`;
          const r = await hub.api("POST", `/${iModelId}/namedversions`, { name, changesetIndex: index });
          if (r.status === 201) namedVersions.push({ name, id: r.body.namedVersion.id, index });
        } catch {
          // the hub went down under the request: not acknowledged, nothing to check
        }
      }
    }

    /** Polls until `found` says yes, or gives up after `timeoutMs` (returns false). */
    async function waitFor(found: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<boolean> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (await found()) return true;
        await sleep(everyMs);
      }
      return false;
    }

    const scratchHas = (prefix: string) => async () =>
      (await readdir(join(dataDir, "tmp")).catch(() => [] as string[])).some((n) => n.startsWith(prefix));
    const bigTemp =
      (bytes = 4 * 1024 * 1024) =>
      () =>
        filesUnder(join(dataDir, "blobs", ".tmp")).some((f) => f.bytes >= bytes);

    before(async () => {
      work = await mkdtemp(join(tmpdir(), "modelhub-crash-"));
      dataDir = join(work, "data");
      version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
      const args = ["--checkpoint-every", "2", "--sweep-interval", String(SWEEP_MS / 1000)];
      const hubLog = join(work, "hub.log");
      logs.push(hubLog);
      // info: the hub's access log too (every request and its status), to match the clients' logs against.
      hub = new CrashableHub({
        dataDir,
        port: await freePort(),
        args,
        logLevel: "info",
        onStdout: (text) => appendFileSync(hubLog, text),
      });
      // The clients need only the hub's address to start: they start while it does.
      const [, ...agents] = await Promise.all([
        hub.start(),
        ...["alice", "bob", "carol", "dave"].map((user) => {
          const log = join(work, `agent-${user}.log`);
          logs.push(log);
          return AgentClass.start(hub.url, user, undefined, {
            MODELHUB_AGENT_RETRY: user === "dave" ? CREATOR_RETRY : AGENT_RETRY,
            MODELHUB_AGENT_LOG: log,
          });
        }),
      ]);
      for (const [i, name] of ["alice", "bob", "carol"].entries()) {
        clients.push({
          name,
          agent: agents[i]!,
          inserted: 0,
          rounds: 0,
          pushed: 0,
          ownIds: [],
          retried: 0,
          maxConsecutiveFailures: 0,
          errors: new Map(),
          largeNext: false,
          pushingLarge: false,
          largePushed: 0,
          busy: undefined,
          rodeOut: new Map(),
        });
      }
      dave = agents[3]!;
      iModelId = await clients[0]!.agent.do<string>("createIModel", { iTwinId: ITWIN, name: "crash", version0 });
      await Promise.all(
        clients.map((c) => c.agent.do("download", { iTwinId: ITWIN, iModelId, dir: join(work, c.name), key: c.name })),
      );
      process.stderr.write(`crash: ${elapsed()} hub and 4 clients up, 3 briefcases downloaded\n`);
    });

    after(async () => {
      figures.seconds = Math.round((Date.now() - started) / 1000);
      console.log(`crash figures: ${JSON.stringify(figures)}`);
      await Promise.all([...clients.map((c) => c.agent.stop()), dave?.stop()]);
      await hub?.stop();
      if ((finished < 3 || process.env.MODELHUB_TEST_KEEP_LOGS === "1") && work) await keepArtifacts("crash", logs);
      await rm(work, { recursive: true, force: true });
    });

    it("a large baseline: killed during its upload and during its initialisation job, it is initialised after the restarts", async () => {
      const large = join(work, "large-v0.bim");
      await dave.do("makeLargeVersion0", { path: large, bytes: LARGE_BYTES });
      assert.ok((await stat(large)).size >= LARGE_BYTES * 0.9, "the version 0 is tens of MB");
      largeCreate = dave.try<string>("createIModel", { iTwinId: ITWIN, name: "large", version0: large });

      assert.ok(await waitFor(bigTemp(), 120_000), "the baseline upload was seen in progress");
      await killNow("baseline upload");
      assert.ok(await waitFor(scratchHas("baseline-"), 120_000), "the baseline job was seen running");
      await sleep(random(0, 300));
      await killNow("baseline job");
      // Not awaited here: the restarted hub runs the killed job again; the last test waits for it.
      finished++;
    });

    it(
      LONG
        ? `pushes from 3 clients until ${TARGET_PUSHES} were acknowledged, with kills at random moments`
        : `pushes from 3 clients with ${SHORT_KILLS} kills at random moments`,
      async () => {
        let stop = false;
        const loops = clients.map((c) => clientLoop(c, () => stop));
        const versions = namedVersionLoop(() => stop);
        // A client that cannot recover ends the run at once instead of after the remaining kills.
        let failure: unknown;
        for (const l of loops) l.catch((err: unknown) => (failure ??= err));
        try {
          const pushed = () => clients.reduce((n, c) => n + c.pushed, 0);
          for (let k = 1; LONG ? acks.length < TARGET_PUSHES : k <= SHORT_KILLS; k++) {
            if (failure) throw failure;
            // Each kill comes after new pushes (else a quick run kills a hub that has nothing new to lose).
            const before = pushed();
            await waitFor(() => pushed() >= before + PUSHES_BETWEEN_KILLS || failure !== undefined, 60_000);
            if (k % 8 === 3) {
              // A large changeset: kill while its file streams into the hub.
              const alice = clients[0]!;
              alice.largeNext = true;
              gate.heldBy = alice;
              // Until the file is seen streaming in, or (missed) the large push is done.
              const pushedBefore = alice.largePushed;
              const streaming = bigTemp(1024 * 1024);
              await waitFor(
                () => (alice.pushingLarge && streaming()) || alice.largePushed > pushedBefore || failure !== undefined,
                180_000,
                5,
              );
              const seen = alice.pushingLarge && streaming();
              await killNow(seen ? "large changeset upload" : "large changeset upload (missed)");
            } else if (k % 8 === 6) {
              // Down longer than the clients' own retries last (~9 s of backoff): their operations fail, and the same
              // operation, tried again after the restart, must work.
              await sleep(random(0, 1500));
              await killNow("long outage (12 s)", 12_000);
            } else if (k % 4 === 0) {
              // A checkpoint job (every 2 changesets, and each named version): kill while it runs.
              const seen = await waitFor(scratchHas("checkpoint-"), 15_000);
              await sleep(random(0, 300));
              await killNow(seen ? "checkpoint job" : "checkpoint job (missed)");
            } else {
              await sleep(random(0, 1500));
              await killNow("random");
            }
            await collectAcks();
          }
        } finally {
          stop = true;
          await Promise.allSettled(loops);
          await versions;
        }
        if (failure) throw failure;
        for (const l of loops) await l;
        assert.ok(acks.length > 0);
        finished++;
      },
    );

    it("after the last restart: jobs settle, the clients agree, nothing is lost, doubled, half-done or left behind", async () => {
      // The large iModel: its creation may have failed on the client (the hub stayed down longer than its retries)
      // while the hub kept the iModel; either way it must end up initialised.
      const created = await largeCreate;
      figures.largeCreateOnClient = created.ok ? "ok" : created.error.message;
      const iModels = await hub.listAll(`?iTwinId=${ITWIN}&$top=100`, "iModels");
      const largeId = iModels.find((m) => m.name === "large")?.id as string | undefined;
      assert.ok(largeId, "the large iModel exists");
      if (created.ok) assert.equal(created.result, largeId);

      // Jobs killed mid-run wait for their lease; then nothing may stay scheduled.
      let pending: string[] = [];
      const settled = await waitFor(
        async () => {
          pending = [];
          for (const m of await hub.listAll(`?iTwinId=${ITWIN}&$top=100`, "iModels")) {
            const baseline = (await hub.api("GET", `/${m.id}/baselinefile`)).body.baselineFile as Json;
            if (baseline.state !== "initialized") pending.push(`${m.name}: baseline ${baseline.state}`);
            const checkpoints = (await hub.api("GET", `/${m.id}/checkpoints`)).body.checkpoints as Json[] | undefined;
            for (const c of checkpoints ?? [])
              if (c.state === "scheduled") pending.push(`${m.name}: checkpoint ${c.changesetIndex} scheduled`);
          }
          return pending.length === 0;
        },
        JOB_LEASE_MS + 60_000,
        1000,
      );
      assert.ok(settled, `still pending: ${pending.join(", ")}`);
      const checkpoints = (await hub.api("GET", `/${iModelId}/checkpoints`)).body.checkpoints as Json[];
      figures.checkpoints = {
        successful: checkpoints.filter((c) => c.state === "successful").length,
        failed: checkpoints.filter((c) => c.state === "failed").map((c) => `${c.changesetIndex}: ${c.failureReason}`),
      };

      // Every client pulls to the tip; all see the same elements, each inserted once.
      await collectAcks();
      const tip = (await hub.api("GET", `/${iModelId}/changesets?$top=1&$orderBy=index%20desc`)).body.changesets[0]
        .index as number;
      const inserted = clients.reduce((sum, c) => sum + c.inserted, 0);
      for (const c of clients) {
        const state = await retrying(c, "pull", () =>
          c.agent.try<{ changesetIndex: number; count: number }>("pull", { key: c.name }),
        );
        assert.equal(state.changesetIndex, tip, `${c.name} is at the tip`);
        const labels = await c.agent.do<{ total: number; duplicates: { label: string; count: number }[] }>("labels", {
          key: c.name,
        });
        assert.deepEqual(labels.duplicates, [], `${c.name}: no element twice`);
        assert.equal(labels.total, inserted, `${c.name}: every inserted element is there`);
      }

      // History, every acknowledged push byte for byte, no reservation left over past the tip.
      const report = await checkHistory(hub, iModelId, acks, () => true);
      figures.kills = hub.kills;
      figures.killKinds = killKinds;
      figures.restarts = hub.restarts;
      figures.restartMsMedian = [...hub.restartMs].sort((a, b) => a - b)[Math.floor(hub.restartMs.length / 2)];
      figures.pushesAcknowledged = acks.length;
      figures.changesetsOnHub = report.changesets;
      figures.pushesLost = report.lost.length;
      figures.duplicates = report.duplicates.length;
      figures.namedVersions = namedVersions.length;
      figures.clientRetries = Object.fromEntries(
        clients.map((c) => [
          c.name,
          {
            rodeOutRestart: Object.fromEntries(c.rodeOut),
            retriedByTest: c.retried,
            maxInARow: c.maxConsecutiveFailures,
            errors: Object.fromEntries(c.errors),
          },
        ]),
      );
      assert.deepEqual(report.lost, []);
      assert.deepEqual(report.duplicates, []);
      assert.deepEqual(report.problems, []);
      assert.equal(new Set(acks.map((a) => a.id)).size, acks.length, "no push acknowledged twice");
      const beyond = await hub.api("GET", `/${iModelId}/changesets/${tip + 1}`);
      assert.equal(beyond.status, 404, `a changeset past the tip: ${beyond.text}`);

      // The large iModel's baseline is whole: a briefcase of it has every element of the version 0.
      const largeBriefcase = await dave.do<{ count: number }>("download", {
        iTwinId: ITWIN,
        iModelId: largeId,
        dir: join(work, "dave"),
        key: "large",
      });
      assert.equal(largeBriefcase.count, Math.ceil(LARGE_BYTES / (1024 * 1024)));

      // No worker outlives its killed hub for long (it finishes the request in hand, then exits).
      const orphans = hub.lingeringOrphans(60_000);
      figures.lingeringWorkers = orphans.length;
      assert.deepEqual(orphans, [], "worker processes of killed hubs still running");

      // Left-over temp files: with the periodic sweep none may be older than its interval (with margin).
      await sleep(SWEEP_MS * 2);
      const now = leftovers();
      figures.leftovers = {
        maxSeenAfterRestarts: leftoverSeen.reduce((m, s) => Math.max(m, s.files.length), 0),
        atEnd: now.map((f) => `${f.path.slice(dataDir.length)} ${f.bytes} B ${Math.round(f.ageMs / 1000)} s`),
      };
      const limit = SWEEP_MS * 2 + 5000;
      assert.deepEqual(
        now.filter((f) => f.ageMs > limit),
        [],
        `temp files older than ${limit} ms with --sweep-interval`,
      );
      finished++;
    });
  },
);
