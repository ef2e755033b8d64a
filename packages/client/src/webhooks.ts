import type { PagingLinks, Webhook, WebhookDelivery } from "@modelhub/protocol";
import type { ModelHubClient } from "./client.js";
import { pageSize, query } from "./client-base.js";

export { MODELHUB_EVENT_TYPES, WEBHOOK_EVENT_TYPES } from "@modelhub/protocol";

/** What `POST /webhooks` takes (the Webhooks API v2's fields). */
export interface CreateWebhookInput {
  callbackUrl: string;
  scope: "iTwin" | "Account";
  /** The iTwin's id (scope iTwin). */
  scopeId?: string;
  eventTypes: string[];
  /** At least 32 characters; omitted: the hub generates one and answers it once. */
  secret?: string;
  expirationDateTime?: string;
  /** modelhub's default: true. */
  active?: boolean;
}

export type UpdateWebhookInput = Partial<
  Pick<CreateWebhookInput, "callbackUrl" | "eventTypes" | "secret" | "expirationDateTime" | "active">
>;

/**
 * The hub's webhooks (`/webhooks`, issue 21: the Webhooks API v2 plus modelhub's delivery log), through a client's
 * transport, authorization and retry policy: `new Webhooks(client).create(…)`.
 */
export class Webhooks {
  constructor(private readonly client: ModelHubClient) {}

  private get base(): string {
    return `${this.client.root}/webhooks`;
  }

  private path(webhookId: string): string {
    return `${this.base}/${encodeURIComponent(webhookId)}`;
  }

  /** A new webhook; its `secret` is in this answer only. */
  async create(input: CreateWebhookInput): Promise<Webhook> {
    return (await this.client.request<{ webhook: Webhook }>("POST", this.base, input, [201])).webhook;
  }

  /** The webhooks the caller manages, all pages. */
  list(options: { pageSize?: number } = {}): AsyncGenerator<Webhook> {
    return this.client.paged<Webhook>(`${this.base}?${query({ $top: pageSize(options.pageSize) })}`, "webhooks");
  }

  async get(webhookId: string): Promise<Webhook> {
    return (await this.client.request<{ webhook: Webhook }>("GET", this.path(webhookId))).webhook;
  }

  async update(webhookId: string, input: UpdateWebhookInput): Promise<Webhook> {
    return (await this.client.request<{ webhook: Webhook }>("PATCH", this.path(webhookId), input)).webhook;
  }

  /** Deletes the webhook and its delivery log. */
  async delete(webhookId: string): Promise<void> {
    await this.client.request<unknown>("DELETE", this.path(webhookId), undefined, [204]);
  }

  /** The delivery log, newest first, all pages (stop iterating to stop asking). */
  deliveries(webhookId: string, options: { pageSize?: number } = {}): AsyncGenerator<WebhookDelivery> {
    return this.client.paged<WebhookDelivery>(
      `${this.path(webhookId)}/deliveries?${query({ $top: pageSize(options.pageSize) })}`,
      "deliveries",
    );
  }

  /**
   * One page of the delivery log, newest first, as the API pages it (`$top`, `$skip`), and whether an older page
   * exists (the answer links a next page): for a UI that shows one page at a time.
   */
  async deliveryPage(
    webhookId: string,
    page: { top: number; skip: number },
  ): Promise<{ deliveries: WebhookDelivery[]; hasMore: boolean }> {
    const answer = await this.client.request<{ deliveries: WebhookDelivery[]; _links?: PagingLinks }>(
      "GET",
      `${this.path(webhookId)}/deliveries?${query({ $top: pageSize(page.top), $skip: Math.max(0, Math.floor(page.skip)) })}`,
    );
    return { deliveries: answer.deliveries, hasMore: Boolean(answer._links?.next?.href) };
  }

  /** Sends a delivery again (pending, due now). */
  async redeliver(webhookId: string, deliveryId: string): Promise<WebhookDelivery> {
    return (
      await this.client.request<{ delivery: WebhookDelivery }>(
        "POST",
        `${this.path(webhookId)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`,
      )
    ).delivery;
  }
}
