// The change feed (`GET /imodels/{id}/events`, server-sent events) over real HTTP, with real changeset files: what a
// subscriber sees and in which order, what a reconnecting one gets, refusals, and that nothing is left behind.
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { InProcessEventBus } from "../../src/adapters/events/in-process-event-bus.js";
import type { SequencedEvent } from "../../src/ports/event-bus.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import type { Fixture } from "@modelhub/test-support/fixtures.js";
import { startSecuredHub } from "../support/access.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface SseEvent {
  id?: string;
  event: string;
  data: Json;
}

/** A minimal EventSource over fetch: collects parsed events and heartbeat comments until closed. */
class Stream {
  readonly events: SseEvent[] = [];
  comments = 0;
  status = 0;
  headers = new Headers();
  /** The hub ended the stream (not our close()). */
  endedByHub = false;
  readonly #abort = new AbortController();
  #done: Promise<void> = Promise.resolve();

  static async open(url: string, headers: Record<string, string> = {}): Promise<Stream> {
    const s = new Stream();
    const response = await fetch(url, {
      headers: { accept: "text/event-stream", authorization: "Bearer alice", ...headers },
      signal: s.#abort.signal,
    });
    s.status = response.status;
    s.headers = response.headers;
    if (response.status !== 200) {
      s.events.push({ event: "error", data: (await response.json()) as Json });
      return s;
    }
    s.#done = s.#read(response.body!);
    return s;
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let text = "";
    try {
      for await (const chunk of body) {
        text += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = text.indexOf("\n\n")) >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const fields = new Map<string, string>();
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) this.comments++;
            const colon = line.indexOf(":");
            if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
          }
          const event = fields.get("event");
          if (event)
            this.events.push({ id: fields.get("id"), event, data: JSON.parse(fields.get("data") ?? "null") as Json });
        }
      }
      this.endedByHub = true;
    } catch {
      // aborted by close()
    }
  }

  /** Waits until an event of `type` arrives after the first `from` events; returns it. */
  async next(type: string, from = 0): Promise<SseEvent> {
    return eventually(async () => this.events.slice(from).find((e) => e.event === type), 60_000, `event '${type}'`);
  }

  lastId(): string {
    const id = this.events.filter((e) => e.id !== undefined).at(-1)?.id;
    assert.ok(id, "no event with an id yet");
    return id;
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }
}

async function subscriberGauge(hub: TestHub): Promise<number> {
  const text = await (await fetch(`${hub.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("modelhub_event_subscribers "));
  assert.ok(line, "modelhub_event_subscribers is missing from /metrics");
  return Number(line.split(" ")[1]);
}

describe("change feed: GET /imodels/{id}/events", () => {
  let fixture: Fixture;
  let hub: TestHub;
  let iModelId: string;
  let briefcaseId: number;
  let resumeFrom: string;

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    hub = await startTestHub({ maxStreamsPerUser: 2 }, { maxEventSubscribers: 3, eventHeartbeatMs: 200 });
    iModelId = (await createIModelFromFile(hub, fixture.version0Path, { name: "events" })).id as string;
  });
  after(() => hub?.close());

  it("tells a subscriber of a briefcase, a push, a lock change, a named version and its checkpoint, in order", async () => {
    const feed = await Stream.open(`${hub.baseUrl}/${iModelId}/events`);
    assert.equal(feed.status, 200);
    assert.match(feed.headers.get("content-type") ?? "", /^text\/event-stream/);
    assert.equal(feed.headers.get("cache-control"), "no-cache, no-transform");
    try {
      briefcaseId = await acquireBriefcase(hub, iModelId);
      const cs = fixture.changesets[0]!;
      await pushChangeset(hub, iModelId, briefcaseId, cs);
      // The push's element-level summary (docs/changes.md) comes from a background job: waited for, so the order is fixed.
      await feed.next("changes");
      const locked = await hub.api("PATCH", `/${iModelId}/locks`, {
        body: {
          briefcaseId,
          changesetId: cs.id,
          lockedObjects: [{ lockLevel: "exclusive", objectIds: ["0x20000000001", "0x20000000002"] }],
        },
      });
      assert.equal(locked.status, 200, locked.text);
      const version = await hub.api<Json>("POST", `/${iModelId}/namedversions`, {
        body: { name: "v1", changesetId: cs.id },
      });
      assert.equal(version.status, 201, version.text);
      // The checkpoint job runs iTwin.js in the worker: its last event is the one that takes longest.
      await eventually(
        async () =>
          feed.events.some((e) => e.event === "checkpoint" && e.data.state === "successful") ? true : undefined,
        120_000,
        "checkpoint successful",
      );

      assert.deepEqual(
        feed.events.map((e) => [e.event, e.data]),
        [
          ["briefcase", { briefcaseId, action: "acquired", ownerId: "alice" }],
          [
            "changeset",
            {
              index: 1,
              id: cs.id,
              briefcaseId,
              creatorId: "alice",
              description: cs.description,
              pushDateTime: (await hub.api<Json>("GET", `/${iModelId}/changesets/1`)).body.changeset.pushDateTime,
            },
          ],
          [
            "changes",
            { changesetIndex: 1, changesetId: cs.id, inserted: 5, updated: 0, deleted: 0, schemaChanged: false },
          ],
          ["locks", { briefcaseId, acquired: 2, released: 0 }],
          ["namedVersion", { id: version.body.namedVersion.id, name: "v1", changesetIndex: 1 }],
          ["checkpoint", { changesetIndex: 1, state: "scheduled" }],
          ["checkpoint", { changesetIndex: 1, state: "successful" }],
        ],
      );
      // One sequence per iModel, in the order of the events, all of one epoch.
      const ids = feed.events.map((e) => e.id!.split("-"));
      assert.equal(new Set(ids.map(([epoch]) => epoch)).size, 1);
      assert.deepEqual(
        ids.map(([, seq]) => Number(seq)),
        [1, 2, 3, 4, 5, 6, 7],
      );
      // Heartbeats (every 200 ms in this hub, 15 s by default) arrive while nothing happens.
      const comments = feed.comments;
      await eventually(async () => (feed.comments >= comments + 2 ? true : undefined), 10_000, "heartbeats");
      resumeFrom = feed.lastId();
    } finally {
      await feed.close();
    }
  });

  it("gives a client that reconnects with Last-Event-ID what it missed, then live events", async () => {
    assert.ok(resumeFrom, "the first test did not run");
    // While nobody listens: a push and a release of the locks.
    const cs = fixture.changesets[1]!;
    await pushChangeset(hub, iModelId, briefcaseId, cs);
    await eventually(
      async () =>
        (await hub.api<Json>("GET", `/${iModelId}/changesets/2/changes`)).body.changes.state === "ready"
          ? true
          : undefined,
      60_000,
      "summary of 2",
    );
    const released = await hub.api("PATCH", `/${iModelId}/locks`, {
      body: {
        briefcaseId,
        changesetId: cs.id,
        lockedObjects: [{ lockLevel: "none", objectIds: ["0x20000000001", "0x20000000002"] }],
      },
    });
    assert.equal(released.status, 200, released.text);

    const feed = await Stream.open(`${hub.baseUrl}/${iModelId}/events`, { "last-event-id": resumeFrom });
    try {
      await feed.next("locks");
      assert.deepEqual(
        feed.events.map((e) => [e.event, e.data.index ?? e.data.changesetIndex ?? e.data.released]),
        [
          ["changeset", 2],
          ["changes", 2],
          ["locks", 2],
        ],
      );
      // Then live: a third push arrives on the same stream.
      await pushChangeset(hub, iModelId, briefcaseId, fixture.changesets[2]!);
      const live = await feed.next("changeset", 3);
      assert.equal(live.data.index, 3);
      assert.equal(Number(live.id!.split("-")[1]), Number(resumeFrom.split("-")[1]) + 4);
      const summarized = await feed.next("changes", 4);
      assert.equal(summarized.data.changesetIndex, 3);
    } finally {
      await feed.close();
    }
  });

  it("tells a client whose Last-Event-ID it cannot resume from to reload (reset)", async () => {
    const feed = await Stream.open(`${hub.baseUrl}/${iModelId}/events`, { "last-event-id": "0badcafe-3" });
    try {
      const reset = await feed.next("reset");
      assert.deepEqual(reset.data, { reason: "unknownEpoch" });
      assert.equal(feed.events.length, 1);
      // Its id is the iModel's latest, so reconnecting after the reload misses nothing either.
      assert.equal(Number(reset.id!.split("-")[1]), Number(resumeFrom.split("-")[1]) + 5);
    } finally {
      await feed.close();
    }
  });

  it("refuses non-stream clients, unknown iModels and subscribers past the limits (per user, in all) in the API's error shape", async () => {
    const json = await hub.api("GET", `/${iModelId}/events`);
    assert.equal(json.status, 400);
    assert.deepEqual(json.body, {
      error: {
        code: "BadRequest",
        message: "This route answers server-sent events: send 'Accept: text/event-stream'.",
      },
    });

    const missing = await Stream.open(`${hub.baseUrl}/00000000-0000-4000-8000-000000000000/events`);
    assert.equal(missing.status, 404);
    assert.equal(missing.events[0]!.data.error.code, "iModelNotFound");

    const first = await Stream.open(`${hub.baseUrl}/${iModelId}/events`);
    const second = await Stream.open(`${hub.baseUrl}/${iModelId}/events`);
    let bobs: Stream | undefined;
    try {
      assert.equal(first.status, 200);
      assert.equal(second.status, 200);
      // alice holds her 2 (--max-streams-per-user): a third of hers is refused, while bob still finds a slot.
      const third = await Stream.open(`${hub.baseUrl}/${iModelId}/events`);
      assert.equal(third.status, 429);
      assert.equal(third.headers.get("retry-after"), "5");
      assert.deepEqual(third.events[0]!.data, {
        error: {
          code: "TooManyRequests",
          message: "You already follow 2 change feeds on this hub (--max-streams-per-user); close one or retry later.",
        },
      });
      bobs = await Stream.open(`${hub.baseUrl}/${iModelId}/events`, { authorization: "Bearer bob" });
      assert.equal(bobs.status, 200);
      // The process's 3 slots are all taken now: carol is refused by the hub-wide limit.
      const carols = await Stream.open(`${hub.baseUrl}/${iModelId}/events`, { authorization: "Bearer carol" });
      assert.equal(carols.status, 503);
      assert.equal(carols.headers.get("retry-after"), "5");
      const { code, message } = carols.events[0]!.data.error as Json;
      assert.deepEqual(
        { code, message },
        { code: "ServiceUnavailable", message: "The hub already serves 3 event streams; retry later." },
      );
      assert.equal(await subscriberGauge(hub), 3);
    } finally {
      await first.close();
      await second.close();
      await bobs?.close();
    }
    // alice's streams are counted down as they close: she may follow again.
    await eventually(
      async () => ((await subscriberGauge(hub)) === 0 ? true : undefined),
      10_000,
      "no subscribers left",
    );
    const again = await Stream.open(`${hub.baseUrl}/${iModelId}/events`);
    assert.equal(again.status, 200);
    await again.close();
  });

  it("forgets clients that went away (the subscriber gauge in /metrics returns to 0)", async () => {
    // The clients of the test before have gone away too (their sockets close asynchronously on the hub's side).
    await eventually(
      async () => ((await subscriberGauge(hub)) === 0 ? true : undefined),
      10_000,
      "no subscribers left",
    );
    const feeds = [
      await Stream.open(`${hub.baseUrl}/${iModelId}/events`),
      await Stream.open(`${hub.baseUrl}/${iModelId}/events`),
    ];

    assert.deepEqual(
      feeds.map((f) => f.status),
      [200, 200],
    );
    assert.equal(await subscriberGauge(hub), 2);
    for (const f of feeds) await f.close();
    await eventually(
      async () => ((await subscriberGauge(hub)) === 0 ? true : undefined),
      10_000,
      "subscribers back to 0",
    );
    // And the slots are free again.
    const again = await Stream.open(`${hub.baseUrl}/${iModelId}/events`);
    assert.equal(again.status, 200);
    await again.close();
    await eventually(
      async () => ((await subscriberGauge(hub)) === 0 ? true : undefined),
      10_000,
      "subscribers back to 0",
    );
  });
});

describe("change feed: permissions (tokens mode)", () => {
  it("answers a member with imodels_webview and hides the iModel from a user without any permission", async () => {
    const s = await startSecuredHub(["alice", "nobody"]);
    try {
      const created = await s.as("alice").api<Json>("POST", "", {
        body: { iTwinId: "22222222-2222-4222-8222-222222222222", name: "secured", baselineFile: { size: 1000 } },
      });
      assert.equal(created.status, 201, created.text);
      const url = `${s.hub.baseUrl}/${created.body.iModel.id}/events`;
      const refused = await Stream.open(url, { authorization: `Bearer ${s.token("nobody")}` });
      assert.equal(refused.status, 404);
      assert.deepEqual(refused.events[0]!.data, {
        error: { code: "iModelNotFound", message: "Requested iModel is not available." },
      });
      const anonymous = await Stream.open(url, { authorization: "" });
      assert.equal(anonymous.status, 401);
      const allowed = await Stream.open(url, { authorization: `Bearer ${s.token("alice")}` });
      assert.equal(allowed.status, 200);
      // Closing the hub ends open streams instead of waiting for their clients to leave.
      await s.close();
      await eventually(async () => (allowed.endedByHub ? true : undefined), 10_000, "the stream to end");
      await allowed.close();
    } finally {
      await s.close();
    }
  });
});

describe("change feed: the in-process bus's replay buffer", () => {
  it("replays what is still buffered and tells a client that fell further behind to reload", () => {
    const bus = new InProcessEventBus({ bufferSize: 2, maxSubscribers: 5 });
    for (let i = 1; i <= 4; i++)
      bus.publish("m", { type: "checkpoint", data: { changesetIndex: i, state: "scheduled" } });
    const seen: SequencedEvent[] = [];
    const resumed = bus.subscribe("m", { epoch: bus.epoch, seq: 2 }, (e) => seen.push(e));
    assert.deepEqual(Array.isArray(resumed!.missed) ? resumed!.missed.map((e) => e.seq) : resumed!.missed, [3, 4]);
    const behind = bus.subscribe("m", { epoch: bus.epoch, seq: 1 }, () => undefined);
    assert.deepEqual(behind!.missed, { reason: "behind" });
    assert.equal(behind!.tip, 4);
    bus.publish("m", { type: "locks", data: { briefcaseId: 2, acquired: 1, released: 0 } });
    assert.deepEqual(
      seen.map((e) => e.seq),
      [5],
    );
    resumed!.close();
    resumed!.close(); // idempotent
    behind!.close();
    assert.equal(bus.subscriberCount(), 0);
  });
});
