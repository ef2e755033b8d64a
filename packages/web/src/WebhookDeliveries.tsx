// One webhook's delivery log in the web UI (issue 21; docs/events.md "Webhooks"): newest first, a page at a time as
// the API pages it, each delivery's event, status, attempts, last answer and duration, with "Redeliver" (sends it
// again now; its retries start over). Deliveries go out in the background: "Refresh" reads the log again.
import type { Webhook, WebhookDelivery, Webhooks } from "@modelhub/client";
import { Alert, Badge, Button, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useState } from "react";
import { useActionOutcome } from "./admin-common.js";
import { formatDate } from "./format.js";
import { useLoaded } from "./hooks.js";

/** Deliveries per page of the log. */
export const DELIVERY_PAGE = 10;

const STATUS_COLORS: Record<WebhookDelivery["status"], "positive" | "negative" | "informational"> = {
  delivered: "positive",
  failed: "negative",
  pending: "informational",
};

export function WebhookDeliveries({
  api,
  webhook,
  onUnauthorized,
}: {
  api: Webhooks;
  webhook: Webhook;
  onUnauthorized: () => void;
}) {
  const [skip, setSkip] = useState(0);
  const [revision, setRevision] = useState(0);
  const { act, alert } = useActionOutcome(() => setRevision((n) => n + 1));
  const log = useLoaded(
    () => api.deliveryPage(webhook.id, { top: DELIVERY_PAGE, skip }),
    [api, webhook.id, skip, revision],
    onUnauthorized,
  );

  return (
    <section className="mh-stack" aria-labelledby="deliveries-heading" data-testid="deliveries-section">
      <Text variant="leading" as="h3" id="deliveries-heading">
        Deliveries to <span className="mh-mono">{webhook.callbackUrl}</span>
      </Text>
      {alert("deliveries-outcome")}
      <div className="mh-row">
        <Button size="small" onClick={() => setRevision((n) => n + 1)}>
          Refresh
        </Button>
        <Button size="small" disabled={skip === 0} onClick={() => setSkip(Math.max(0, skip - DELIVERY_PAGE))}>
          Newer
        </Button>
        <Button size="small" disabled={!log.data?.hasMore} onClick={() => setSkip(skip + DELIVERY_PAGE)}>
          Older
        </Button>
        {log.data && log.data.deliveries.length > 0 && (
          <Text className="mh-muted" data-testid="deliveries-range">
            {skip + 1}–{skip + log.data.deliveries.length}
          </Text>
        )}
      </div>
      {log.error && <Alert type="negative">{log.error}</Alert>}
      {!log.data ? (
        !log.error && <ProgressRadial indeterminate aria-label="Loading deliveries" />
      ) : log.data.deliveries.length === 0 ? (
        <Text className="mh-muted" data-testid="no-deliveries">
          Nothing was sent to this webhook yet.
        </Text>
      ) : (
        <div className="mh-table-wrap">
          <table className="mh-table mh-cards-narrow" aria-label="Deliveries" data-testid="deliveries">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Queued</th>
                <th scope="col">Status</th>
                <th scope="col" className="mh-num">
                  Attempts
                </th>
                <th scope="col">Last answer</th>
                <th scope="col" className="mh-num">
                  Duration
                </th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {log.data.deliveries.map((d) => (
                <tr key={d.id} data-delivery={d.id} data-status={d.status}>
                  <td data-label="Event">{d.eventType}</td>
                  <td data-label="Queued">{formatDate(d.enqueuedDateTime)}</td>
                  <td data-label="Status">
                    <Badge backgroundColor={STATUS_COLORS[d.status]}>{d.status}</Badge>
                    {d.status === "pending" && d.nextAttemptDateTime && d.attempts > 0 && (
                      <span className="mh-muted"> next {formatDate(d.nextAttemptDateTime)}</span>
                    )}
                  </td>
                  <td data-label="Attempts" className="mh-num">
                    {d.attempts}
                  </td>
                  <td data-label="Last answer" data-testid="last-answer">
                    {d.lastStatus === null && d.lastAnswer === null ? (
                      <span className="mh-muted">—</span>
                    ) : (
                      <>
                        {d.lastStatus !== null && d.lastStatus > 0 ? `HTTP ${d.lastStatus}` : "no answer"}
                        {d.lastAnswer ? <span className="mh-mono"> {d.lastAnswer.slice(0, 200)}</span> : null}
                      </>
                    )}
                  </td>
                  <td data-label="Duration" className="mh-num">
                    {d.durationMs === null ? "—" : `${Math.round(d.durationMs)} ms`}
                  </td>
                  <td data-label="Actions">
                    <Button
                      size="small"
                      onClick={() =>
                        void act(`Sending the ${d.eventType} delivery again.`, "The delivery was not sent again", () =>
                          api.redeliver(webhook.id, d.id),
                        )
                      }
                    >
                      Redeliver
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
