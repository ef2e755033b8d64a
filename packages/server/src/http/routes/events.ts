import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type { EventFeed, SequencedEvent } from "../../ports/event-bus.js";
import { HubError } from "../../domain/errors.js";
import type { Hub } from "../../domain/hub.js";
import { DEFAULTS } from "../../config.js";
import { WEBVIEW, iModel } from "../authz/rules.js";
import { query } from "../schemas.js";

export interface EventRouteOptions {
  hub: Hub;
  feed: EventFeed;
  /** Comment lines this often keep proxies and clients from timing the stream out (default 15 s). */
  heartbeatMs?: number;
  /** Asked every `accessRecheckMs` (default 2 s) whether the caller may still read the stream; `false` ends it. */
  stillAllowed?: (request: FastifyRequest) => Promise<boolean>;
  accessRecheckMs?: number;
  /** Streams one user may hold open at once in this process (default `--max-streams-per-user`'s, see config.ts). */
  maxStreamsPerUser?: number;
}

/** A subscriber that lets this much pile up unread is cut off (it reconnects with Last-Event-ID, or gets `reset`). */
const MAX_UNREAD_BYTES = 1024 * 1024;
/** What EventSource waits before reconnecting after the stream ended. */
const RETRY_MS = 5000;
/** Subscribers past the limit are told to come back after this. */
const BUSY_RETRY_AFTER_SECONDS = 5;

/**
 * `GET /imodels/{id}/events`: the iModel's change feed as server-sent events (see HubEvent). This only formats:
 * what happened, its order and the replay buffer are the event bus's (domain/events).
 */
export const eventRoutes: FastifyPluginAsync<EventRouteOptions> = async (api, options) => {
  const { hub, feed } = options;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxPerUser = options.maxStreamsPerUser ?? DEFAULTS.maxStreamsPerUser;
  const open = new Set<() => void>();
  /** Open streams per user (only users with at least one). */
  const perUser = new Map<string, number>();
  // Streams never end by themselves: without this, closing the app would wait for every subscriber to leave.
  api.addHook("preClose", async () => {
    for (const end of [...open]) end();
  });

  // The change feed tells what the webview routes show (pushes, versions, lock counts, checkpoints).
  api.get<{ Params: { id: string } }>(
    "/:id/events",
    {
      schema: {
        querystring: query({ lastEventId: "Resume after this event (as the Last-Event-ID header)" }),
        headers: query({ accept: "Must include text/event-stream", "last-event-id": "Resume after this event" }),
        response: {
          200: {
            description: "Server-sent events: changeset, namedVersion, locks, checkpoint, briefcase, reset",
            content: { "text/event-stream": { schema: { type: "string" } } },
          },
        },
      },
      config: { summary: "Follow an iModel's change feed (server-sent events; modelhub)", authz: iModel(WEBVIEW) },
    },
    async (request, reply) => {
      // Only clients that ask for a stream get one: a JSON client (or `*/*`) would otherwise wait forever for a body.
      if (!/\btext\/event-stream\b/i.test(request.headers.accept ?? "")) {
        throw new HubError("BadRequest", "This route answers server-sent events: send 'Accept: text/event-stream'.");
      }
      const iModelId = request.params.id;
      await hub.iModels.get(iModelId); // iModelNotFound as a normal API error, before the stream starts
      // HEAD (fastify adds it for GET): the headers of a stream, without one that would never end.
      if (request.method === "HEAD")
        return reply
          .header("content-type", "text/event-stream; charset=utf-8")
          .header("cache-control", "no-cache")
          .send();
      const lastEventId = request.headers["last-event-id"] ?? request.params_.lastEventId;
      const after = parseEventId(typeof lastEventId === "string" ? lastEventId : undefined, feed.epoch);
      const user = request.actor.userId;
      if ((perUser.get(user) ?? 0) >= maxPerUser) {
        throw new HubError(
          "TooManyRequests",
          `You already follow ${maxPerUser} change feeds on this hub (--max-streams-per-user); close one or retry later.`,
          {
            retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS,
          },
        );
      }
      const res = reply.raw;
      const queue: string[] = [];
      let ready = false;
      const write = (text: string) => {
        if (!ready) return void queue.push(text);
        if (res.writableLength > MAX_UNREAD_BYTES) return end();
        res.write(text);
      };
      const subscription = feed.subscribe(iModelId, after, (e) => write(formatEvent(feed.epoch, e)));
      if (!subscription) {
        throw new HubError(
          "ServiceUnavailable",
          `The hub already serves ${feed.maxSubscribers} event streams; retry later.`,
          { retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS },
        );
      }
      perUser.set(user, (perUser.get(user) ?? 0) + 1);
      let ended = false;
      const heartbeat = setInterval(() => write(": heartbeat\n\n"), heartbeatMs);
      heartbeat.unref();
      // Access can end while the stream is open (token revoked or expired, role taken away, iModel deleted).
      const { stillAllowed } = options;
      const recheck =
        stillAllowed &&
        setInterval(() => void stillAllowed(request).then((ok) => ok || end()), options.accessRecheckMs ?? 2000);
      if (recheck) recheck.unref();
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        if (recheck) clearInterval(recheck);
        subscription.close();
        const left = (perUser.get(user) ?? 1) - 1;
        if (left > 0) perUser.set(user, left);
        else perUser.delete(user);
        open.delete(end);
        if (!res.writableEnded) res.end();
      };
      open.add(end);
      // Whoever leaves first (client, network, server), the subscription and the timer go with the connection.
      request.raw.socket.once("close", end);
      res.once("close", end);
      res.once("error", end);

      reply.hijack();
      res.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        "x-accel-buffering": "no", // nginx: pass events on at once
        connection: "keep-alive",
      });
      res.write(`retry: ${RETRY_MS}\n\n`);
      const missed = subscription.missed;
      if ("reason" in missed) {
        res.write(
          `id: ${feed.epoch}-${subscription.tip}\nevent: reset\ndata: ${JSON.stringify({ reason: missed.reason })}\n\n`,
        );
      } else {
        for (const e of missed) res.write(formatEvent(feed.epoch, e));
      }
      ready = true;
      for (const text of queue.splice(0)) write(text);
    },
  );
};

function formatEvent(epoch: string, { seq, event }: SequencedEvent): string {
  return `id: ${epoch}-${seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

/** `<epoch>-<seq>` as this feed writes it; anything else is an id of unknown origin (the client gets `reset`). */
function parseEventId(text: string | undefined, currentEpoch: string): { epoch: string; seq: number } | undefined {
  if (text === undefined || text === "") return undefined;
  const match = /^([0-9a-f]+)-(\d{1,15})$/.exec(text.trim());
  if (!match) return { epoch: `not ${currentEpoch}`, seq: 0 };
  return { epoch: match[1]!, seq: Number(match[2]) };
}
