// Webhooks in the web UI (issue 21; docs/events.md "Webhooks"), for those who may manage them: an iTwin's webhooks on
// its page (its managers: ITwinGates.tsx decides), the hub's Account-scope webhooks on the admin pages
// (administrators). Listed with their callback, event types and state; created (a generated secret shown once),
// activated or deactivated, deleted; each one's delivery log (WebhookDeliveries.tsx). Through `@modelhub/client`'s
// `Webhooks`, so errors read as everywhere else.
import type { ModelHubClient, Webhook } from "@modelhub/client";
import { MODELHUB_EVENT_TYPES, WEBHOOK_EVENT_TYPES, Webhooks } from "@modelhub/client";
import { Alert, Badge, Button, Checkbox, LabeledInput, ProgressRadial, Text } from "@itwin/itwinui-react";
import type { ReactNode } from "react";
import { useMemo, useState } from "react";
import type { AdminProps } from "./admin-common.js";
import { toggled, useActionOutcome } from "./admin-common.js";
import { formatDate } from "./format.js";
import { useLoaded } from "./hooks.js";
import { WebhookDeliveries } from "./WebhookDeliveries.js";

/** Webhooks listed at most (a hub with more shows the first ones; the API and CLI page through all). */
const MAX_LISTED = 500;

/** What a new webhook subscribes to unless changed: the iModel events a CI or a chat notification wants. */
const DEFAULT_EVENTS: readonly string[] = [
  "iModels.iModelCreated.v1",
  "iModels.changesetPushed.v1",
  "iModels.namedVersionCreated.v1",
];

type Scope = { scope: "iTwin"; scopeId: string } | { scope: "Account" };

/** An iTwin's webhooks, for its managers (the caller checked `imodels_manage`). */
export function ITwinWebhooks({
  client,
  iTwinId,
  onUnauthorized,
}: {
  client: ModelHubClient;
  iTwinId: string;
  onUnauthorized: () => void;
}) {
  return (
    <WebhooksOf client={client} scope={{ scope: "iTwin", scopeId: iTwinId }} onUnauthorized={onUnauthorized}>
      URLs the hub POSTs this iTwin&apos;s events to, signed with the webhook&apos;s secret (the iTwin Platform&apos;s
      Webhooks API v2).
    </WebhooksOf>
  );
}

/** The hub's Account-scope webhooks (every event of every iTwin), for administrators. */
export function AccountWebhooksSection({ client, onUnauthorized }: AdminProps) {
  return (
    <WebhooksOf client={client} scope={{ scope: "Account" }} onUnauthorized={onUnauthorized}>
      Account webhooks receive the events of every iTwin of the hub. An iTwin&apos;s own webhooks are on its page.
    </WebhooksOf>
  );
}

function WebhooksOf({
  client,
  scope,
  onUnauthorized,
  children,
}: {
  client: ModelHubClient;
  scope: Scope;
  onUnauthorized: () => void;
  children: ReactNode;
}) {
  const api = useMemo(() => new Webhooks(client), [client]);
  const [revision, setRevision] = useState(0);
  const [created, setCreated] = useState<Webhook>();
  const [open, setOpen] = useState<string>();
  const { act, alert } = useActionOutcome(() => setRevision((n) => n + 1));
  const scopeId = scope.scope === "iTwin" ? scope.scopeId : undefined;
  const hooks = useLoaded(
    async () => {
      const list: Webhook[] = [];
      for await (const w of api.list({ pageSize: 100 })) {
        if (w.scope === scope.scope && (scopeId === undefined || w.scopeId === scopeId)) list.push(w);
        if (list.length >= MAX_LISTED) break;
      }
      return list;
    },
    [api, scope.scope, scopeId, revision],
    onUnauthorized,
  );

  return (
    <section className="mh-stack" aria-labelledby="webhooks-heading">
      <Text variant="subheading" as="h2" id="webhooks-heading">
        Webhooks
      </Text>
      <Text className="mh-muted">{children}</Text>
      {alert("webhooks-outcome")}
      {created?.secret && (
        <Alert type="informational" onClose={() => setCreated(undefined)} data-testid="webhook-secret">
          The secret of the webhook to {created.callbackUrl}, shown only now:{" "}
          <span className="mh-mono">{created.secret}</span>. Give it to the receiver, which checks each delivery&apos;s
          Signature header with it.
        </Alert>
      )}
      {hooks.error && !hooks.data ? (
        <Alert type="negative">{hooks.error}</Alert>
      ) : !hooks.data ? (
        <ProgressRadial indeterminate aria-label="Loading webhooks" />
      ) : hooks.data.length === 0 ? (
        <Text className="mh-muted" data-testid="no-webhooks">
          No webhooks: no event is sent anywhere.
        </Text>
      ) : (
        <div className="mh-table-wrap">
          <table className="mh-table mh-cards-narrow" aria-label="Webhooks" data-testid="webhooks">
            <thead>
              <tr>
                <th scope="col">Callback URL</th>
                <th scope="col">Events</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {hooks.data.map((w) => (
                <tr key={w.id} data-webhook={w.id} data-callback={w.callbackUrl}>
                  <td data-label="Callback URL" className="mh-mono">
                    {w.callbackUrl}
                  </td>
                  <td data-label="Events">{w.eventTypes.join(", ")}</td>
                  <td data-label="State">
                    <Badge backgroundColor={w.active ? "positive" : "neutral"}>
                      {w.active ? "active" : "inactive"}
                    </Badge>{" "}
                    <span className="mh-muted">until {formatDate(w.expirationDateTime)}</span>
                  </td>
                  <td data-label="Actions">
                    <span className="mh-row">
                      <Button
                        size="small"
                        aria-expanded={open === w.id}
                        onClick={() => setOpen(open === w.id ? undefined : w.id)}
                      >
                        {open === w.id ? "Hide deliveries" : "Deliveries"}
                      </Button>
                      <Button
                        size="small"
                        onClick={() =>
                          void act(
                            w.active
                              ? `Deactivated the webhook to ${w.callbackUrl}: no new event is queued for it.`
                              : `Activated the webhook to ${w.callbackUrl}.`,
                            `The webhook to ${w.callbackUrl} was not changed`,
                            () => api.update(w.id, { active: !w.active }),
                          )
                        }
                      >
                        {w.active ? "Deactivate" : "Activate"}
                      </Button>
                      <Button
                        size="small"
                        onClick={() =>
                          void act(
                            `Deleted the webhook to ${w.callbackUrl} and its delivery log.`,
                            `The webhook to ${w.callbackUrl} was not deleted`,
                            () => api.delete(w.id),
                          )
                        }
                      >
                        Delete
                      </Button>
                    </span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {open && hooks.data?.some((w) => w.id === open) && (
        <WebhookDeliveries
          key={open}
          api={api}
          webhook={hooks.data.find((w) => w.id === open)!}
          onUnauthorized={onUnauthorized}
        />
      )}
      <NewWebhookForm
        onCreate={(callbackUrl, eventTypes, secret) =>
          act(`Created the webhook to ${callbackUrl}.`, "The webhook was not created", async () =>
            setCreated(
              await api.create({
                callbackUrl,
                eventTypes,
                ...(scope.scope === "iTwin"
                  ? { scope: "iTwin" as const, scopeId: scope.scopeId }
                  : { scope: "Account" as const }),
                ...(secret ? { secret } : {}),
              }),
            ),
          )
        }
      />
    </section>
  );
}

function NewWebhookForm({
  onCreate,
}: {
  onCreate: (callbackUrl: string, eventTypes: string[], secret: string) => Promise<boolean>;
}) {
  const [url, setUrl] = useState("");
  const [secret, setSecret] = useState("");
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set(DEFAULT_EVENTS));
  return (
    <form
      className="mh-stack"
      aria-label="Create a webhook"
      onSubmit={(e) => {
        e.preventDefault();
        if (!url.trim()) return;
        const eventTypes = WEBHOOK_EVENT_TYPES.filter((t) => chosen.has(t));
        void onCreate(url.trim(), eventTypes, secret.trim()).then((ok) => {
          if (!ok) return;
          setUrl("");
          setSecret("");
        });
      }}
    >
      <div className="mh-row">
        <LabeledInput
          className="mh-grow"
          wrapperProps={{ className: "mh-grow" }}
          label="Callback URL"
          type="url"
          value={url}
          onChange={(e) => setUrl(e.target.value)}
          required
        />
        <LabeledInput
          label="Secret (optional, at least 32 characters)"
          type="password"
          autoComplete="off"
          value={secret}
          onChange={(e) => setSecret(e.target.value)}
        />
        <Button type="submit" styleType="high-visibility">
          Create webhook
        </Button>
      </div>
      <fieldset className="mh-row mh-permissions">
        <legend>Its events (those marked modelhub only have no counterpart in the cloud)</legend>
        {WEBHOOK_EVENT_TYPES.map((t) => (
          <Checkbox
            key={t}
            label={MODELHUB_EVENT_TYPES.includes(t) ? `${t} (modelhub only)` : t}
            checked={chosen.has(t)}
            onChange={(e) => setChosen(toggled(chosen, t, e.target.checked))}
          />
        ))}
      </fieldset>
    </form>
  );
}
