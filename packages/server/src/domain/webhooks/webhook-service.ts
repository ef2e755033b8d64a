import { randomBytes } from "node:crypto";
import { WEBHOOK_EVENT_TYPES } from "@modelhub/protocol";
import type { Callout } from "../../ports/callout.js";
import type {
  DeliveryRecord,
  WebhookChange,
  WebhookRecord,
  WebhookScope,
  WebhookStore,
} from "../../ports/webhook-store.js";
import type { AccessService } from "../access/access-service.js";
import type { Actor, Clock } from "../context.js";
import { HubError, insufficientPermissions, invalidValue } from "../errors.js";

export interface WebhookInput {
  callbackUrl: string;
  scope: WebhookScope;
  scopeId?: string;
  eventTypes: string[];
  /** ≥ 32 characters; omitted: one is generated (and shown once, in the answer). */
  secret?: string;
  expirationDateTime?: string;
  /** modelhub's default: true (the cloud's: false, until the callback is validated; see docs/events.md). */
  active?: boolean;
}

export type WebhookUpdate = Partial<
  Pick<WebhookInput, "callbackUrl" | "eventTypes" | "secret" | "expirationDateTime" | "active">
>;

export const MIN_WEBHOOK_SECRET_CHARS = 32;
/** The cloud's default lifetime of a webhook. */
export const DEFAULT_WEBHOOK_DAYS = 30;
const DAY_MS = 86_400_000;
/** Webhooks read at once to filter what a caller may see (a hub has few; more is a configuration problem). */
const MAX_LISTED = 10_000;

/**
 * Webhooks (issue 21, the Webhooks API v2 of the iTwin Platform): who may register which, and their validation.
 * - An iTwin-scoped webhook is an iTwin manager's (`imodels_manage` on the iTwin); an Account one (every event of the
 *   hub) an administrator's (`--admin`; in open mode everyone is). Anyone else: 403 InsufficientPermissions (the
 *   webhook's id is random: its existence tells nothing), and lists leave them out.
 * - The callback URL must pass the callout's policy when registered (the same is checked again, DNS included, at
 *   every delivery): `https:`, or `http:` to an allow-listed host; never a private address.
 * - Created active unless `active: false`: the cloud starts webhooks inactive until their callback is validated, a
 *   step modelhub does not have (the URL is the registering manager's own choice, and the allow-list bounds it).
 * Deliveries are queued by the changes themselves (MetadataTx.queueWebhookEvent) and sent by the deliverer.
 */
export class WebhookService {
  constructor(
    private readonly store: WebhookStore,
    private readonly access: AccessService,
    private readonly callout: Callout,
    private readonly clock: Clock,
  ) {}

  async create(actor: Actor, input: WebhookInput): Promise<WebhookRecord> {
    const operation = "Cannot create Webhook.";
    const scopeId = await this.#mayUseScope(actor, input.scope, input.scopeId, operation);
    const now = this.clock.now();
    return this.store.create({
      scope: input.scope,
      scopeId,
      callbackUrl: this.#checkedUrl(input.callbackUrl, operation),
      eventTypes: checkedEventTypes(input.eventTypes, operation),
      secret: input.secret === undefined ? randomBytes(32).toString("hex") : checkedSecret(input.secret, operation),
      expirationDateTime: checkedExpiration(
        input.expirationDateTime ?? new Date(now.getTime() + DEFAULT_WEBHOOK_DAYS * DAY_MS).toISOString(),
        now,
        operation,
      ),
      active: input.active ?? true,
      createdBy: actor.userId,
      createdDateTime: now.toISOString(),
    });
  }

  /** The webhooks the caller may manage, in creation order. */
  async list(actor: Actor, page: { limit: number; offset: number }): Promise<WebhookRecord[]> {
    const all = await this.store.list({}, { limit: MAX_LISTED, offset: 0 });
    const visible: WebhookRecord[] = [];
    for (const hook of all) if (await this.#mayManage(actor, hook)) visible.push(hook);
    return visible.slice(page.offset, page.offset + page.limit);
  }

  async get(actor: Actor, id: string): Promise<WebhookRecord> {
    const hook = await this.store.get(id);
    if (!hook) throw webhookNotFound();
    if (!(await this.#mayManage(actor, hook))) throw insufficientPermissions();
    return hook;
  }

  async update(actor: Actor, id: string, input: WebhookUpdate): Promise<WebhookRecord> {
    const operation = "Cannot update Webhook.";
    await this.get(actor, id);
    const change: WebhookChange = {};
    if (input.callbackUrl !== undefined) change.callbackUrl = this.#checkedUrl(input.callbackUrl, operation);
    if (input.eventTypes !== undefined) change.eventTypes = checkedEventTypes(input.eventTypes, operation);
    if (input.secret !== undefined) change.secret = checkedSecret(input.secret, operation);
    if (input.expirationDateTime !== undefined)
      change.expirationDateTime = checkedExpiration(input.expirationDateTime, this.clock.now(), operation);
    if (input.active !== undefined) change.active = input.active;
    const hook = await this.store.update(id, change);
    if (!hook) throw webhookNotFound();
    return hook;
  }

  async delete(actor: Actor, id: string): Promise<void> {
    await this.get(actor, id);
    if (!(await this.store.delete(id))) throw webhookNotFound();
  }

  /** The webhook's delivery log, newest first. */
  async deliveries(actor: Actor, id: string, page: { limit: number; offset: number }): Promise<DeliveryRecord[]> {
    await this.get(actor, id);
    return this.store.deliveries(id, page);
  }

  /** Sends a delivery again (pending, due now), whatever became of it. */
  async redeliver(actor: Actor, id: string, deliveryId: string): Promise<DeliveryRecord> {
    await this.get(actor, id);
    const delivery = await this.store.redeliver(id, deliveryId, this.clock.now().getTime());
    if (!delivery) throw new HubError("NotFound", "Requested Webhook Delivery is not available.");
    return delivery;
  }

  async #mayUseScope(
    actor: Actor,
    scope: WebhookScope,
    scopeId: string | undefined,
    operation: string,
  ): Promise<string | null> {
    if (scope === "Account") {
      if (!(await this.#mayManage(actor, { scope, scopeId: null }))) throw insufficientPermissions();
      return null;
    }
    if (scope !== "iTwin")
      throw invalidValue(operation, "scope", "Provided 'scope' value is not valid: iTwin or Account.");
    if (!scopeId) throw invalidValue(operation, "scopeId", "Provided 'scopeId' value is not valid: an iTwin's id.");
    if (!(await this.#mayManage(actor, { scope, scopeId }))) throw insufficientPermissions();
    return scopeId;
  }

  async #mayManage(actor: Actor, hook: Pick<WebhookRecord, "scope" | "scopeId">): Promise<boolean> {
    if (hook.scope === "Account") return this.access.isUnrestricted(actor);
    const grants = await this.access.effective(actor, { iTwinId: hook.scopeId! });
    return grants.has("imodels_manage");
  }

  #checkedUrl(url: string, operation: string): string {
    const refusal = this.callout.refusalOf(url);
    if (refusal) throw invalidValue(operation, "callbackUrl", `Provided 'callbackUrl' value is not valid: ${refusal}`);
    return new URL(url).href;
  }
}

function checkedEventTypes(eventTypes: string[], operation: string): string[] {
  const known: readonly string[] = WEBHOOK_EVENT_TYPES;
  const unknown = eventTypes.filter((t) => !known.includes(t));
  if (eventTypes.length === 0 || unknown.length > 0)
    throw invalidValue(
      operation,
      "eventTypes",
      `Provided 'eventTypes' value is not valid: ${unknown.length ? `unknown ${unknown.join(", ")}; ` : ""}one or more of ${known.join(", ")}.`,
    );
  return [...new Set(eventTypes)];
}

function checkedSecret(secret: string, operation: string): string {
  if (secret.length < MIN_WEBHOOK_SECRET_CHARS)
    throw invalidValue(
      operation,
      "secret",
      `Provided 'secret' value is not valid: a secret has at least ${MIN_WEBHOOK_SECRET_CHARS} characters.`,
    );
  return secret;
}

function checkedExpiration(value: string, now: Date, operation: string): string {
  const at = Date.parse(value);
  if (Number.isNaN(at) || at <= now.getTime())
    throw invalidValue(
      operation,
      "expirationDateTime",
      "Provided 'expirationDateTime' value is not valid: a date and time (ISO 8601) in the future.",
    );
  return new Date(at).toISOString();
}

function webhookNotFound(): HubError {
  return new HubError("NotFound", "Requested Webhook is not available.");
}
