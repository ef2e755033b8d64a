// Webhooks across two `modelhub serve` nodes (issue 21): one PostgreSQL schema and one Azurite container, a local
// receiver that verifies signatures, real changesets pushed to two iModels through both nodes. The receiver holds
// one delivery mid-stream without answering; the node holding its lease is killed with SIGKILL; the other node
// delivers the rest: every event arrives, in order per iModel, the only duplicates are the ones in flight at the
// kill, and the outbox ends with every delivery delivered. About 35 s here (two nodes, Azurite, two baselines); it
// fails when node-b's deliverer does not start (checked by hand), and found that no delivery was ever recorded on
// PostgreSQL (a fractional duration refused by BIGINT).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { PgPool } from "../../src/adapters/postgres/pg-database.js";
import { openPgPool } from "../../src/adapters/postgres/pg-database.js";
import type { Azurite } from "@modelhub/test-support/azurite.js";
import { startAzurite } from "@modelhub/test-support/azurite.js";
import type { Fixture } from "@modelhub/test-support/fixtures.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import { eventually, hubAt } from "@modelhub/test-support/hub.js";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { privateSchema } from "@modelhub/test-support/postgres.js";
import type { Received, Receiver } from "../support/webhook-receiver.js";
import { startReceiver } from "../support/webhook-receiver.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ITWIN = "2e4f6a8b-0c1d-4e3f-9a5b-7c6d8e9f0a1b";
const CHANGESETS = 8;
/** The delivery held unanswered (its first attempt): iModel "x"'s changeset 3. */
const HELD = "3";
/** Pushes of later changesets wait for the kill: some events are queued after it. */
const PUSHED_BEFORE_KILL = 5;
/** The nodes' `--job-lease` (s): a delivery's timeout is half of it, so the held one is still in flight at the kill. */
const LEASE_SECONDS = 8;

describe("webhooks on two nodes, the delivering one killed (kill -9) mid-stream", { timeout: 120_000 }, () => {
  let work: string;
  let azurite: Azurite;
  let schema: Awaited<ReturnType<typeof privateSchema>>;
  let pool: PgPool;
  let receiver: Receiver;
  let fixture: Fixture;
  const nodes = new Map<string, HubProcess>();
  let finished = false;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "modelhub-webhooks-two-"));
    const secretFile = join(work, "link.secret");
    await writeFile(secretFile, randomBytes(32).toString("base64"));
    [azurite, schema, receiver, fixture] = await Promise.all([
      startAzurite(),
      privateSchema("webhooks_two_nodes"),
      startReceiver(),
      makeChangesets(join(tmpdir(), "modelhub-fixtures"), CHANGESETS),
    ]);
    pool = openPgPool(schema.url, { max: 1 });
    const args = [
      "--metadata",
      schema.url,
      "--blobs",
      `azure:webhooks-${process.pid}`,
      "--link-secret-file",
      secretFile,
      "--job-lease",
      String(LEASE_SECONDS),
    ];
    // One after the other: the first migrates the fresh schema.
    for (const name of ["node-a", "node-b"])
      nodes.set(
        name,
        await startHubProcess({
          dataDir: join(work, name),
          args: [...args, "--node-id", name],
          env: { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString },
        }),
      );
  });
  after(async () => {
    for (const node of nodes.values()) await node.stop();
    await receiver?.close();
    await pool?.end();
    await schema?.drop();
    await azurite?.stop();
    await rm(work, { recursive: true, force: true });
    assert.ok(finished, "the last step ran");
  });

  it("delivers every event at least once, in order per iModel; the other node sends the rest", async () => {
    const [a, b] = [hubAt(nodes.get("node-a")!.url), hubAt(nodes.get("node-b")!.url)];
    const made = await a.api<Json>("POST", `${a.url}/webhooks`, {
      body: {
        callbackUrl: receiver.url("/two"),
        scope: "iTwin",
        scopeId: ITWIN,
        eventTypes: ["iModels.changesetPushed.v1"],
      },
    });
    assert.equal(made.status, 201, made.text);
    const { id: webhookId, secret } = made.body.webhook as { id: string; secret: string };
    const models = await Promise.all(
      [a, b].map(async (hub, i) => {
        const id = (await createIModelFromFile(hub, fixture.version0Path, { iTwinId: ITWIN, name: `two ${i}` }))
          .id as string;
        return { id, briefcaseId: await acquireBriefcase(hub, id) };
      }),
    );
    const x = models[0]!;
    const isHeld = (r: Received) => r.body.content?.imodelId === x.id && r.body.content?.changesetIndex === HELD;
    receiver.answer((r) => (isHeld(r) && receiver.received.filter(isHeld).length === 1 ? "hang" : 200));

    // Pushes alternate between the nodes still up; the kill waits for the push in flight (an acknowledged push is
    // what must be delivered), and pushes of later changesets wait for the kill.
    let live = [...nodes.keys()];
    let turn = 0;
    let pushing: Promise<unknown> = Promise.resolve();
    let killed!: () => void;
    const kill = new Promise<void>((resolve) => (killed = resolve));
    const pusher = (async () => {
      for (const cs of fixture.changesets) {
        if (cs.index > PUSHED_BEFORE_KILL) await kill;
        for (const m of models) {
          const node = live[turn++ % live.length]!;
          pushing = pushChangeset(hubAt(nodes.get(node)!.url), m.id, m.briefcaseId, cs);
          await pushing;
        }
      }
    })();

    // A failed push fails the test at once (instead of the wait below timing out).
    const held = await Promise.race([
      eventually(async () => receiver.received.find(isHeld), 60_000, "the held delivery"),
      pusher.then(() => new Promise<never>(() => undefined)),
    ]);
    const lease = await pool.query<{ lease_owner: string | null; state: string }>(
      "SELECT lease_owner, state FROM webhook_deliveries WHERE id = $1",
      [held.body.messageId],
    );
    const holder = lease.rows[0]?.lease_owner?.split("/")[0];
    assert.ok(holder && nodes.has(holder), `a node holds the held delivery: ${JSON.stringify(lease.rows)}`);
    const survivor = [...nodes.keys()].find((n) => n !== holder)!;
    live = [survivor];
    await pushing;
    const victim = nodes.get(holder)!;
    await victim.kill();
    nodes.delete(holder);
    const receivedBeforeKill = receiver.received.length;
    const stillHeld = await pool.query<{ lease_owner: string | null; state: string; attempts: number }>(
      "SELECT lease_owner, state, attempts FROM webhook_deliveries WHERE id = $1",
      [held.body.messageId],
    );
    assert.deepEqual(
      { ...stillHeld.rows[0], lease_owner: stillHeld.rows[0]?.lease_owner?.split("/")[0] },
      { lease_owner: holder, state: "pending", attempts: 1 },
      "killed while it still held the delivery (mid-delivery)",
    );
    killed();
    await pusher;

    const expected = models.flatMap((m) => fixture.changesets.map((cs) => `${m.id}/${cs.index}`));
    const keyOf = (r: Received) => `${r.body.content?.imodelId}/${r.body.content?.changesetIndex}`;
    await eventually(
      async () => (expected.every((k) => receiver.received.some((r) => keyOf(r) === k)) ? true : undefined),
      60_000,
      "every event at the receiver",
    );
    // Every delivery recorded as delivered (the survivor's answers are recorded after the receiver saw them).
    const states = await eventually(async () => {
      const r = await pool.query<{ state: string; n: number }>(
        "SELECT state, count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = $1 GROUP BY state",
        [webhookId],
      );
      return r.rows.length === 1 && r.rows[0]!.state === "delivered" ? r.rows : undefined;
    }, 30_000);
    assert.deepEqual(states, [{ state: "delivered", n: expected.length }]);

    const mine = receiver.received.filter((r) => r.path === "/two");
    for (const r of mine) assert.equal(receiver.signed(r, secret), true, `signed: ${r.raw}`);
    for (const m of models) {
      const stream = mine.filter((r) => r.body.content.imodelId === m.id);
      // In order, once each, counting each message at its first arrival.
      const firsts = stream.filter((r, i) => stream.findIndex((s) => s.body.messageId === r.body.messageId) === i);
      assert.deepEqual(
        firsts.map((r) => Number(r.body.content.changesetIndex)),
        fixture.changesets.map((cs) => cs.index),
        `${m === x ? "x" : "y"} in order`,
      );
      // A message arrives again only if its first arrival came before the kill (the killed node never recorded it).
      for (const [i, r] of stream.entries()) {
        const first = stream.findIndex((s) => s.body.messageId === r.body.messageId);
        if (first === i) continue;
        assert.ok(
          receiver.received.indexOf(stream[first]!) < receivedBeforeKill,
          `a duplicate only of a delivery in flight at the kill: ${keyOf(r)}`,
        );
      }
    }
    // The held delivery came again, from the survivor, after the kill; and events pushed after the kill arrived.
    assert.equal(mine.filter(isHeld).length, 2);
    assert.ok(receiver.received.indexOf(mine.filter(isHeld)[1]!) >= receivedBeforeKill);
    assert.ok(
      receiver.received
        .slice(receivedBeforeKill)
        .some((r) => Number(r.body.content.changesetIndex) > PUSHED_BEFORE_KILL),
      "events pushed after the kill were delivered",
    );
    finished = true;
  });
});
