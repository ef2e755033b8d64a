import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Webhook, WebhookDelivery } from "@modelhub/protocol";
import type { WebhookService } from "../../domain/webhooks/webhook-service.js";
import type { DeliveryRecord, WebhookRecord } from "../../ports/webhook-store.js";
import { authenticated } from "../authz/rules.js";
import { offsetPagingLinks, readPage } from "../paging.js";
import type { Query } from "../query.js";
import { parsePage } from "../query.js";
import { objectAt } from "../route-config.js";
import { parseBody } from "../validation.js";
import { PAGING, WEBHOOK, WEBHOOK_DELIVERY, bodyOf, one, page, query } from "../schemas.js";

const url = z.string().max(2048, { error: "The value exceeds allowed 2048 characters." });
const eventTypes = z.array(z.string().max(128)).max(64);
const secret = z.string().max(1024);
const createBody = z.object({
  callbackUrl: url,
  scope: z.enum(["iTwin", "Account"]),
  scopeId: z.string().max(128).optional(),
  eventTypes,
  secret: secret.optional(),
  expirationDateTime: z.string().max(64).optional(),
  active: z.boolean().optional(),
});
const updateBody = z
  .object({
    callbackUrl: url,
    eventTypes,
    secret,
    expirationDateTime: z.string().max(64),
    active: z.boolean(),
  })
  .partial()
  .refine((b) => Object.keys(b).length > 0, { error: "At least one property of the Webhook must be provided." });

/** A webhook as the API shows it; the secret only when `withSecret` (the answer to its creation). */
export function presentWebhook(r: WebhookRecord, withSecret = false): Webhook {
  return {
    id: r.id,
    scope: r.scope,
    ...(r.scopeId !== null ? { scopeId: r.scopeId } : {}),
    callbackUrl: r.callbackUrl,
    eventTypes: r.eventTypes,
    expirationDateTime: r.expirationDateTime,
    active: r.active,
    createdBy: r.createdBy,
    createdDateTime: r.createdDateTime,
    ...(withSecret ? { secret: r.secret } : {}),
  };
}

export function presentDelivery(d: DeliveryRecord): WebhookDelivery {
  return {
    id: d.id,
    eventType: d.eventType,
    status: d.state,
    attempts: d.attempts,
    enqueuedDateTime: new Date(d.enqueuedMs).toISOString(),
    nextAttemptDateTime: d.state === "pending" ? new Date(d.nextAttemptMs).toISOString() : null,
    lastAttemptDateTime: d.lastAttemptAt,
    lastStatus: d.lastStatus,
    lastAnswer: d.lastAnswer,
    durationMs: d.durationMs,
    envelope: JSON.parse(d.envelope) as Record<string, unknown>,
  };
}

const WHO = "iTwin managers (imodels_manage) for an iTwin's webhooks, administrators for Account ones (WebhookService)";

/**
 * The Webhooks API v2 of the iTwin Platform (`/webhooks`, issue 21): create, list, get, update, delete; plus
 * modelhub's delivery log and redelivery. Who may see and change a webhook is the domain's decision (WHO above);
 * anyone else gets 403 (a list leaves the webhook out).
 */
export const webhookRoutes: FastifyPluginAsync<{ webhooks: WebhookService; publicUrl: string | undefined }> = async (
  api,
  { webhooks, publicUrl },
) => {
  const base = (request: FastifyRequest) =>
    `${publicUrl ? publicUrl.replace(/\/+$/, "") : `${request.protocol}://${request.host}`}/webhooks`;

  api.post(
    "/",
    {
      schema: { body: bodyOf(createBody), response: { 201: one("webhook", WEBHOOK) } },
      config: {
        summary: "Create a webhook (its secret is in this answer only)",
        authz: authenticated(WHO),
        audit: { action: "webhook.create", target: (_p, _b, answer) => objectAt(answer, "webhook").id },
      },
    },
    async (request, reply) => {
      const body = parseBody(createBody, request.body, "Cannot create Webhook.");
      const record = await webhooks.create(request.actor, {
        callbackUrl: body.callbackUrl,
        scope: body.scope,
        eventTypes: body.eventTypes,
        ...(body.scopeId !== undefined ? { scopeId: body.scopeId } : {}),
        ...(body.secret !== undefined ? { secret: body.secret } : {}),
        ...(body.expirationDateTime !== undefined ? { expirationDateTime: body.expirationDateTime } : {}),
        ...(body.active !== undefined ? { active: body.active } : {}),
      });
      return reply.code(201).send({ webhook: presentWebhook(record, true) });
    },
  );

  api.get(
    "/",
    {
      schema: { querystring: query({ ...PAGING }), response: { 200: page("webhooks", WEBHOOK) } },
      config: { summary: "List the webhooks the caller manages", authz: authenticated(WHO) },
    },
    async (request) => {
      const q = request.query as Query;
      const p = parsePage(q, "Cannot get Webhooks.");
      const { rows, hasMore } = await readPage(p, (pp) => webhooks.list(request.actor, pp));
      return { webhooks: rows.map((r) => presentWebhook(r)), _links: offsetPagingLinks(base(request), q, p, hasMore) };
    },
  );

  api.get<{ Params: { webhookId: string } }>(
    "/:webhookId",
    {
      schema: { response: { 200: one("webhook", WEBHOOK) } },
      config: { summary: "Get a webhook", authz: authenticated(WHO) },
    },
    async (request) => ({ webhook: presentWebhook(await webhooks.get(request.actor, request.params.webhookId)) }),
  );

  api.patch<{ Params: { webhookId: string } }>(
    "/:webhookId",
    {
      schema: { body: bodyOf(updateBody), response: { 200: one("webhook", WEBHOOK) } },
      config: {
        summary: "Update a webhook (callbackUrl, eventTypes, secret, expirationDateTime, active)",
        authz: authenticated(WHO),
        audit: { action: "webhook.update", target: (params) => params.webhookId },
      },
    },
    async (request) => {
      const body = parseBody(updateBody, request.body, "Cannot update Webhook.");
      const record = await webhooks.update(request.actor, request.params.webhookId, body);
      return { webhook: presentWebhook(record) };
    },
  );

  api.delete<{ Params: { webhookId: string } }>(
    "/:webhookId",
    {
      schema: { response: { 204: { type: "null" } } },
      config: {
        summary: "Delete a webhook and its delivery log",
        authz: authenticated(WHO),
        audit: { action: "webhook.delete", target: (params) => params.webhookId },
      },
    },
    async (request, reply) => {
      await webhooks.delete(request.actor, request.params.webhookId);
      return reply.code(204).send();
    },
  );

  api.get<{ Params: { webhookId: string } }>(
    "/:webhookId/deliveries",
    {
      schema: { querystring: query({ ...PAGING }), response: { 200: page("deliveries", WEBHOOK_DELIVERY) } },
      config: { summary: "A webhook's delivery log, newest first (modelhub)", authz: authenticated(WHO) },
    },
    async (request) => {
      const q = request.query as Query;
      const p = parsePage(q, "Cannot get Webhook Deliveries.");
      const { rows, hasMore } = await readPage(p, (pp) =>
        webhooks.deliveries(request.actor, request.params.webhookId, pp),
      );
      return {
        deliveries: rows.map(presentDelivery),
        _links: offsetPagingLinks(`${base(request)}/${request.params.webhookId}/deliveries`, q, p, hasMore),
      };
    },
  );

  api.post<{ Params: { webhookId: string; deliveryId: string } }>(
    "/:webhookId/deliveries/:deliveryId/redeliver",
    {
      schema: { response: { 200: one("delivery", WEBHOOK_DELIVERY) } },
      config: {
        summary: "Send a delivery again (modelhub)",
        authz: authenticated(WHO),
        audit: { action: "webhook.redeliver", target: (params) => `${params.webhookId}/${params.deliveryId}` },
      },
    },
    async (request) => {
      const delivery = await webhooks.redeliver(request.actor, request.params.webhookId, request.params.deliveryId);
      return { delivery: presentDelivery(delivery) };
    },
  );
};
