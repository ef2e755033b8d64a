import { createHash, randomBytes } from "node:crypto";
import pg from "pg";
import type { EventFeed, EventPublisher, HubEvent, SequencedEvent, Subscription } from "../../ports/event-bus.js";
import type { InProcessEventBusOptions } from "../events/in-process-event-bus.js";
import { InProcessEventBus } from "../events/in-process-event-bus.js";
import type { PgPool } from "./pg-database.js";

/** NOTIFY payloads must stay under 8000 bytes; an event larger than this travels as its id and is read from hub_events. */
const MAX_INLINE_NOTIFY_BYTES = 7000;
/** How long the listening connection waits before reconnecting after it was lost. */
const RELISTEN_DELAY_MS = 500;

export interface PgEventBusOptions extends Omit<InProcessEventBusOptions, "epoch"> {
  /** Told about what could not be done in the background: a publish that failed, a lost listening connection. */
  onError?: (err: Error) => void;
}

/** What a notification carries: the iModel, the event's seq, and the event itself when it fits. */
interface Notice {
  i: string;
  s: number;
  e?: HubEvent;
}

/**
 * The change feed across hub nodes on one PostgreSQL database.
 *
 * `publish` assigns the iModel's next seq in the database (a row of `event_seqs`, whose lock orders one iModel's
 * events by commit), stores the event in `hub_events` (the latest `bufferSize` per iModel) and NOTIFYs every node in
 * the same statement, so the notification goes out only if the event committed. Each node LISTENs on one connection
 * of its own and feeds what arrives, in order, to a local {@link InProcessEventBus} that keeps the per-iModel buffers
 * and the subscribers; a node thus also hears its own events through PostgreSQL, and every node numbers them alike.
 * The epoch lives in the database, so a client may resume on another node.
 *
 * Gaps: an event too large for a NOTIFY payload, or missed while the listening connection was down, is read from
 * `hub_events`. A node knows an iModel's events from the first one it heard: a client resuming from before that gets
 * `behind` (it reloads), as after a restart of the single-process bus.
 */
export class PgEventBus implements EventPublisher, EventFeed {
  readonly #pool: PgPool;
  readonly #local: InProcessEventBus;
  readonly #channel: string;
  readonly #onError: (err: Error) => void;
  /** Publishes of this node go out one after another, so one request's events keep their order. */
  #publishing: Promise<unknown> = Promise.resolve();
  /** Notifications are handled one after another: gap reads must not reorder delivery. */
  #receiving: Promise<unknown> = Promise.resolve();
  #listener: pg.Client | undefined;
  #listenerPid: number | undefined;
  #closed = false;
  #relistenTimer: NodeJS.Timeout | undefined;

  private constructor(pool: PgPool, epoch: string, channel: string, options: PgEventBusOptions) {
    this.#pool = pool;
    this.#channel = channel;
    this.#onError = options.onError ?? (() => undefined);
    this.#local = new InProcessEventBus({
      epoch,
      ...(options.bufferSize !== undefined ? { bufferSize: options.bufferSize } : {}),
      ...(options.maxSubscribers !== undefined ? { maxSubscribers: options.maxSubscribers } : {}),
      ...(options.maxIModels !== undefined ? { maxIModels: options.maxIModels } : {}),
    });
  }

  /** Opens the bus on `pool` (migrated by migratePg) and starts listening; `close()` stops. The pool stays open. */
  static async open(pool: PgPool, options: PgEventBusOptions = {}): Promise<PgEventBus> {
    await pool.query("INSERT INTO event_feed (id, epoch) VALUES (1, $1) ON CONFLICT (id) DO NOTHING", [
      randomBytes(4).toString("hex"),
    ]);
    const row = await pool.query<{ epoch: string; schema: string }>(
      "SELECT epoch, current_schema() AS schema FROM event_feed WHERE id = 1",
    );
    const { epoch, schema } = row.rows[0]!;
    // One channel per schema, so private schemas in one database never hear each other.
    const channel = `modelhub_events_${createHash("sha256").update(schema).digest("hex").slice(0, 16)}`;
    const bus = new PgEventBus(pool, epoch, channel, options);
    await bus.#listen();
    return bus;
  }

  get epoch(): string {
    return this.#local.epoch;
  }

  get maxSubscribers(): number {
    return this.#local.maxSubscribers;
  }

  get bufferSize(): number {
    return this.#local.bufferSize;
  }

  subscriberCount(): number {
    return this.#local.subscriberCount();
  }

  subscribe(
    iModelId: string,
    after: { epoch: string; seq: number } | undefined,
    listener: (event: SequencedEvent) => void,
  ): Subscription | undefined {
    return this.#local.subscribe(iModelId, after, listener);
  }

  /** Never throws nor waits (the port's rule): a failed publish is reported to `onError` and the event is lost. */
  publish(iModelId: string, event: HubEvent): void {
    if (this.#closed) return;
    const text = JSON.stringify(event);
    this.#publishing = this.#publishing
      .then(() => this.#insertAndNotify(iModelId, text))
      .catch((err: unknown) =>
        this.#onError(
          new Error(`Publishing a ${event.type} event of iModel ${iModelId} failed: ${(err as Error).message}`, {
            cause: err,
          }),
        ),
      );
  }

  /** The server process of the listening connection (pg_stat_activity.pid), while there is one. */
  get listeningBackendPid(): number | undefined {
    return this.#listener && this.#listenerPid;
  }

  /** Resolves once this node's publishes so far went out (tests, shutdown). */
  async flush(): Promise<void> {
    await this.#publishing;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#relistenTimer);
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.#receiving;
  }

  async #insertAndNotify(iModelId: string, text: string): Promise<void> {
    // The notice is built in SQL (the seq is known only there); an event that would not fit travels as its id.
    const inline = Buffer.byteLength(text) + Buffer.byteLength(iModelId) <= MAX_INLINE_NOTIFY_BYTES;
    await this.#pool.query(
      `WITH next AS (
          INSERT INTO event_seqs (imodel_id, seq) VALUES ($1, 1) ON CONFLICT (imodel_id) DO UPDATE SET seq = event_seqs.seq + 1 RETURNING seq),
        stored AS (
          INSERT INTO hub_events (imodel_id, seq, event, published_at) SELECT $1, seq, $2::text, $3 FROM next RETURNING seq),
        trimmed AS (
          DELETE FROM hub_events WHERE imodel_id = $1 AND seq <= (SELECT seq FROM next) - $4)
        SELECT pg_notify($5, CASE WHEN $6::boolean THEN json_build_object('i', $1::text, 's', seq, 'e', $2::text::json)::text
                                  ELSE json_build_object('i', $1::text, 's', seq)::text END)
          FROM stored`,
      [iModelId, text, new Date().toISOString(), this.#local.bufferSize, this.#channel, inline],
    );
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({ ...this.#pool.options, application_name: "modelhub change feed" });
    client.on("notification", (message) => {
      if (message.channel !== this.#channel || message.payload === undefined) return;
      const notice = JSON.parse(message.payload) as Notice;
      this.#receiving = this.#receiving
        .then(() => this.#receive(notice))
        .catch((err: unknown) => this.#onError(err as Error));
    });
    client.on("error", (err) => {
      this.#onError(new Error(`The change feed's listening connection failed: ${err.message}`, { cause: err }));
      this.#relisten(client);
    });
    client.on("end", () => this.#relisten(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.#channel}`);
      this.#listenerPid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.#listener = client;
  }

  /** After the listening connection was lost: listen again; the next event of each iModel reads what was missed. */
  #relisten(lost: pg.Client): void {
    if (this.#closed || this.#listener !== lost) return;
    this.#listener = undefined;
    lost.end().catch(() => undefined);
    const attempt = () => {
      this.#relistenTimer = undefined;
      if (this.#closed) return;
      this.#listen().catch((err: unknown) => {
        this.#onError(err as Error);
        this.#relistenTimer = setTimeout(attempt, RELISTEN_DELAY_MS);
      });
    };
    this.#relistenTimer = setTimeout(attempt, RELISTEN_DELAY_MS);
  }

  async #receive(notice: Notice): Promise<void> {
    const tip = this.#local.tipOf(notice.i);
    if (notice.s <= tip) return;
    // Known iModel with a hole before this event, or an event that did not fit: read them from hub_events. An iModel
    // first heard of now starts at this event.
    if (notice.e === undefined || (tip > 0 && notice.s > tip + 1)) {
      const from = tip > 0 ? tip : notice.s - 1;
      const rows = await this.#pool.query<{ seq: number; event: string }>(
        "SELECT seq, event FROM hub_events WHERE imodel_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
        [notice.i, from, notice.s],
      );
      for (const row of rows.rows)
        this.#local.deliver(notice.i, { seq: row.seq, event: JSON.parse(row.event) as HubEvent });
      return;
    }
    this.#local.deliver(notice.i, { seq: notice.s, event: notice.e });
  }
}
